//! The case status machine through gRPC: every allowed move, every refused one, and the rules of
//! business time.

mod common;

use common::*;
use doxwatch_kit::{identity::Identity, testing::TestDatabase};
use doxwatch_proto::intake as pb;
use pb::{CaseStatus as S, ClosureReason as R, DataSubjectCategory as Cat};
use tonic::{Code, Request};

backend_tests!(
    complaints_move_through_assessment_and_close,
    enquiries_are_answered,
    refused_moves_change_nothing,
    referred_is_reserved_to_the_referral_service,
    business_time_of_a_move_is_checked,
    closing_as_duplicate_names_another_case,
);

fn to(name: &str, status: S) -> pb::TransitionCaseRequest {
    pb::TransitionCaseRequest { name: name.to_owned(), to_status: status as i32, ..Default::default() }
}

fn close(name: &str, reason: R) -> pb::TransitionCaseRequest {
    pb::TransitionCaseRequest { closure_reason: reason as i32, ..to(name, S::Closed) }
}

async fn events(client: &mut Client, name: &str) -> Vec<pb::CaseEvent> {
    client
        .list_case_events(pb::ListCaseEventsRequest { name: name.to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events
}

async fn complaints_move_through_assessment_and_close(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let case = create(&mut client, complaint("2019-06-20T09:00:00+08:00", Cat::PoliceOfficer)).await;

    let assessed = client
        .transition_case(pb::TransitionCaseRequest {
            note: "Assigned to the doxxing team".into(),
            occurred_at: Some(ts("2019-06-21T09:00:00+08:00")),
            ..to(&case.name, S::UnderAssessment)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assessed.status, S::UnderAssessment as i32);

    let closed = client
        .transition_case(pb::TransitionCaseRequest {
            occurred_at: Some(ts("2019-07-01T09:00:00+08:00")),
            ..close(&case.name, R::NoPrimaFacieCase)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, S::Closed as i32);
    assert_eq!(closed.closure_reason, R::NoPrimaFacieCase as i32);

    // A closed case is reopened when new information comes to light.
    let reopened = client.transition_case(to(&case.name, S::UnderAssessment)).await.unwrap().into_inner();
    assert_eq!(reopened.status, S::UnderAssessment as i32);
    assert_eq!(reopened.closure_reason, 0, "the closure reason goes with the closure");

    let timeline = events(&mut client, &case.name).await;
    let moves: Vec<(i32, i32)> = timeline.iter().map(|e| (e.from_status, e.to_status)).collect();
    assert_eq!(
        moves,
        vec![
            (0, S::Received as i32),
            (S::Received as i32, S::UnderAssessment as i32),
            (S::UnderAssessment as i32, S::Closed as i32),
            (S::Closed as i32, S::UnderAssessment as i32),
        ]
    );
    assert_eq!(timeline[1].note, "Assigned to the doxxing team");
    assert_eq!(timeline[1].occurred_at, Some(ts("2019-06-21T01:00:00Z")));
    assert_eq!(timeline[2].closure_reason, R::NoPrimaFacieCase as i32);
    assert!(timeline.iter().all(|e| e.actor == "officer-chan"));
    app.stop().await;
}

async fn enquiries_are_answered(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut enquiry = complaint("2019-06-20T09:00:00+08:00", Cat::Other);
    enquiry.kind = pb::CaseKind::Enquiry as i32;
    let enquiry = create(&mut client, enquiry).await;
    let err = client.transition_case(to(&enquiry.name, S::UnderAssessment)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let answered = client.transition_case(to(&enquiry.name, S::Answered)).await.unwrap().into_inner();
    assert_eq!(answered.status, S::Answered as i32);
    let err = client.transition_case(close(&enquiry.name, R::Resolved)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "an answered enquiry stays answered");

    let mut withdrawn = complaint("2019-06-20T09:00:00+08:00", Cat::Other);
    withdrawn.kind = pb::CaseKind::Enquiry as i32;
    let withdrawn = create(&mut client, withdrawn).await;
    let closed = client.transition_case(close(&withdrawn.name, R::Withdrawn)).await.unwrap().into_inner();
    assert_eq!(closed.status, S::Closed as i32);
    app.stop().await;
}

async fn refused_moves_change_nothing(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let case = create(&mut client, complaint("2019-06-20T09:00:00+08:00", Cat::Student)).await;
    for refused in [to(&case.name, S::Answered), to(&case.name, S::Received)] {
        let err = client.transition_case(refused).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    }
    // Malformed requests name every bad field.
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            name: "nonsense".into(),
            to_status: 0,
            closure_reason: 77,
            note: "n".repeat(2001),
            occurred_at: Some(ts("2999-01-01T00:00:00Z")),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["name", "to_status", "closure_reason", "note", "occurred_at"]);
    let err = client.transition_case(to(&case.name, S::Closed)).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["closure_reason"]);
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            closure_reason: R::Resolved as i32,
            ..to(&case.name, S::UnderAssessment)
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["closure_reason"]);
    let err =
        client.transition_case(to("cases/0190f5c2-0000-7000-8000-000000000000", S::UnderAssessment)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let after = client.get_case(pb::GetCaseRequest { name: case.name.clone() }).await.unwrap().into_inner();
    assert_eq!(after, case, "refused moves changed nothing");
    assert_eq!(events(&mut client, &case.name).await.len(), 1);
    app.stop().await;
}

async fn referred_is_reserved_to_the_referral_service(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let case = create(&mut client, complaint("2019-06-20T09:00:00+08:00", Cat::PoliceOfficer)).await;
    client.transition_case(to(&case.name, S::UnderAssessment)).await.unwrap();
    let err = client.transition_case(to(&case.name, S::Referred)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("referral service"), "{}", err.message());

    // A header claiming to be the referral service is not an identity: still refused.
    let mut request = Request::new(to(&case.name, S::Referred));
    request.metadata_mut().insert("x-doxwatch-service", "referral".parse().unwrap());
    assert_eq!(client.transition_case(request).await.unwrap_err().code(), Code::FailedPrecondition);

    // The referral service, by its certificate, may move the case.
    let mut raw = pb::intake_service_client::IntakeServiceClient::new(app.channel_as(&Identity::Service("referral")));
    let referred = raw.transition_case(to(&case.name, S::Referred)).await.unwrap().into_inner();
    assert_eq!(referred.status, S::Referred as i32);
    let timeline = events(&mut client, &case.name).await;
    assert_eq!(timeline.last().unwrap().actor, "service:referral");

    // Officers cannot move it out again.
    let err = client.transition_case(to(&case.name, S::UnderAssessment)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // Another service's or an agency's certificate may not move cases at all.
    for identity in [Identity::Service("links"), Identity::Agency("POLICE".into())] {
        let mut other = pb::intake_service_client::IntakeServiceClient::new(app.channel_as(&identity));
        let err = other.transition_case(to(&case.name, S::UnderAssessment)).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{identity}");
    }
    app.stop().await;
}

async fn business_time_of_a_move_is_checked(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let case = create(&mut client, complaint("2019-06-20T09:00:00+08:00", Cat::Student)).await;
    // Not before the case was received.
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            occurred_at: Some(ts("2019-06-19T09:00:00+08:00")),
            ..to(&case.name, S::UnderAssessment)
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["occurred_at"]);
    // A backfilled move in the past is accepted, and the next may not precede it.
    client
        .transition_case(pb::TransitionCaseRequest {
            occurred_at: Some(ts("2019-06-25T09:00:00+08:00")),
            ..to(&case.name, S::UnderAssessment)
        })
        .await
        .unwrap();
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            occurred_at: Some(ts("2019-06-24T09:00:00+08:00")),
            ..close(&case.name, R::Resolved)
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["occurred_at"]);
    let after = client.get_case(pb::GetCaseRequest { name: case.name.clone() }).await.unwrap().into_inner();
    assert_eq!(after.status, S::UnderAssessment as i32);
    app.stop().await;
}

async fn closing_as_duplicate_names_another_case(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let first = create(&mut client, complaint("2019-06-20T09:00:00+08:00", Cat::Student)).await;
    let second = create(&mut client, complaint("2019-06-21T09:00:00+08:00", Cat::Student)).await;
    let err = client.transition_case(close(&second.name, R::Duplicate)).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["duplicate_of"]);
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            duplicate_of: second.name.clone(),
            ..close(&second.name, R::Duplicate)
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["duplicate_of"], "not a duplicate of itself");
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            duplicate_of: "cases/0190f5c2-0000-7000-8000-000000000000".into(),
            ..close(&second.name, R::Duplicate)
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["duplicate_of"], "not of an unknown case");
    let err = client
        .transition_case(pb::TransitionCaseRequest {
            duplicate_of: first.name.clone(),
            ..close(&second.name, R::Withdrawn)
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["duplicate_of"], "only with the DUPLICATE reason");
    client
        .transition_case(pb::TransitionCaseRequest {
            duplicate_of: first.name.clone(),
            ..close(&second.name, R::Duplicate)
        })
        .await
        .unwrap();
    let timeline = events(&mut client, &second.name).await;
    assert_eq!(timeline.last().unwrap().duplicate_of, first.name);
    app.stop().await;
}
