//! Page tokens are client input. On every List RPC of every service a forged, foreign or stale
//! token is refused with INVALID_ARGUMENT naming `page_token`; one forged from a real token with an
//! offset near `u64::MAX` or `i64::MAX` is refused too, and nothing panics or reaches SQL.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use doxwatch_kit::testing::{Officer, violated_fields};
use doxwatch_proto::{
    intake as ipb,
    liaison::{self as npb, liaison_service_client::LiaisonServiceClient},
    links as lpb, ops as opb,
    referral::{self as rpb, referral_service_client::ReferralServiceClient},
};
use doxwatch_suite_tests::*;
use tonic::Status;

/// The same token with its position swapped for `position`: a forgery that keeps the fingerprint.
fn tampered(token: &str, position: serde_json::Value) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(token).expect("a token of this service");
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).expect("a token of this service");
    value["p"] = position;
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).expect("json"))
}

fn refused(rpc: &str, token: &str, outcome: Result<(), Status>) {
    match outcome {
        Ok(()) => panic!("{rpc} accepted the page token {token:?}"),
        Err(status) => assert_eq!(violated_fields(&status), vec!["page_token"], "{rpc} with {token:?}: {status:?}"),
    }
}

fn huge_offsets() -> [serde_json::Value; 3] {
    [serde_json::json!(u64::MAX), serde_json::json!(i64::MAX), serde_json::json!((1u64 << 48) + 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_refuses_forged_page_tokens() {
    let stores = SuiteStores::sqlite();
    let suite = Suite::start(&stores).await;
    let (mut intake, mut links) = (intake(&suite.intake), links(&suite.links));
    let mut liaison =
        LiaisonServiceClient::with_interceptor(suite.liaison.channel.clone(), Officer(Some("officer-wong")));
    let mut referral =
        ReferralServiceClient::with_interceptor(suite.referral.channel.clone(), Officer(Some("officer-wong")));

    let case = intake
        .create_case(ipb::CreateCaseRequest {
            case: Some(ipb::Case {
                kind: ipb::CaseKind::Complaint as i32,
                received_at: Some(doxwatch_kit::testing::ts("2019-07-01T09:00:00+08:00")),
                channel: ipb::IntakeChannel::OnlineForm as i32,
                summary: "Personal data posted in a chat channel.".to_owned(),
                reported_urls: vec!["https://t.me/forged/1".to_owned()],
                data_subjects: vec![ipb::DataSubject {
                    display_name: "Test Subject".to_owned(),
                    category: ipb::DataSubjectCategory::Student as i32,
                    hong_kong_nexus: ipb::HongKongNexus::Resident as i32,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a case")
        .into_inner();
    intake
        .add_case_note(ipb::AddCaseNoteRequest {
            name: case.name.clone(),
            note: "called back".into(),
            ..Default::default()
        })
        .await
        .expect("a note: the case has two events");
    let link = eventually(Duration::from_secs(10), || {
        let mut links = links.clone();
        async move { links.list_links(lpb::ListLinksRequest::default()).await.ok()?.into_inner().links.pop() }
    })
    .await
    .expect("the case's link reaches link-tracking");
    let evidence = format!("{}/evidence/{}", link.name, "ab".repeat(32));

    for token in forged_page_tokens() {
        let t = || token.clone();
        refused(
            "ListCases",
            &token,
            intake.list_cases(ipb::ListCasesRequest { page_token: t(), ..Default::default() }).await.map(drop),
        );
        refused(
            "ListCaseEvents",
            &token,
            intake
                .list_case_events(ipb::ListCaseEventsRequest {
                    name: case.name.clone(),
                    page_token: t(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        refused(
            "ListCaseLinks",
            &token,
            intake
                .list_case_links(ipb::ListCaseLinksRequest {
                    name: case.name.clone(),
                    page_token: t(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        refused(
            "ListPlatforms",
            &token,
            links.list_platforms(lpb::ListPlatformsRequest { page_token: t(), ..Default::default() }).await.map(drop),
        );
        refused(
            "ListChannels",
            &token,
            links.list_channels(lpb::ListChannelsRequest { page_token: t(), ..Default::default() }).await.map(drop),
        );
        refused(
            "ListLinks",
            &token,
            links.list_links(lpb::ListLinksRequest { page_token: t(), ..Default::default() }).await.map(drop),
        );
        refused(
            "ListLinkCitations",
            &token,
            links
                .list_link_citations(lpb::ListLinkCitationsRequest {
                    parent: link.name.clone(),
                    page_token: t(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        refused(
            "ListObservations",
            &token,
            links
                .list_observations(lpb::ListObservationsRequest {
                    link: link.name.clone(),
                    page_token: t(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        refused(
            "ListEvidence",
            &token,
            links
                .list_evidence(lpb::ListEvidenceRequest {
                    link: link.name.clone(),
                    page_token: t(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        refused(
            "ListCustodyEvents",
            &token,
            links
                .list_custody_events(lpb::ListCustodyEventsRequest {
                    evidence: evidence.clone(),
                    page_token: t(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        refused(
            "ListPlatformContacts",
            &token,
            liaison
                .list_platform_contacts(npb::ListPlatformContactsRequest { page_token: t(), ..Default::default() })
                .await
                .map(drop),
        );
        refused(
            "ListNotices",
            &token,
            liaison.list_notices(npb::ListNoticesRequest { page_token: t(), ..Default::default() }).await.map(drop),
        );
        refused(
            "ListAssessments",
            &token,
            referral
                .list_assessments(rpb::ListAssessmentsRequest { page_token: t(), ..Default::default() })
                .await
                .map(drop),
        );
        refused(
            "ListReferrals",
            &token,
            referral
                .list_referrals(rpb::ListReferralsRequest { page_token: t(), ..Default::default() })
                .await
                .map(drop),
        );
        for service in [&suite.intake, &suite.links, &suite.liaison, &suite.referral] {
            refused(
                "ListRejectedEffects",
                &token,
                outbox(service)
                    .list_rejected_effects(opb::ListRejectedEffectsRequest { page_token: t(), ..Default::default() })
                    .await
                    .map(drop),
            );
        }
    }

    // Real tokens with their position tampered: offsets near the top of u64 and i64.
    let events = intake
        .list_case_events(ipb::ListCaseEventsRequest { name: case.name.clone(), page_size: 1, ..Default::default() })
        .await
        .expect("the first page of events")
        .into_inner();
    assert!(!events.next_page_token.is_empty(), "two events make two pages of one");
    let observations = links
        .list_observations(lpb::ListObservationsRequest { link: link.name.clone(), page_size: 1, ..Default::default() })
        .await
        .expect("observations")
        .into_inner();
    let platforms = links
        .list_platforms(lpb::ListPlatformsRequest { page_size: 1, ..Default::default() })
        .await
        .expect("platforms")
        .into_inner();
    for offset in huge_offsets() {
        let token = tampered(&events.next_page_token, offset.clone());
        refused(
            "ListCaseEvents",
            &token,
            intake
                .list_case_events(ipb::ListCaseEventsRequest {
                    name: case.name.clone(),
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        );
        if !observations.next_page_token.is_empty() {
            let token = tampered(&observations.next_page_token, offset.clone());
            refused(
                "ListObservations",
                &token,
                links
                    .list_observations(lpb::ListObservationsRequest {
                        link: link.name.clone(),
                        page_token: token.clone(),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            );
        }
        // A keyset position of the wrong type is refused as well.
        let token = tampered(&platforms.next_page_token, offset);
        refused(
            "ListPlatforms",
            &token,
            links
                .list_platforms(lpb::ListPlatformsRequest { page_token: token.clone(), ..Default::default() })
                .await
                .map(drop),
        );
    }
    // A real token still works, and a token of one case's events is refused for another filter.
    let second = intake
        .list_case_events(ipb::ListCaseEventsRequest {
            name: case.name.clone(),
            page_size: 1,
            page_token: events.next_page_token.clone(),
        })
        .await
        .expect("the second page")
        .into_inner();
    assert_eq!(second.events.len(), 1);
    refused(
        "ListCases",
        &events.next_page_token,
        intake
            .list_cases(ipb::ListCasesRequest { page_token: events.next_page_token.clone(), ..Default::default() })
            .await
            .map(drop),
    );
    suite.stop().await;
}
