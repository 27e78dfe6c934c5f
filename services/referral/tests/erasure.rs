//! Erasure of a case in the referral service: a live referral holds what the agency was sent
//! until it ends; then, in the transaction that ends it, the case's assessments' reasons, the
//! referral's summary and timeline details are emptied, and link-tracking is told to erase the
//! case's evidence. An erased case takes no new assessment.

mod common;

use std::time::Duration;

use common::*;
use doxwatch_kit::testing::eventually;
use doxwatch_proto::{intake as intake_pb, links as links_pb, referral as pb};
use tonic_types::StatusExt;

backend_tests!(a_live_referral_holds_an_erased_case_until_it_ends);

async fn erase(s: &Suite, case: &str, request_id: &str) -> pb::EraseCaseDataResponse {
    s.referral_as("intake")
        .erase_case_data(pb::EraseCaseDataRequest {
            case: case.to_owned(),
            erase_time: Some(ts("2026-01-01T00:00:00Z")),
            request_id: request_id.to_owned(),
        })
        .await
        .expect("erased")
        .into_inner()
}

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

async fn a_live_referral_holds_an_erased_case_until_it_ends(stores: Stores) {
    let mut s = start(&stores).await;
    let case =
        s.case_of(intake_pb::CaseKind::Complaint, "2019-09-01T10:00:00+08:00", &["https://t.me/doxchan/77"]).await;
    let link = s.case_links_eventually(&case, 1).await.remove(0).name;
    let sha256 = s.capture(&link, b"the post with the officer's home address").await;
    let assessment = s.assess(&case, pb::Decision::ReferToPolice, "2019-09-02T10:00:00+08:00").await;
    let referral = s.refer(&assessment.name, "POLICE", "2019-09-03T10:00:00+08:00").await;
    assert!(!referral.summary.is_empty());

    // Intake erases the case; the live referral holds what the Police were sent.
    s.intake
        .erase_case(intake_pb::EraseCaseRequest { name: case.clone(), request_id: String::new() })
        .await
        .expect("erased in intake");
    let held = erase(&s, &case, "erase-1").await;
    assert_eq!((held.held, held.assessments_erased, held.referrals_erased), (true, 0, 0));
    let read = s.referral.get_referral(pb::GetReferralRequest { name: referral.name.clone() }).await;
    assert_eq!(read.expect("read").into_inner().summary, referral.summary);
    let evidence = format!("{link}/evidence/{sha256}");
    let fetch = links_pb::GetEvidenceRequest { name: evidence.clone(), reason: "for the Police".into() };
    assert!(s.links.get_evidence(fetch.clone()).await.is_ok(), "the evidence is kept for the referral");
    // No new assessment of an erased case.
    let refused = s.try_assess(&case, pb::Decision::ReferToPolice, "2019-09-04T10:00:00+08:00", criteria()).await;
    assert_eq!(reason(&refused.unwrap_err()), "CASE_ERASED");

    // The referral ends: its summary goes with it, and the evidence after it.
    s.withdraw(&referral.name, "2019-09-05T10:00:00+08:00").await;
    let read = s.referral.get_referral(pb::GetReferralRequest { name: referral.name.clone() }).await;
    let read = read.expect("read").into_inner();
    assert_eq!(read.summary, "");
    assert_eq!(read.status, pb::ReferralStatus::Withdrawn as i32, "its steps stay");
    let assessments = s
        .referral
        .list_assessments(pb::ListAssessmentsRequest { case: case.clone(), ..Default::default() })
        .await
        .expect("assessments")
        .into_inner()
        .assessments;
    assert_eq!(assessments.len(), 1);
    let erased = eventually(Duration::from_secs(15), || {
        let (mut links, fetch) = (s.links.clone(), fetch.clone());
        async move { links.get_evidence(fetch).await.err().filter(|e| reason(e) == "EVIDENCE_ERASED") }
    })
    .await;
    assert!(erased.is_some(), "link-tracking erased the evidence once the referral ended");
    assert_eq!(s.outbox_settled().await.rejected, 0);

    // Told again, nothing more is erased.
    let again = erase(&s, &case, "erase-2").await;
    assert_eq!(again, pb::EraseCaseDataResponse::default());
    // Only intake may tell it; bad input names its fields.
    let denied = s
        .referral
        .erase_case_data(pb::EraseCaseDataRequest { case: case.clone(), erase_time: None, request_id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let bad = s
        .referral_as("intake")
        .erase_case_data(pb::EraseCaseDataRequest {
            case: "case/1".into(),
            erase_time: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), vec!["case".to_owned(), "erase_time".to_owned()]);
    s.stop().await;
}
