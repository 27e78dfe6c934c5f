//! Starts link-tracking and liaison on port 0, each with a fresh store, liaison wired to
//! link-tracking; clients for both.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

#[allow(unused_imports)]
pub use doxwatch_kit::{
    backend_tests,
    testing::{eventually, ts, violated_fields},
};
use doxwatch_kit::{
    config::PeerUrls,
    run_app,
    testing::{ANY_PORT, Backend, FreshStores, Officer, Running, TestDatabase, no_peers, start_service},
};
use doxwatch_proto::{
    liaison::{self as pb, liaison_service_client::LiaisonServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

pub type Client = LiaisonServiceClient<InterceptedService<Channel, Officer>>;
pub type Links = LinksServiceClient<doxwatch_kit::testing::Routed>;

pub struct Suite {
    pub liaison: Client,
    pub links: Links,
    pub links_addr: SocketAddr,
    pub liaison_service: Running,
    links_service: Option<Running>,
}

pub struct Stores {
    pub liaison: TestDatabase,
    pub links: TestDatabase,
}

impl FreshStores for Stores {
    async fn fresh(backend: Backend) -> Option<Self> {
        Some(Self { liaison: TestDatabase::on(backend).await?, links: TestDatabase::on(backend).await? })
    }
}

async fn start_links(db: &TestDatabase, listen: SocketAddr) -> Running {
    start_service(db, "links", listen, no_peers(), run_app!(doxwatch_links::Application)).await
}

pub async fn start(stores: &Stores) -> Suite {
    let links_service = start_links(&stores.links, ANY_PORT).await;
    let peers = PeerUrls { links: links_service.url(), ..no_peers() };
    let liaison_service =
        start_service(&stores.liaison, "liaison", ANY_PORT, peers, run_app!(doxwatch_liaison::Application)).await;
    Suite {
        liaison: LiaisonServiceClient::with_interceptor(liaison_service.channel.clone(), Officer(Some("officer-ho"))),
        links: LinksServiceClient::new(doxwatch_kit::testing::Routed::new(
            &links_service,
            "officer-ho",
            doxwatch_kit::testing::LINKS_RESERVED,
        )),
        links_addr: links_service.addr,
        liaison_service,
        links_service: Some(links_service),
    }
}

impl Suite {
    pub async fn stop_links(&mut self) {
        if let Some(links) = self.links_service.take() {
            links.stop().await;
        }
    }

    /// Starts link-tracking again on its old address, with its old store.
    pub async fn restart_links(&mut self, db: &TestDatabase) {
        let links = start_links(db, self.links_addr).await;
        self.links = LinksServiceClient::new(doxwatch_kit::testing::Routed::new(
            &links,
            "officer-ho",
            doxwatch_kit::testing::LINKS_RESERVED,
        ));
        self.links_service = Some(links);
    }

    pub async fn stop(self) {
        self.liaison_service.stop().await;
        if let Some(links) = self.links_service {
            links.stop().await;
        }
    }

    /// Registers URLs with link-tracking and returns their link names.
    pub async fn links(&mut self, urls: &[&str]) -> Vec<String> {
        let results = self
            .links
            .register_links(links_pb::RegisterLinksRequest {
                registrations: urls
                    .iter()
                    .map(|u| links_pb::LinkRegistration {
                        url: u.to_string(),
                        case: String::new(),
                        seen_at: Some(ts("2019-09-01T00:00:00+08:00")),
                    })
                    .collect(),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .results;
        results.into_iter().map(|r| r.link.expect("accepted").name).collect()
    }

    pub async fn platform(&mut self, link: &str) -> String {
        self.links.get_link(links_pb::GetLinkRequest { name: link.to_owned() }).await.unwrap().into_inner().platform
    }

    /// A liaison client with the certificate of peer service `service`.
    pub fn liaison_as(&self, service: &'static str) -> LiaisonServiceClient<Channel> {
        let identity = doxwatch_kit::identity::Identity::Service(service);
        LiaisonServiceClient::new(self.liaison_service.channel_as(&identity))
    }

    pub async fn draft(&mut self, kind: pb::NoticeKind, platform: &str, links: &[String]) -> pb::Notice {
        self.liaison
            .create_notice(pb::CreateNoticeRequest {
                notice: Some(pb::Notice {
                    platform: platform.to_owned(),
                    kind: kind as i32,
                    items: links
                        .iter()
                        .map(|l| pb::NoticeItem {
                            link: l.clone(),
                            action: pb::NoticeAction::Remove as i32,
                            reply: None,
                        })
                        .collect(),
                    cases: vec!["cases/01900000-0000-7000-8000-000000000001".into()],
                    legal_basis: "Personal Data (Privacy) Ordinance, section 64".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("drafted")
            .into_inner()
    }

    pub async fn serve(&mut self, notice: &str, served_at: &str) -> pb::Notice {
        self.liaison
            .serve_notice(pb::ServeNoticeRequest {
                name: notice.to_owned(),
                served_at: Some(ts(served_at)),
                service_method: pb::ServiceMethod::Email as i32,
                request_id: String::new(),
            })
            .await
            .expect("served")
            .into_inner()
    }

    /// Link-tracking's count of links requested as at `as_of`, once it has settled on `expected`
    /// (or whatever it is after 15 seconds).
    pub async fn requested_eventually(&mut self, as_of: &str, expected: i64) -> i64 {
        let mut requested = 0;
        eventually(Duration::from_secs(15), async || {
            let request = links_pb::GetLinkStatisticsRequest {
                as_of: Some(ts(as_of)),
                recorded_before: None,
                ..Default::default()
            };
            let stats = self.links.get_link_statistics(request).await.unwrap().into_inner();
            requested = stats.total.map_or(0, |t| t.links_requested);
            (requested == expected).then_some(())
        })
        .await;
        requested
    }
}
