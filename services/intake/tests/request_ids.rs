//! Request ids (AIP-155) under concurrency: retries of one request racing each other all hear the
//! first answer, and the change is made once.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;

backend_tests!(
    concurrent_retries_of_one_request_all_get_the_first_answer,
    a_retry_of_a_case_given_no_received_at_gets_the_first_answer
);

/// A case given no `received_at` is received when the service takes it; a retry later, with the
/// same `request_id`, is the same request and gets the first answer and its first moment (a
/// client that filled in its own clock's time would send another request on every retry).
async fn a_retry_of_a_case_given_no_received_at_gets_the_first_answer(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut case = complaint("2019-07-01T09:00:00+08:00", Cat::Student);
    case.received_at = None;
    let request = pb::CreateCaseRequest { case: Some(case), request_id: "no-time-given".into() };
    let before = time::OffsetDateTime::now_utc();
    let first = client.create_case(request.clone()).await.expect("taken").into_inner();
    let received = first.received_at.expect("a received_at");
    let received = time::OffsetDateTime::from_unix_timestamp(received.seconds).expect("a time");
    assert!(
        received >= before - time::Duration::seconds(1) && received <= time::OffsetDateTime::now_utc(),
        "{received}"
    );
    let again = client.create_case(request).await.expect("a retry is answered").into_inner();
    assert_eq!(again, first, "the retry hears the first answer, with its first moment");
    assert_eq!(count_cases(&mut client).await, 1, "the case is recorded once");
}

async fn concurrent_retries_of_one_request_all_get_the_first_answer(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let case = complaint("2019-07-01T09:00:00+08:00", Cat::Student);
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let mut client = app.client.clone();
            let case = case.clone();
            tokio::spawn(async move {
                client
                    .create_case(pb::CreateCaseRequest { case: Some(case), request_id: "retried-create".into() })
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.expect("a call").unwrap_or_else(|s| panic!("{}: {s:?}", db.backend())));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "every retry hears the first answer");
    let mut client = app.client.clone();
    assert_eq!(count_cases(&mut client).await, 1, "the case is recorded once");

    // The same for a transition and a note racing their own retries.
    let name = answers[0].name.clone();
    let moves: Vec<_> = (0..12)
        .map(|_| {
            let mut client = app.client.clone();
            let name = name.clone();
            tokio::spawn(async move {
                client
                    .transition_case(pb::TransitionCaseRequest {
                        name,
                        to_status: pb::CaseStatus::UnderAssessment as i32,
                        request_id: "retried-move".into(),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    let mut moved = Vec::new();
    for m in moves {
        moved.push(m.await.expect("a call").unwrap_or_else(|s| panic!("{}: {s:?}", db.backend())));
    }
    assert!(moved.iter().all(|m| m == &moved[0]));
    let events = client
        .list_case_events(pb::ListCaseEventsRequest { name, ..Default::default() })
        .await
        .expect("events")
        .into_inner()
        .events;
    assert_eq!(events.len(), 2, "created, then moved once: {events:?}");
    app.stop().await;
}
