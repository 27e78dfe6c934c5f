//! Intake's effects on link-tracking through the outbox: delivered once, delayed (never lost)
//! while link-tracking is down, kept as rejected when refused; and intake's synchronous read of
//! link-tracking.

use std::time::Duration;

use doxwatch_kit::{
    backend_tests,
    testing::{DownPeer, ts},
};
use doxwatch_proto::{intake as pb, links as links_pb, ops as ops_pb};
use doxwatch_suite_tests::*;
use tonic::Code;

fn complaint(urls: &[&str]) -> pb::CreateCaseRequest {
    pb::CreateCaseRequest {
        case: Some(pb::Case {
            kind: pb::CaseKind::Complaint as i32,
            received_at: Some(ts("2019-07-01T09:00:00+08:00")),
            channel: pb::IntakeChannel::Email as i32,
            summary: "Addresses of an officer's family posted".into(),
            reported_urls: urls.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn case_links(intake: &mut Intake, case: &str) -> Result<pb::ListCaseLinksResponse, tonic::Status> {
    intake
        .list_case_links(pb::ListCaseLinksRequest { name: case.into(), ..Default::default() })
        .await
        .map(|r| r.into_inner())
}

async fn status(service: &doxwatch_kit::testing::Running) -> ops_pb::OutboxStatus {
    outbox(service).get_outbox_status(ops_pb::GetOutboxStatusRequest {}).await.unwrap().into_inner()
}

async fn a_case_s_urls_become_links_citing_it(stores: Stores) {
    let links_service = start_links(&stores.links, ANY_PORT).await;
    let intake_service = start_intake(&stores.intake, &links_service.url()).await;
    let mut intake = intake(&intake_service);
    let case = intake
        .create_case(complaint(&[
            "https://t.me/s/DoxChan/5",
            "https://t.me/doxchan/5?utm_source=x",
            "https://lihkg.com/thread/1/page/1",
        ]))
        .await
        .unwrap()
        .into_inner();
    let listed =
        eventually(Duration::from_secs(10), || {
            let mut intake = intake.clone();
            let name = case.name.clone();
            async move {
                case_links(&mut intake, &name).await.ok().filter(|r| r.links.len() == 2 && !r.registration_pending)
            }
        })
        .await
        .expect("the case's links reach link-tracking");
    let canonical: Vec<&str> = listed.links.iter().map(|l| l.canonical_url.as_str()).collect();
    assert_eq!(canonical, vec!["https://t.me/doxchan/5", "https://lihkg.com/thread/1/page/1"]);
    assert!(listed.links.iter().all(|l| l.cases == vec![case.name.clone()] && l.case_count == 1));
    assert_eq!(listed.links[0].first_seen_at, Some(ts("2019-07-01T09:00:00+08:00")), "seen when the case was received");
    let s = status(&intake_service).await;
    assert_eq!((s.pending, s.delivered, s.rejected), (0, 1, 0));
    assert_eq!(s.service, "intake");

    // URLs added to the case later are registered too.
    let mut changed = case.clone();
    changed.reported_urls.push("https://www.youtube.com/watch?v=abcdefghijk".into());
    intake
        .update_case(pb::UpdateCaseRequest {
            case: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["reported_urls".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    eventually(Duration::from_secs(10), || {
        let mut intake = intake.clone();
        let name = case.name.clone();
        async move { case_links(&mut intake, &name).await.ok().filter(|r| r.links.len() == 3) }
    })
    .await
    .expect("the added URL reaches link-tracking");
    intake_service.stop().await;
    links_service.stop().await;
}

async fn effects_wait_while_link_tracking_is_down(stores: Stores) {
    let links_addr = reserved_addr();
    let intake_service = start_intake(&stores.intake, &format!("https://{links_addr}")).await;
    let mut intake = intake(&intake_service);
    let case = intake
        .create_case(complaint(&["https://t.me/doxchan/77"]))
        .await
        .expect("recording never waits for a peer")
        .into_inner();

    // The synchronous read fails clearly; the effect waits.
    let err = case_links(&mut intake, &case.name).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    // Link-tracking's address turns the relay away: once it has been tried twice, the effect waits.
    let down = DownPeer::start(links_addr).await;
    assert!(down.turned_away(2, Duration::from_secs(10)).await, "the relay tries link-tracking again");
    let s = status(&intake_service).await;
    assert_eq!((s.pending, s.rejected), (1, 0));
    assert!(s.oldest_pending_age.is_some());
    down.stop().await;

    let links_service = start_links(&stores.links, links_addr).await;
    let listed = eventually(Duration::from_secs(15), || {
        let mut intake = intake.clone();
        let name = case.name.clone();
        async move { case_links(&mut intake, &name).await.ok().filter(|r| r.links.len() == 1) }
    })
    .await
    .expect("the effect is delivered once link-tracking is back");
    assert_eq!(listed.links[0].canonical_url, "https://t.me/doxchan/77");
    // The relay records the delivery once the peer has answered, a moment after the peer applied it.
    let s = eventually(Duration::from_secs(10), || {
        let service = &intake_service;
        async move { Some(status(service).await).filter(|s| s.pending == 0) }
    })
    .await
    .expect("the delivery is recorded");
    assert_eq!((s.pending, s.delivered, s.rejected), (0, 1, 0));

    // Stopping and restarting link-tracking loses nothing it acknowledged.
    links_service.stop().await;
    let links_service = start_links(&stores.links, links_addr).await;
    assert_eq!(case_links(&mut intake, &case.name).await.unwrap().links.len(), 1);
    intake_service.stop().await;
    links_service.stop().await;
}

async fn a_message_delivered_twice_is_applied_once(stores: Stores) {
    let links_service = start_links(&stores.links, ANY_PORT).await;
    let mut links = links(&links_service);
    // What the relay sends: the message id as request_id. A relay that crashed after the peer
    // applied the message but before it recorded delivery sends it again.
    let request = links_pb::RegisterLinksRequest {
        registrations: vec![links_pb::LinkRegistration {
            url: "https://t.me/doxchan/9".into(),
            case: "cases/01900000-0000-7000-8000-000000000001".into(),
            seen_at: Some(ts("2019-07-01T09:00:00+08:00")),
        }],
        request_id: "01900000-0000-7000-8000-0000000000aa".into(),
    };
    let first = links.register_links(request.clone()).await.unwrap().into_inner();
    let second = links.register_links(request).await.unwrap().into_inner();
    assert_eq!(first, second);
    assert_eq!(first.results[0].outcome, links_pb::RegistrationOutcome::New as i32);
    let all = links.list_links(links_pb::ListLinksRequest::default()).await.unwrap().into_inner().links;
    assert_eq!(all.len(), 1);
    links_service.stop().await;
}

async fn an_effect_the_peer_refuses_is_kept_as_rejected(stores: Stores) {
    // Misconfigured: intake's "link-tracking" address is another intake, which has no such method.
    let wrong_peer = start_intake(&stores.links, "https://127.0.0.1:9").await;
    let intake_service = start_intake(&stores.intake, &wrong_peer.url()).await;
    let mut intake = intake(&intake_service);
    intake.create_case(complaint(&["https://t.me/doxchan/1"])).await.unwrap();
    let s = eventually(Duration::from_secs(10), || {
        let service = &intake_service;
        async move { Some(status(service).await).filter(|s| s.rejected == 1) }
    })
    .await
    .expect("the refusal is recorded");
    assert_eq!(s.pending, 0, "a refused effect is not retried");
    let rejected = outbox(&intake_service)
        .list_rejected_effects(ops_pb::ListRejectedEffectsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .effects;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].peer, "links");
    assert_eq!(rejected[0].method, "/doxwatch.links.v1.LinksService/RegisterLinks");
    assert!(rejected[0].key.starts_with("cases/"));
    assert!(rejected[0].error.contains("Unimplemented"), "{}", rejected[0].error);
    intake_service.stop().await;
    wrong_peer.stop().await;
}

backend_tests!(
    a_case_s_urls_become_links_citing_it,
    effects_wait_while_link_tracking_is_down,
    a_message_delivered_twice_is_applied_once,
    an_effect_the_peer_refuses_is_kept_as_rejected,
);
