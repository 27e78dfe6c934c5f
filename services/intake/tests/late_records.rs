//! Intake's late records: the cases received, status changes and data-subject changes with a
//! business time at or before a moment that were recorded at or after another, each with who
//! entered it and when; paginated; bad input refused by field.

mod common;

use common::*;
use doxwatch_kit::testing::{Officer, TestDatabase};
use doxwatch_proto::{
    intake as pb,
    ops::{self as ops_pb, LateRecordKind as K, late_records_service_client::LateRecordsServiceClient},
};
use pb::DataSubjectCategory as Cat;

backend_tests!(late_records_are_what_was_recorded_after_a_moment_about_before_another);

type Late =
    LateRecordsServiceClient<tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Officer>>;

async fn all(late: &mut Late, as_of: &str, recorded_after: prost_types::Timestamp) -> Vec<ops_pb::LateRecord> {
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = late
            .list_late_records(ops_pb::ListLateRecordsRequest {
                as_of: Some(ts(as_of)),
                recorded_after: Some(recorded_after),
                page_size: 1,
                page_token,
            })
            .await
            .expect("late records")
            .into_inner();
        assert!(page.records.len() <= 1, "a page holds at most page_size");
        found.extend(page.records);
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

async fn late_records_are_what_was_recorded_after_a_moment_about_before_another(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut late = LateRecordsServiceClient::with_interceptor(app.channel.clone(), Officer(Some("officer-lee")));
    let before = create(&mut client, complaint("2019-06-01T10:00:00+08:00", Cat::Student)).await;
    // The moment a report was made: just after the first case was recorded.
    let made = before.create_time.expect("a create time");
    let made = doxwatch_kit::timestamp::from_proto(&made).expect("a time");
    let recorded_after = doxwatch_kit::timestamp::to_proto(made + time::Duration::microseconds(1));

    let mut lee = app.client_as(Some("officer-lee"));
    let backfilled = create(&mut lee, complaint("2019-06-02T10:00:00+08:00", Cat::PoliceOfficer)).await;
    create(&mut client, complaint("2019-07-01T10:00:00+08:00", Cat::Student)).await; // after as_of
    client
        .transition_case(pb::TransitionCaseRequest {
            name: before.name.clone(),
            to_status: pb::CaseStatus::UnderAssessment as i32,
            occurred_at: Some(ts("2019-06-10T10:00:00+08:00")),
            ..Default::default()
        })
        .await
        .expect("moved");
    let mut changed = before.clone();
    changed.data_subjects.push(subject("Officer's Child", Cat::PoliceFamilyMember));
    client
        .update_case(pb::UpdateCaseRequest {
            case: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["data_subjects".into()] }),
            request_id: String::new(),
        })
        .await
        .expect("updated");

    let found = all(&mut late, "2019-06-15T12:00:00+08:00", recorded_after).await;
    let seen: Vec<(String, String, K, String)> = found
        .iter()
        .map(|r| (r.record.clone(), r.reference.clone(), K::try_from(r.kind).expect("a kind"), r.recorded_by.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (backfilled.name.clone(), backfilled.reference.clone(), K::CaseReceived, "officer-lee".to_owned()),
            (before.name.clone(), before.reference.clone(), K::CaseStatusChanged, "officer-chan".to_owned()),
            (before.name.clone(), before.reference.clone(), K::CaseSubjectsChanged, "officer-chan".to_owned()),
        ],
        "in the order recorded; nothing recorded before the moment, nothing after as_of"
    );
    assert_eq!(found[0].business_time, Some(ts("2019-06-02T10:00:00+08:00")));
    assert_eq!(found[0].record_time, backfilled.create_time);
    assert_eq!(found[1].business_time, Some(ts("2019-06-10T10:00:00+08:00")));
    assert!(all(&mut late, "2019-06-15T12:00:00+08:00", ts("2999-01-01T00:00:00Z")).await.is_empty());

    // Bad input, by field.
    let ask = |as_of: Option<prost_types::Timestamp>, recorded_after: Option<prost_types::Timestamp>| {
        ops_pb::ListLateRecordsRequest { as_of, recorded_after, ..Default::default() }
    };
    for (request, field) in [
        (ask(None, Some(recorded_after)), "as_of"),
        (ask(Some(ts("2999-01-01T00:00:00Z")), Some(recorded_after)), "as_of"),
        (ask(Some(ts("2019-06-15T12:00:00+08:00")), None), "recorded_after"),
        (
            ops_pb::ListLateRecordsRequest {
                page_size: -1,
                ..ask(Some(ts("2019-06-15T12:00:00Z")), Some(recorded_after))
            },
            "page_size",
        ),
        (
            ops_pb::ListLateRecordsRequest {
                page_token: "not a token!".into(),
                ..ask(Some(ts("2019-06-15T12:00:00Z")), Some(recorded_after))
            },
            "page_token",
        ),
    ] {
        let status = late.list_late_records(request).await.expect_err(field);
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    app.stop().await;
}
