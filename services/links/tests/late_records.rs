//! Link-tracking's late records: links seen, removal requests and observations with a business
//! time at or before a moment that were recorded at or after another, in the order recorded, with
//! who entered them where link-tracking keeps it.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::{
    links as pb,
    ops::{self as ops_pb, LateRecordKind as K, late_records_service_client::LateRecordsServiceClient},
};

backend_tests!(late_records_are_what_was_recorded_after_a_moment_about_before_another);

const NOTICE: &str = "notices/01900000-0000-7000-8000-0000000000e1";

async fn late_records_are_what_was_recorded_after_a_moment_about_before_another(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut late = LateRecordsServiceClient::new(doxwatch_kit::testing::Routed::new(&app.running, "officer-lee", &[]));
    let first = link(&mut client, "https://t.me/latechannel/1", "2019-06-01T10:00:00+08:00").await;
    // The moment a report was made: just after the first link was recorded.
    let made = doxwatch_kit::timestamp::from_proto(&first.create_time.expect("a create time")).expect("a time");
    let recorded_after = doxwatch_kit::timestamp::to_proto(made + time::Duration::microseconds(1));

    client
        .record_removal_requests(pb::RecordRemovalRequestsRequest {
            notice: NOTICE.into(),
            links: vec![first.name.clone()],
            served_at: Some(ts("2019-06-05T10:00:00+08:00")),
            request_id: String::new(),
        })
        .await
        .expect("requested");
    let observed = client
        .record_observations(pb::RecordObservationsRequest {
            observations: vec![pb::Observation {
                link: first.name.clone(),
                status: pb::LinkStatus::Removed as i32,
                observed_at: Some(ts("2019-06-06T10:00:00+08:00")),
                source: pb::ObservationSource::OfficerCheck as i32,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await
        .expect("observed")
        .into_inner()
        .observations
        .remove(0);
    let second = link(&mut client, "https://t.me/latechannel/2", "2019-06-07T10:00:00+08:00").await;
    link(&mut client, "https://t.me/latechannel/3", "2019-07-01T10:00:00+08:00").await; // after as_of

    let answer = late
        .list_late_records(ops_pb::ListLateRecordsRequest {
            as_of: Some(ts("2019-06-15T12:00:00+08:00")),
            recorded_after: Some(recorded_after),
            ..Default::default()
        })
        .await
        .expect("late records")
        .into_inner();
    let seen: Vec<(String, String, K, String)> = answer
        .records
        .iter()
        .map(|r| (r.record.clone(), r.reference.clone(), K::try_from(r.kind).expect("a kind"), r.recorded_by.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (first.name.clone(), NOTICE.to_owned(), K::RemovalRequested, String::new()),
            (observed.name.clone(), String::new(), K::LinkObserved, "officer-lee".to_owned()),
            (second.name.clone(), String::new(), K::LinkSeen, String::new()),
        ],
        "in the order recorded; nothing recorded before the moment, nothing after as_of"
    );
    assert_eq!(answer.records[1].business_time, Some(ts("2019-06-06T10:00:00+08:00")));
    assert_eq!(answer.records[1].record_time, observed.record_time);
    assert!(answer.next_page_token.is_empty());

    let status = late
        .list_late_records(ops_pb::ListLateRecordsRequest {
            as_of: Some(ts("2019-06-15T12:00:00+08:00")),
            recorded_after: Some(prost_types::Timestamp { seconds: 0, nanos: -1 }),
            ..Default::default()
        })
        .await
        .expect_err("bad nanos");
    assert_eq!(violated_fields(&status), ["recorded_after"]);
    app.stop().await;
}
