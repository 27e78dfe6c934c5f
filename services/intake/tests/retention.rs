//! Retention: a closed case whose period (by kind and closure reason) has passed is erased by the
//! sweep, as EraseCase would erase it, and the erasure is audited as the sweep's; a case still open,
//! or closed for a reason without a period, or closed too recently, is kept.

mod common;

use std::time::Duration;

use common::*;
use doxwatch_intake::{IntakeConfig, retention::RetentionPeriods};
use doxwatch_kit::{
    policy::Role,
    testing::{OfficerWith, TestDatabase, eventually},
};
use doxwatch_proto::{
    intake::{self as pb, ClosureReason as R, DataSubjectCategory as Cat},
    ops::{self as ops, audit_service_client::AuditServiceClient},
};

backend_tests!(closed_cases_are_erased_once_their_retention_period_has_passed);

fn days_ago(days: i64) -> prost_types::Timestamp {
    doxwatch_kit::timestamp::to_proto(time::OffsetDateTime::now_utc() - time::Duration::days(days))
}

async fn closed(client: &mut Client, received_days_ago: i64, closed_days_ago: i64, reason: R) -> String {
    let mut case = complaint("2019-07-01T09:00:00+08:00", Cat::Other);
    case.received_at = Some(days_ago(received_days_ago));
    let case = create(client, case).await;
    client
        .transition_case(pb::TransitionCaseRequest {
            name: case.name.clone(),
            to_status: pb::CaseStatus::Closed as i32,
            closure_reason: reason as i32,
            occurred_at: Some(days_ago(closed_days_ago)),
            ..Default::default()
        })
        .await
        .expect("closed");
    case.name
}

async fn erased(client: &mut Client, name: &str) -> bool {
    let case = client.get_case(pb::GetCaseRequest { name: name.to_owned() }).await.expect("read").into_inner();
    case.erase_time.is_some()
}

async fn closed_cases_are_erased_once_their_retention_period_has_passed(db: TestDatabase) {
    let own = IntakeConfig {
        retention: RetentionPeriods::parse("complaint=90, complaint/withdrawn=7").expect("periods"),
        sweep_every: Duration::from_millis(200),
    };
    let app = spawn_with_own(config(&db), &own).await;
    let mut c = app.client.clone();
    let old_resolved = closed(&mut c, 200, 100, R::Resolved).await;
    let old_withdrawn = closed(&mut c, 30, 10, R::Withdrawn).await;
    let recent_resolved = closed(&mut c, 200, 10, R::Resolved).await;
    let open = create(&mut c, {
        let mut case = complaint("2019-07-01T09:00:00+08:00", Cat::Other);
        case.received_at = Some(days_ago(400));
        case
    })
    .await
    .name;

    let swept = eventually(Duration::from_secs(20), || {
        let mut c = c.clone();
        let (a, b) = (old_resolved.clone(), old_withdrawn.clone());
        async move { (erased(&mut c, &a).await && erased(&mut c, &b).await).then_some(()) }
    })
    .await;
    assert!(swept.is_some(), "the cases past their period are erased");
    // The others stay through later rounds: a case closed past its period now is erased by a
    // later round, and by then the recent and the open case are still whole.
    let later = closed(&mut c, 300, 150, R::Resolved).await;
    let later_round = eventually(Duration::from_secs(20), || {
        let mut c = c.clone();
        let later = later.clone();
        async move { erased(&mut c, &later).await.then_some(()) }
    })
    .await;
    assert!(later_round.is_some(), "a later round of the sweep erases a case closed past its period");
    assert!(!erased(&mut c, &recent_resolved).await, "closed 10 days ago, kept 90");
    assert!(!erased(&mut c, &open).await, "an open case is kept");
    let case = c.get_case(pb::GetCaseRequest { name: old_resolved.clone() }).await.unwrap().into_inner();
    assert!(case.data_subjects.iter().all(|s| s.display_name.is_empty() && s.contact.is_none()), "{case:?}");
    let events = c
        .list_case_events(pb::ListCaseEventsRequest { name: old_resolved.clone(), ..Default::default() })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    let last = events.last().expect("the erasure's entry");
    assert_eq!((last.actor.as_str(), last.note.as_str()), ("service:intake", "personal data erased"));

    // The erasure is in the log as the sweep's, with the reason it was made.
    let mut auditor =
        AuditServiceClient::with_interceptor(app.channel.clone(), OfficerWith("auditor-ho", &[Role::Auditor]));
    let records = auditor
        .list_audit_records(ops::ListAuditRecordsRequest {
            resource: old_resolved.clone(),
            access: ops::AuditAccess::Write as i32,
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("the log")
        .into_inner()
        .records;
    let sweep = records.iter().find(|r| r.method == "retention sweep").expect("the sweep's record");
    assert_eq!(sweep.purpose, "the case's retention period has passed");
    assert!(sweep.fields.contains(&"data_subjects".to_owned()), "{sweep:?}");
    app.stop().await;
}
