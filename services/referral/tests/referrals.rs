//! Referrals through gRPC, against real intake and link-tracking services: the frozen evidence
//! bundle, the refusals, withdrawal, and the case's status in intake, also after intake was down.

mod common;

use common::*;
use doxwatch_proto::{intake::CaseStatus as CS, links as links_pb, referral as pb};
use pb::{Decision as D, ReferralStatus as RS};
use tonic::Code;

backend_tests!(
    worker_threads = 4;
    a_referral_freezes_the_evidence_bundle_and_moves_the_case,
    referrals_the_assessment_does_not_allow_are_refused,
    a_withdrawn_referral_moves_the_case_back_and_frees_it,
    the_case_follows_a_referral_made_while_intake_was_down,
    link_tracking_down_makes_referral_unavailable,
    referrals_are_listed_by_status_agency_time_and_case,
);

async fn a_referral_freezes_the_evidence_bundle_and_moves_the_case(stores: Stores) {
    let mut s = start(&stores).await;
    let urls = ["https://t.me/doxchannel/101", "https://t.me/doxchannel/102"];
    let case = s.case_of(doxwatch_proto::intake::CaseKind::Complaint, "2019-08-01T10:00:00+08:00", &urls).await;
    let links = s.case_links_eventually(&case, 2).await;
    assert_eq!(links.len(), 2, "intake registered the case's URLs with link-tracking");
    let sha_a = s.capture(&links[0].name, b"what the post showed on the first day").await;
    let sha_b = s.capture(&links[0].name, b"what it showed a week later").await;
    s.capture(&links[0].name, b"what the post showed on the first day").await;

    let assessment = s.assess(&case, D::ReferToPolice, "2019-08-05T10:00:00+08:00").await;
    let request = pb::CreateReferralRequest {
        referral: Some(pb::Referral {
            case: case.clone(),
            assessment: assessment.name.clone(),
            referred_at: Some(ts("2019-08-06T10:00:00+08:00")),
            summary: "Doxxing of a police officer in a Telegram channel.".into(),
            ..Default::default()
        }),
        request_id: "refer-once".into(),
    };
    let referral = s.referral.create_referral(request.clone()).await.unwrap().into_inner();
    assert_eq!(referral.agency, "POLICE", "the default agency");
    assert_eq!(referral.reference, "REF-2019-000001");
    let by_reference = pb::GetReferralRequest { name: "referrals/REF-2019-000001".into() };
    assert_eq!(s.referral.get_referral(by_reference).await.unwrap().into_inner().name, referral.name);
    assert_eq!(referral.status, RS::Pending as i32);
    assert_eq!(referral.case, case);
    assert_eq!(referral.case_received_at, Some(ts("2019-08-01T10:00:00+08:00")));
    let bundle = referral.evidence.clone().expect("an evidence bundle");
    let mut bundled: Vec<(String, String, i32, Vec<String>)> = bundle
        .links
        .iter()
        .map(|l| (l.link.clone(), l.canonical_url.clone(), l.status, l.evidence_sha256.clone()))
        .collect();
    bundled.sort();
    let mut expected: Vec<(String, String, i32, Vec<String>)> = links
        .iter()
        .map(|l| {
            let sha = if l.name == links[0].name { vec![sha_a.clone(), sha_b.clone()] } else { vec![] };
            (l.name.clone(), l.canonical_url.clone(), links_pb::LinkStatus::Online as i32, sha)
        })
        .collect();
    expected.sort();
    assert_eq!(bundled, expected, "every link, its canonical URL, status and distinct captures");

    // A retry gives the first answer; the bundle stays as frozen when more evidence arrives.
    assert_eq!(s.referral.create_referral(request).await.unwrap().into_inner(), referral);
    s.capture(&links[1].name, b"a later capture").await;
    let again =
        s.referral.get_referral(pb::GetReferralRequest { name: referral.name.clone() }).await.unwrap().into_inner();
    assert_eq!(again.evidence, referral.evidence);

    assert_eq!(s.case_status_eventually(&case, CS::Referred).await, CS::Referred);
    let events = s.case_events(&case).await;
    let referred = events.iter().find(|e| e.to_status == CS::Referred as i32).expect("moved to REFERRED");
    assert_eq!(referred.occurred_at, Some(ts("2019-08-06T10:00:00+08:00")));
    assert!(referred.note.contains(&referral.name), "{}", referred.note);
    assert_eq!(s.outbox_settled().await.rejected, 0);

    let timeline = s
        .referral
        .list_referral_events(pb::ListReferralEventsRequest { name: referral.name.clone(), ..Default::default() })
        .await
        .unwrap();
    let timeline = timeline.into_inner().events;
    assert_eq!(timeline.len(), 1);
    assert_eq!((timeline[0].status, timeline[0].actor.as_str()), (RS::Pending as i32, "officer-lam"));
    s.stop().await;
}

async fn referrals_the_assessment_does_not_allow_are_refused(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    let more_info = s.assess(&case, D::MoreInformationNeeded, "2019-08-02T10:00:00+08:00").await;
    let err = s.try_refer(&more_info.name, "POLICE", "2019-08-03T10:00:00+08:00").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "not REFER_TO_POLICE");

    let refer = s.assess(&case, D::ReferToPolice, "2019-08-04T10:00:00+08:00").await;
    let prosecute = s.assess(&case, D::ProsecuteSummary, "2019-08-05T10:00:00+08:00").await;
    let err = s.try_refer(&refer.name, "POLICE", "2019-08-06T10:00:00+08:00").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "superseded: {err:?}");
    assert!(err.message().contains(&prosecute.name));

    let current = s.assess(&case, D::ReferToPolice, "2019-08-07T10:00:00+08:00").await;
    let err = s.try_refer(&current.name, "POLICE", "2019-08-06T10:00:00+08:00").await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["referral.referred_at".to_owned()], "not before the assessment");
    let err = s.try_refer(&current.name, "CUSTOMS", "2019-08-08T10:00:00+08:00").await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["referral.agency".to_owned()], "not a configured agency");
    let err = s
        .try_refer("assessments/01900000-0000-7000-8000-0000000000ff", "POLICE", "2019-08-08T10:00:00+08:00")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["referral.assessment".to_owned()]);
    let other = s.complaint("2019-08-01T10:00:00+08:00").await;
    let err = s
        .referral
        .create_referral(pb::CreateReferralRequest {
            referral: Some(pb::Referral {
                case: other,
                assessment: current.name.clone(),
                summary: "x".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["referral.case".to_owned()]);

    let first = s.refer(&current.name, "police", "2019-08-08T10:00:00+08:00").await;
    assert_eq!(first.agency, "POLICE");
    let err = s.try_refer(&current.name, "ICAC", "2019-08-09T10:00:00+08:00").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "one live referral per case");
    assert!(err.message().contains(&first.name));
    let listed =
        s.referral.list_referrals(pb::ListReferralsRequest { case: case.clone(), ..Default::default() }).await.unwrap();
    assert_eq!(listed.into_inner().referrals.len(), 1);
    s.stop().await;
}

async fn a_withdrawn_referral_moves_the_case_back_and_frees_it(stores: Stores) {
    let mut s = start(&stores).await;
    let (case, referral) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    assert_eq!(s.case_status_eventually(&case, CS::Referred).await, CS::Referred);

    let early = pb::WithdrawReferralRequest {
        name: referral.name.clone(),
        reason: "x".into(),
        occurred_at: Some(ts("2019-08-02T10:00:00+08:00")),
        request_id: String::new(),
    };
    assert_eq!(
        violated_fields(&s.referral.withdraw_referral(early).await.unwrap_err()),
        vec!["occurred_at".to_owned()]
    );
    let withdrawn = s.withdraw(&referral.name, "2019-08-04T10:00:00+08:00").await;
    assert_eq!(withdrawn.status, RS::Withdrawn as i32);
    assert_eq!(withdrawn.withdrawal_reason, "sent to the wrong agency");
    assert_eq!(s.case_status_eventually(&case, CS::UnderAssessment).await, CS::UnderAssessment);
    let again =
        pb::WithdrawReferralRequest { name: referral.name.clone(), reason: "again".into(), ..Default::default() };
    assert_eq!(s.referral.withdraw_referral(again).await.unwrap_err().code(), Code::FailedPrecondition);

    // The case may be referred again, from its current assessment.
    let second = s.refer(&referral.assessment, "ICAC", "2019-08-05T10:00:00+08:00").await;
    assert_eq!(s.case_status_eventually(&case, CS::Referred).await, CS::Referred);
    let moves: Vec<i32> = s.case_events(&case).await.iter().filter(|e| e.to_status != 0).map(|e| e.to_status).collect();
    assert_eq!(
        moves,
        vec![
            CS::Received as i32,
            CS::UnderAssessment as i32,
            CS::Referred as i32,
            CS::UnderAssessment as i32,
            CS::Referred as i32
        ]
    );

    // Once acknowledged, a referral cannot be withdrawn.
    let ack = pb::AcknowledgeReferralRequest {
        name: second.name.clone(),
        agency_reference: "ICAC/19/0042".into(),
        ..Default::default()
    };
    s.agency(Some("ICAC")).acknowledge_referral(ack).await.unwrap();
    let late =
        pb::WithdrawReferralRequest { name: second.name.clone(), reason: "too late".into(), ..Default::default() };
    assert_eq!(s.referral.withdraw_referral(late).await.unwrap_err().code(), Code::FailedPrecondition);
    assert_eq!(s.outbox_settled().await.rejected, 0);
    s.stop().await;
}

async fn the_case_follows_a_referral_made_while_intake_was_down(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    let assessment = s.assess(&case, D::ReferToPolice, "2019-08-02T10:00:00+08:00").await;
    assert_eq!(s.case_status_eventually(&case, CS::UnderAssessment).await, CS::UnderAssessment);

    s.stop_intake().await;
    let referral = s.refer(&assessment.name, "POLICE", "2019-08-03T10:00:00+08:00").await;
    assert_eq!(referral.case_received_at, Some(ts("2019-08-01T10:00:00+08:00")), "read when the case was assessed");
    // Intake's address turns the relay away: once it has been tried twice, the move still waits.
    let down = s.intake_down().await;
    assert!(down.turned_away(2, std::time::Duration::from_secs(10)).await, "the relay tries intake again");
    let waiting =
        s.outbox().get_outbox_status(doxwatch_proto::ops::GetOutboxStatusRequest {}).await.unwrap().into_inner();
    assert_eq!(waiting.pending, 1, "the move waits for intake");
    down.stop().await;

    s.restart_intake(&stores).await;
    assert_eq!(s.case_status_eventually(&case, CS::Referred).await, CS::Referred);
    let settled = s.outbox_settled().await;
    assert_eq!((settled.pending, settled.rejected), (0, 0));
    s.stop().await;
}

async fn link_tracking_down_makes_referral_unavailable(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    let assessment = s.assess(&case, D::ReferToPolice, "2019-08-02T10:00:00+08:00").await;
    s.stop_links().await;
    let err = s.try_refer(&assessment.name, "POLICE", "2019-08-03T10:00:00+08:00").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let listed = s.referral.list_referrals(pb::ListReferralsRequest::default()).await.unwrap().into_inner();
    assert!(listed.referrals.is_empty(), "no referral without its bundle");
    s.stop().await;
}

async fn referrals_are_listed_by_status_agency_time_and_case(stores: Stores) {
    let mut s = start(&stores).await;
    let (case_a, a) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    let (_, b) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-10T10:00:00+08:00", "POLICE").await;
    let (_, c) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-20T10:00:00+08:00", "ICAC").await;
    s.withdraw(&b.name, "2019-08-11T10:00:00+08:00").await;
    let list = |request: pb::ListReferralsRequest| {
        let mut client = s.referral.clone();
        async move {
            let page = client.list_referrals(request).await.unwrap().into_inner();
            (page.referrals.into_iter().map(|r| r.name).collect::<Vec<_>>(), page.next_page_token)
        }
    };
    assert_eq!(list(pb::ListReferralsRequest::default()).await.0, vec![a.name.clone(), b.name.clone(), c.name.clone()]);
    let police = pb::ListReferralsRequest { agency: "police".into(), ..Default::default() };
    assert_eq!(list(police).await.0, vec![a.name.clone(), b.name.clone()]);
    let pending = pb::ListReferralsRequest { status: RS::Pending as i32, ..Default::default() };
    assert_eq!(list(pending).await.0, vec![a.name.clone(), c.name.clone()]);
    let window = pb::ListReferralsRequest {
        referred_after: Some(ts("2019-08-05T00:00:00+08:00")),
        referred_before: Some(ts("2019-08-20T10:00:00+08:00")),
        ..Default::default()
    };
    assert_eq!(list(window).await.0, vec![b.name.clone()]);
    assert_eq!(list(pb::ListReferralsRequest { case: case_a, ..Default::default() }).await.0, vec![a.name.clone()]);

    let (first, token) = list(pb::ListReferralsRequest { page_size: 2, ..Default::default() }).await;
    assert_eq!(first, vec![a.name.clone(), b.name.clone()]);
    let (rest, end) =
        list(pb::ListReferralsRequest { page_size: 2, page_token: token.clone(), ..Default::default() }).await;
    assert_eq!((rest, end.as_str()), (vec![c.name.clone()], ""));
    let mismatched =
        pb::ListReferralsRequest { page_size: 2, page_token: token, agency: "ICAC".into(), ..Default::default() };
    let err = s.referral.list_referrals(mismatched).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["page_token".to_owned()]);
    s.stop().await;
}
