//! The referral service's late records: assessments and referrals with a business time at or
//! before a moment that were recorded at or after another, with who recorded them.

mod common;

use common::*;
use doxwatch_kit::testing::{Officer, ts};
use doxwatch_proto::{
    ops::{self as ops_pb, LateRecordKind as K, late_records_service_client::LateRecordsServiceClient},
    referral::{self as pb, Decision as D},
};

doxwatch_kit::backend_tests!(late_records_are_the_assessments_and_referrals_recorded_after_a_moment);

async fn late_records_are_the_assessments_and_referrals_recorded_after_a_moment(stores: Stores) {
    let mut s = start(&stores).await;
    let at = |day: &str| format!("2019-{day}T10:00:00+08:00");
    let c1 = s.complaint(&at("06-10")).await;
    let c2 = s.complaint(&at("06-12")).await;
    let a1 = s.assess(&c1, D::ReferToPolice, &at("07-01")).await;
    // The moment a report was made: just after the first assessment was recorded.
    let made = doxwatch_kit::timestamp::from_proto(&a1.create_time.expect("a create time")).expect("a time");
    let recorded_after = doxwatch_kit::timestamp::to_proto(made + time::Duration::microseconds(1));
    let r1: pb::Referral = s.refer(&a1.name, "POLICE", &at("07-02")).await;
    let a2 = s.assess(&c2, D::NoFurtherAction, &at("07-03")).await;
    s.assess(&c2, D::NoFurtherAction, &at("07-20")).await; // after as_of

    let mut late = LateRecordsServiceClient::with_interceptor(s.referral_channel(), Officer(Some("officer-lee")));
    let answer = late
        .list_late_records(ops_pb::ListLateRecordsRequest {
            as_of: Some(ts(&at("07-05"))),
            recorded_after: Some(recorded_after),
            ..Default::default()
        })
        .await
        .expect("late records")
        .into_inner();
    let seen: Vec<(String, String, K, String)> = answer
        .records
        .iter()
        .filter(|r| r.kind != K::ReferralEvent as i32)
        .map(|r| (r.record.clone(), r.reference.clone(), K::try_from(r.kind).expect("a kind"), r.recorded_by.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (r1.name.clone(), r1.reference.clone(), K::Referral, r1.created_by.clone()),
            (a2.name.clone(), String::new(), K::Assessment, a2.assessor.clone()),
        ],
        "in the order recorded; not the assessment recorded before, nor the one after as_of"
    );
    assert!(!r1.created_by.is_empty() && !a2.assessor.is_empty());
    assert_eq!(
        answer.records.iter().find(|r| r.record == r1.name).and_then(|r| r.business_time),
        Some(ts(&at("07-02")))
    );
    s.stop().await;
}
