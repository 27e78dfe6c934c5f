//! Case figures as at several moments, and as recorded before a moment, against counts worked
//! out by hand.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::{CaseKind as K, CaseStatus as S, DataSubjectCategory as Cat, VictimGroup as G};

backend_tests!(figures_as_at_several_moments_and_as_recorded_before);

fn kind(s: &pb::IntakeStatistics, k: K) -> i64 {
    s.by_kind.iter().find(|c| c.kind == k as i32).map_or(-1, |c| c.cases)
}
fn status(s: &pb::IntakeStatistics, st: S) -> i64 {
    s.by_status.iter().find(|c| c.status == st as i32).map_or(-1, |c| c.cases)
}
fn group(s: &pb::IntakeStatistics, k: K, g: G) -> i64 {
    s.by_kind_and_victim_group.iter().find(|c| c.kind == k as i32 && c.victim_group == g as i32).map_or(-1, |c| c.cases)
}
fn category(s: &pb::IntakeStatistics, k: K, c: Cat) -> i64 {
    s.by_kind_and_category.iter().find(|x| x.kind == k as i32 && x.category == c as i32).map_or(0, |x| x.cases)
}

async fn stats(
    client: &mut Client,
    as_of: &str,
    recorded_before: Option<prost_types::Timestamp>,
) -> pb::IntakeStatistics {
    client
        .get_intake_statistics(pb::GetIntakeStatisticsRequest { as_of: Some(ts(as_of)), recorded_before })
        .await
        .unwrap()
        .into_inner()
}

async fn figures_as_at_several_moments_and_as_recorded_before(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();

    let a = create(&mut client, complaint("2019-06-14T10:00:00+08:00", Cat::PoliceOfficer)).await;
    let mut b = complaint("2019-06-20T10:00:00+08:00", Cat::Student);
    b.kind = K::PatrolDiscovery as i32;
    b.data_subjects.push(subject("Officer's Child", Cat::PoliceFamilyMember));
    let b = create(&mut client, b).await;
    let mut c = complaint("2019-07-01T10:00:00+08:00", Cat::Other);
    c.kind = K::Enquiry as i32;
    c.data_subjects.clear();
    create(&mut client, c).await;
    client
        .transition_case(pb::TransitionCaseRequest {
            name: a.name.clone(),
            to_status: S::UnderAssessment as i32,
            occurred_at: Some(ts("2019-06-20T12:00:00+08:00")),
            ..Default::default()
        })
        .await
        .unwrap();

    // Everything from D on is a later backfill: the figures are published just before D is recorded.
    let mut d = complaint("2019-08-01T10:00:00+08:00", Cat::Other);
    d.data_subjects.clear();
    let published = create(&mut client, d).await.create_time.expect("D's record time");
    let mut e = complaint("2019-06-16T10:00:00+08:00", Cat::Teacher);
    e.kind = K::AgencyReferral as i32;
    create(&mut client, e).await;
    client
        .transition_case(pb::TransitionCaseRequest {
            name: a.name.clone(),
            to_status: S::Closed as i32,
            closure_reason: pb::ClosureReason::Resolved as i32,
            occurred_at: Some(ts("2019-07-10T12:00:00+08:00")),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut without_family = b.clone();
    without_family.data_subjects.truncate(1);
    client
        .update_case(pb::UpdateCaseRequest {
            case: Some(without_family),
            update_mask: Some(prost_types::FieldMask { paths: vec!["data_subjects".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap();

    // As at 30 June: A (under assessment since 20 June), B, and the backfilled E.
    let june = stats(&mut client, "2019-06-30T12:00:00+08:00", None).await;
    assert_eq!(june.total_cases, 3);
    assert_eq!(kind(&june, K::Complaint), 1);
    assert_eq!(kind(&june, K::PatrolDiscovery), 1);
    assert_eq!(kind(&june, K::AgencyReferral), 1);
    assert_eq!(kind(&june, K::Enquiry), 0);
    assert_eq!(status(&june, S::UnderAssessment), 1);
    assert_eq!(status(&june, S::Received), 2);
    assert_eq!(status(&june, S::Closed), 0);
    assert_eq!(group(&june, K::Complaint, G::PoliceAndFamilies), 1);
    assert_eq!(group(&june, K::PatrolDiscovery, G::Other), 1, "B's police family member was removed later");
    assert_eq!(group(&june, K::AgencyReferral, G::Other), 1);
    assert_eq!(june.first_case_received_at, Some(ts("2019-06-14T10:00:00+08:00")));

    // As at the end of the year: all five; A closed on 10 July.
    let year = stats(&mut client, "2019-12-31T23:59:59+08:00", None).await;
    assert_eq!(year.total_cases, 5);
    assert_eq!(status(&year, S::Closed), 1);
    assert_eq!(status(&year, S::Received), 4);
    assert_eq!(group(&year, K::Complaint, G::Other), 1, "D has no data subject: OTHER");
    assert_eq!(group(&year, K::Enquiry, G::Other), 1);
    assert_eq!(category(&year, K::PatrolDiscovery, Cat::Student), 1);
    assert_eq!(category(&year, K::PatrolDiscovery, Cat::PoliceFamilyMember), 0);

    // As published before the backfills: A, B and C only, B still with its police family
    // member, and A not yet closed.
    let as_published = stats(&mut client, "2019-12-31T23:59:59+08:00", Some(published)).await;
    assert_eq!(as_published.total_cases, 3);
    assert_eq!(kind(&as_published, K::AgencyReferral), 0);
    assert_eq!(status(&as_published, S::UnderAssessment), 1);
    assert_eq!(status(&as_published, S::Closed), 0);
    assert_eq!(group(&as_published, K::PatrolDiscovery, G::PoliceAndFamilies), 1);
    assert_eq!(category(&as_published, K::PatrolDiscovery, Cat::Student), 1);
    assert_eq!(category(&as_published, K::PatrolDiscovery, Cat::PoliceFamilyMember), 1);

    // Before the first case: nothing, and no first case.
    let before = stats(&mut client, "2019-06-01T00:00:00+08:00", None).await;
    assert_eq!(before.total_cases, 0);
    assert_eq!(before.first_case_received_at, None);
    assert_eq!(before.by_kind.len(), 4, "every kind is listed, zeros included");

    let err = client
        .get_intake_statistics(pb::GetIntakeStatisticsRequest {
            as_of: Some(ts("2999-01-01T00:00:00Z")),
            recorded_before: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["as_of"]);
    app.stop().await;
}
