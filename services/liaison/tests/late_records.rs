//! Liaison's late records: the notice events with a business time at or before a moment that
//! were recorded at or after another, with who recorded them and their notice's reference.

mod common;

use common::*;
use doxwatch_kit::testing::{Officer, ts};
use doxwatch_proto::{
    liaison as pb,
    ops::{self as ops_pb, LateRecordKind as K, late_records_service_client::LateRecordsServiceClient},
};

doxwatch_kit::backend_tests!(late_records_are_the_notice_events_recorded_after_a_moment);

async fn late_records_are_the_notice_events_recorded_after_a_moment(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/latenotice/1"]).await;
    let telegram = s.platform(&links[0]).await;
    let drafted = s.draft(pb::NoticeKind::RemovalRequest, &telegram, &links).await;
    // The moment a report was made: just after the notice was drafted.
    let made = doxwatch_kit::timestamp::from_proto(&drafted.create_time.expect("a create time")).expect("a time");
    let recorded_after = doxwatch_kit::timestamp::to_proto(made + time::Duration::microseconds(1));
    s.serve(&drafted.name, "2019-10-01T10:00:00+08:00").await;
    let later = s.draft(pb::NoticeKind::RemovalRequest, &telegram, &links).await;
    s.serve(&later.name, "2019-10-20T10:00:00+08:00").await; // after as_of

    let mut late =
        LateRecordsServiceClient::with_interceptor(s.liaison_service.channel.clone(), Officer(Some("officer-lee")));
    let answer = late
        .list_late_records(ops_pb::ListLateRecordsRequest {
            as_of: Some(ts("2019-10-15T12:00:00+08:00")),
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
    // Not the draft (recorded before), nor the second notice (drafted and served after as_of).
    assert_eq!(seen, vec![(drafted.name.clone(), drafted.reference.clone(), K::NoticeServed, "officer-ho".to_owned())],);
    assert_eq!(answer.records[0].business_time, Some(ts("2019-10-01T10:00:00+08:00")));
    s.stop().await;
}
