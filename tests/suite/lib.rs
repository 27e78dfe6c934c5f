//! Starts doxwatch services together on port 0, each with its own fresh store, wired to each
//! other through their configured peer addresses, for tests that cross service boundaries. On
//! PostgreSQL, the production store, link-tracking keeps its evidence in a fresh S3 bucket when
//! DOXWATCH_TEST_S3_ENDPOINT names an S3-compatible server; in a local directory otherwise.

use std::net::SocketAddr;

pub use doxwatch_kit::testing::{ANY_PORT, eventually, reserved_addr};
use doxwatch_kit::{
    config::PeerUrls,
    run_app,
    testing::{Backend, FreshStores, Officer, Running, TestDatabase, no_peers, start_service},
};
use doxwatch_links::{
    blob::testing::{StoredBlobs, TestBucket},
    config::LinksConfig,
};
use doxwatch_proto::{
    intake::intake_service_client::IntakeServiceClient, links::links_service_client::LinksServiceClient,
    ops::outbox_service_client::OutboxServiceClient,
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

pub type Intake = IntakeServiceClient<InterceptedService<Channel, Officer>>;
pub type Links = LinksServiceClient<doxwatch_kit::testing::Routed>;

/// A fresh store per service, on one backend.
pub struct Stores {
    pub intake: TestDatabase,
    pub links: TestDatabase,
}

impl FreshStores for Stores {
    async fn fresh(backend: Backend) -> Option<Self> {
        Some(Self { intake: TestDatabase::on(backend).await?, links: TestDatabase::on(backend).await? })
    }
}

pub async fn start_links(db: &TestDatabase, listen: SocketAddr) -> Running {
    start_service(db, "links", listen, no_peers(), run_app!(doxwatch_links::Application)).await
}

pub async fn start_intake(db: &TestDatabase, links_url: &str) -> Running {
    let peers = PeerUrls { links: links_url.to_owned(), ..no_peers() };
    start_service(db, "intake", ANY_PORT, peers, run_app!(doxwatch_intake::Application)).await
}

pub fn intake(service: &Running) -> Intake {
    IntakeServiceClient::with_interceptor(service.channel.clone(), Officer(Some("officer-wong")))
}

pub fn links(service: &Running) -> Links {
    LinksServiceClient::new(doxwatch_kit::testing::Routed::new(
        service,
        "officer-wong",
        doxwatch_kit::testing::LINKS_RESERVED,
    ))
}

pub fn outbox(service: &Running) -> OutboxServiceClient<InterceptedService<Channel, Officer>> {
    OutboxServiceClient::with_interceptor(service.channel.clone(), Officer(Some("officer-wong")))
}

/// The whole suite, each service with its own fresh store, wired to each other.
pub struct Suite {
    pub intake: Running,
    pub links: Running,
    pub liaison: Running,
    pub referral: Running,
    /// Link-tracking's evidence as it is stored.
    pub evidence: StoredBlobs,
}

/// One fresh store per service of the suite.
pub struct SuiteStores {
    pub intake: TestDatabase,
    pub links: TestDatabase,
    pub liaison: TestDatabase,
    pub referral: TestDatabase,
    /// Link-tracking's evidence bucket, when it keeps its evidence in S3.
    pub evidence: Option<TestBucket>,
}

impl SuiteStores {
    pub fn sqlite() -> Self {
        Self {
            intake: TestDatabase::sqlite(),
            links: TestDatabase::sqlite(),
            liaison: TestDatabase::sqlite(),
            referral: TestDatabase::sqlite(),
            evidence: None,
        }
    }
}

impl FreshStores for SuiteStores {
    async fn fresh(backend: Backend) -> Option<Self> {
        Some(Self {
            intake: TestDatabase::on(backend).await?,
            links: TestDatabase::on(backend).await?,
            liaison: TestDatabase::on(backend).await?,
            referral: TestDatabase::on(backend).await?,
            evidence: match backend {
                Backend::Postgres => TestBucket::fresh().await,
                Backend::Sqlite => None,
            },
        })
    }
}

impl Suite {
    /// Starts the four services on reserved local ports, each knowing where the others are.
    pub async fn start(stores: &SuiteStores) -> Self {
        let addrs = [reserved_addr(), reserved_addr(), reserved_addr(), reserved_addr()];
        let peers = PeerUrls {
            intake: format!("https://{}", addrs[0]),
            links: format!("https://{}", addrs[1]),
            liaison: format!("https://{}", addrs[2]),
            referral: format!("https://{}", addrs[3]),
        };
        let mut evidence = None;
        let links = start_service(&stores.links, "links", addrs[1], peers.clone(), async |config| {
            let mut own = LinksConfig::defaults(&config);
            if let Some(bucket) = &stores.evidence {
                own.evidence.location = bucket.location();
            }
            evidence = Some(StoredBlobs::of(&own.evidence.location));
            let app = doxwatch_links::Application::build_with(&config, &own).await.expect("links builds");
            Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
        })
        .await;
        let evidence = evidence.expect("link-tracking's evidence store");
        let intake =
            start_service(&stores.intake, "intake", addrs[0], peers.clone(), run_app!(doxwatch_intake::Application))
                .await;
        let liaison =
            start_service(&stores.liaison, "liaison", addrs[2], peers.clone(), run_app!(doxwatch_liaison::Application))
                .await;
        let referral =
            start_service(&stores.referral, "referral", addrs[3], peers, run_app!(doxwatch_referral::Application))
                .await;
        Self { intake, links, liaison, referral, evidence }
    }

    pub fn endpoints(&self) -> doxwatch_report::Endpoints {
        doxwatch_report::Endpoints {
            intake: self.intake.url(),
            links: self.links.url(),
            liaison: self.liaison.url(),
            referral: self.referral.url(),
            credentials: doxwatch_kit::testing::credentials("scenario-loader", doxwatch_kit::testing::OFFICER_ROLES),
        }
    }

    pub async fn stop(self) {
        self.referral.stop().await;
        self.liaison.stop().await;
        self.intake.stop().await;
        self.links.stop().await;
    }
}

/// Page tokens no service issued: not base64, not JSON, no version, offsets at the top of `u64`
/// and `i64` or negative, an unknown version, a position that is text. Every List refuses them.
pub fn forged_page_tokens() -> Vec<String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let json = |text: &str| URL_SAFE_NO_PAD.encode(text.as_bytes());
    vec![
        "not a token!".to_owned(),
        URL_SAFE_NO_PAD.encode([0xff, 0x00, 0x13, 0x37]),
        json(r#"{"f":"x","p":5}"#),
        json(r#"{"v":1,"f":"x","p":18446744073709551615}"#),
        json(r#"{"v":1,"f":"x","p":9223372036854775807}"#),
        json(r#"{"v":1,"f":"x","p":-1}"#),
        json(r#"{"v":99,"f":"x","p":0}"#),
        json(r#"{"v":1,"f":"x","p":"' OR 1=1 --"}"#),
    ]
}
