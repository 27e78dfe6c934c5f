//! The whole suite under impatient clients: every kind of mutating call, streaming uploads cut
//! mid-stream, server streams dropped, synchronous reads and outbox deliveries of peers cut by
//! deadlines between 1 and 50 ms. Afterwards every service accepts a write within a second,
//! every acknowledged write is whole, the outboxes drain, no evidence upload left anything but
//! whole blobs in the evidence store, and every service stops within its grace.

use std::time::Duration;

use doxwatch_kit::{
    backend_tests,
    testing::{Officer, ts},
};
use doxwatch_proto::{
    intake as ipb,
    liaison::{self as npb, liaison_service_client::LiaisonServiceClient},
    links as lpb,
    ops::GetOutboxStatusRequest,
    referral::{self as rpb, agency_referral_service_client::AgencyReferralServiceClient},
};
use doxwatch_suite_tests::*;
use rand::Rng;
use tonic::{Request, transport::Channel};

backend_tests!(impatient_clients_never_wedge_the_suite);

/// A deadline between 1 and 50 ms.
fn impatient() -> Duration {
    Duration::from_millis(rand::rng().random_range(1..=50))
}

fn with_deadline<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(impatient());
    request
}

fn case(n: usize) -> ipb::Case {
    ipb::Case {
        kind: ipb::CaseKind::Complaint as i32,
        received_at: Some(ts("2019-07-01T09:00:00+08:00")),
        channel: ipb::IntakeChannel::OnlineForm as i32,
        summary: "Personal data posted in a chat channel.".to_owned(),
        reported_urls: vec![format!("https://t.me/impatient/{n}"), format!("https://t.me/impatient/{}", n + 100_000)],
        data_subjects: vec![ipb::DataSubject {
            display_name: "Test Subject".to_owned(),
            category: ipb::DataSubjectCategory::Student as i32,
            hong_kong_nexus: ipb::HongKongNexus::Resident as i32,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn registrations(prefix: &str, n: usize) -> Vec<lpb::LinkRegistration> {
    (0..n).map(|i| lpb::LinkRegistration { url: format!("https://t.me/{prefix}/{i}"), ..Default::default() }).collect()
}

fn liaison(suite: &Suite) -> LiaisonServiceClient<tonic::service::interceptor::InterceptedService<Channel, Officer>> {
    LiaisonServiceClient::with_interceptor(suite.liaison.channel.clone(), Officer(Some("officer-wong")))
}

async fn impatient_clients_never_wedge_the_suite(stores: SuiteStores) {
    let suite = Suite::start(&stores).await;
    let mut links_client = links(&suite.links);
    links_client
        .register_links(lpb::RegisterLinksRequest {
            registrations: registrations("seed", 1),
            request_id: String::new(),
        })
        .await
        .expect("a link to work on");
    let link = links_client
        .list_links(lpb::ListLinksRequest { page_size: 1, ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .links
        .remove(0);

    let mut workers = Vec::new();
    for worker in 0..12 {
        let (mut intake, mut links, mut liaison) = (intake(&suite.intake), links(&suite.links), liaison(&suite));
        let agency = AgencyReferralServiceClient::new(suite.referral.channel.clone());
        let link = link.clone();
        workers.push(tokio::spawn(async move {
            let mut acknowledged_cases = Vec::new();
            for call in 0..30 {
                let n = worker * 1000 + call;
                // Some clients go away before their deadline: the server sees the stream reset.
                let cut = Duration::from_millis(rand::rng().random_range(1..=60));
                match (worker + call) % 6 {
                    0 | 1 => {
                        let request = with_deadline(ipb::CreateCaseRequest {
                            case: Some(case(n)),
                            request_id: format!("impatient-{n}"),
                        });
                        if let Ok(Ok(r)) = tokio::time::timeout(cut, intake.create_case(request)).await {
                            acknowledged_cases.push(r.into_inner());
                        }
                    }
                    2 => {
                        let request = with_deadline(lpb::RegisterLinksRequest {
                            registrations: registrations(&format!("register{n}"), 20),
                            request_id: format!("impatient-{n}"),
                        });
                        let _ = tokio::time::timeout(cut, links.register_links(request)).await;
                    }
                    3 => {
                        // An import whose client stops sending half way.
                        let batches: Vec<lpb::ImportLinksRequest> = (0..5)
                            .map(|b| lpb::ImportLinksRequest {
                                registrations: registrations(&format!("import{n}-{b}"), 200),
                            })
                            .collect();
                        let stream =
                            tokio_stream::StreamExt::throttle(tokio_stream::iter(batches), Duration::from_millis(5));
                        let _ = tokio::time::timeout(cut, links.import_links(with_deadline(stream))).await;
                    }
                    4 => {
                        // An evidence upload cut mid-stream.
                        let mut messages = vec![lpb::AddEvidenceRequest {
                            content: Some(lpb::add_evidence_request::Content::Metadata(lpb::EvidenceMetadata {
                                link: link.name.clone(),
                                media_type: "text/plain".into(),
                                note: "patrol capture".into(),
                                request_id: format!("impatient-{n}"),
                                ..Default::default()
                            })),
                        }];
                        messages.extend((0..8).map(|i| lpb::AddEvidenceRequest {
                            content: Some(lpb::add_evidence_request::Content::Chunk(vec![b'a' + i; 16 * 1024])),
                        }));
                        let stream =
                            tokio_stream::StreamExt::throttle(tokio_stream::iter(messages), Duration::from_millis(3));
                        let _ = tokio::time::timeout(cut, links.add_evidence(with_deadline(stream))).await;
                    }
                    _ => {
                        // A notice drafted (a synchronous read of link-tracking) and served (an
                        // effect on it), and the Police's feed opened and dropped.
                        let request = with_deadline(npb::CreateNoticeRequest {
                            notice: Some(npb::Notice {
                                platform: link.platform.clone(),
                                kind: npb::NoticeKind::RemovalRequest as i32,
                                items: vec![npb::NoticeItem {
                                    link: link.name.clone(),
                                    action: npb::NoticeAction::Remove as i32,
                                    reply: None,
                                }],
                                cases: vec!["cases/01900000-0000-7000-8000-000000000001".into()],
                                legal_basis: "Personal Data (Privacy) Ordinance, section 64".into(),
                                ..Default::default()
                            }),
                            request_id: format!("impatient-{n}"),
                        });
                        if let Ok(Ok(draft)) = tokio::time::timeout(cut, liaison.create_notice(request)).await {
                            let request = with_deadline(npb::ServeNoticeRequest {
                                name: draft.into_inner().name,
                                served_at: Some(ts("2019-10-01T10:00:00+08:00")),
                                ..Default::default()
                            });
                            let _ = tokio::time::timeout(cut, liaison.serve_notice(request)).await;
                        }
                        let mut watch = Request::new(rpb::WatchReferralsRequest::default());
                        watch
                            .metadata_mut()
                            .insert("x-doxwatch-agency", tonic::metadata::MetadataValue::from_static("POLICE"));
                        let mut agency = agency.clone();
                        let _ = tokio::time::timeout(cut, async move {
                            if let Ok(stream) = agency.watch_referrals(watch).await {
                                let mut stream = stream.into_inner();
                                while let Ok(Some(_)) = stream.message().await {}
                            }
                        })
                        .await;
                    }
                }
            }
            acknowledged_cases
        }));
    }
    let mut acknowledged = Vec::new();
    for w in workers {
        acknowledged.extend(w.await.expect("a worker"));
    }

    // Every service accepts a write within a second.
    let mut request = Request::new(ipb::CreateCaseRequest { case: Some(case(999_999)), request_id: String::new() });
    request.set_timeout(Duration::from_secs(1));
    intake(&suite.intake).create_case(request).await.expect("intake accepts a write");
    let mut request =
        Request::new(lpb::RegisterLinksRequest { registrations: registrations("after", 3), request_id: String::new() });
    request.set_timeout(Duration::from_secs(1));
    links(&suite.links).register_links(request).await.expect("link-tracking accepts a write");
    let mut request = Request::new(npb::CreateNoticeRequest {
        notice: Some(npb::Notice {
            platform: link.platform.clone(),
            kind: npb::NoticeKind::RemovalRequest as i32,
            items: vec![npb::NoticeItem {
                link: link.name.clone(),
                action: npb::NoticeAction::Remove as i32,
                reply: None,
            }],
            cases: vec!["cases/01900000-0000-7000-8000-000000000001".into()],
            legal_basis: "Personal Data (Privacy) Ordinance, section 64".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    });
    request.set_timeout(Duration::from_secs(1));
    liaison(&suite).create_notice(request).await.expect("liaison accepts a write");

    // Every acknowledged case is whole, and its links reach link-tracking once the outboxes drain.
    let mut intake_client = intake(&suite.intake);
    for case in &acknowledged {
        let stored = intake_client
            .get_case(ipb::GetCaseRequest { name: case.name.clone() })
            .await
            .expect("an acknowledged case is kept")
            .into_inner();
        assert_eq!((stored.data_subjects.len(), stored.reported_urls.len()), (1, 2), "{} is whole", case.name);
    }
    for service in [&suite.intake, &suite.liaison] {
        let drained = eventually(Duration::from_secs(20), || {
            let mut outbox = outbox(service);
            async move {
                let status = outbox.get_outbox_status(GetOutboxStatusRequest::default()).await.ok()?.into_inner();
                (status.pending == 0).then_some(())
            }
        })
        .await;
        assert!(drained.is_some(), "the outbox drains after the cancellations");
    }
    for case in &acknowledged {
        let cited = links_client
            .list_links(lpb::ListLinksRequest { case: case.name.clone(), page_size: 10, ..Default::default() })
            .await
            .expect("list a case's links")
            .into_inner()
            .links;
        assert_eq!(cited.len(), 2, "both links of {} are registered", case.name);
    }

    // Uploads cut mid-stream leave no partial file or object behind: whole blobs alone.
    let whole = eventually(Duration::from_secs(10), async || {
        suite.evidence.names().await.iter().all(|name| name.starts_with("sha256/")).then_some(())
    })
    .await;
    assert!(whole.is_some(), "left in the evidence store: {:?}", suite.evidence.names().await);

    let stopped = tokio::time::timeout(Duration::from_secs(10), suite.stop()).await;
    assert!(stopped.is_ok(), "every service stops within its grace period");
}
