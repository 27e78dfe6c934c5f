//! Starts doxwatch services together on port 0, each with its own fresh store, wired to each
//! other through their configured peer addresses, for tests that cross service boundaries.

use std::{net::SocketAddr, time::Duration};

use doxwatch_kit::{
    config::ServiceConfig,
    testing::{Officer, Running, TestDatabase},
};
use doxwatch_proto::{
    intake::intake_service_client::IntakeServiceClient, links::links_service_client::LinksServiceClient,
    ops::outbox_service_client::OutboxServiceClient,
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

pub type Intake = IntakeServiceClient<InterceptedService<Channel, Officer>>;
pub type Links = LinksServiceClient<InterceptedService<Channel, Officer>>;

/// A fresh store per service, on one backend.
pub struct Stores {
    pub intake: TestDatabase,
    pub links: TestDatabase,
}

impl Stores {
    pub fn sqlite() -> Self {
        Self { intake: TestDatabase::sqlite(), links: TestDatabase::sqlite() }
    }

    pub async fn postgres() -> Option<Self> {
        Some(Self { intake: TestDatabase::postgres().await?, links: TestDatabase::postgres().await? })
    }
}

/// A local address nothing listens on yet, for a service that starts later.
pub fn reserved_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], doxwatch_kit::testing::unused_port()))
}

fn config(db: &TestDatabase, listen: SocketAddr) -> ServiceConfig {
    let mut config = doxwatch_kit::testing::config(db);
    config.listen = listen;
    config
}

pub async fn start_links(db: &TestDatabase, listen: SocketAddr) -> Running {
    let app = doxwatch_links::Application::build(&config(db, listen)).await.expect("links builds");
    Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
}

pub async fn start_intake(db: &TestDatabase, links_url: &str) -> Running {
    let mut config = config(db, "127.0.0.1:0".parse().expect("an address"));
    config.peers.links = links_url.to_owned();
    let app = doxwatch_intake::Application::build(&config).await.expect("intake builds");
    Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
}

pub fn intake(service: &Running) -> Intake {
    IntakeServiceClient::with_interceptor(service.channel.clone(), Officer(Some("officer-wong")))
}

pub fn links(service: &Running) -> Links {
    LinksServiceClient::with_interceptor(service.channel.clone(), Officer(Some("officer-wong")))
}

pub fn outbox(service: &Running) -> OutboxServiceClient<Channel> {
    OutboxServiceClient::new(service.channel.clone())
}

/// Polls `check` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The whole suite, each service with its own fresh store, wired to each other.
pub struct Suite {
    pub intake: Running,
    pub links: Running,
    pub liaison: Running,
    pub referral: Running,
}

/// One fresh store per service of the suite.
pub struct SuiteStores {
    pub intake: TestDatabase,
    pub links: TestDatabase,
    pub liaison: TestDatabase,
    pub referral: TestDatabase,
}

impl SuiteStores {
    pub fn sqlite() -> Self {
        Self {
            intake: TestDatabase::sqlite(),
            links: TestDatabase::sqlite(),
            liaison: TestDatabase::sqlite(),
            referral: TestDatabase::sqlite(),
        }
    }

    /// Fresh PostgreSQL databases, or `None` without `DATABASE_URL`.
    pub async fn postgres() -> Option<Self> {
        Some(Self {
            intake: TestDatabase::postgres().await?,
            links: TestDatabase::postgres().await?,
            liaison: TestDatabase::postgres().await?,
            referral: TestDatabase::postgres().await?,
        })
    }
}

impl Suite {
    /// Starts the four services on reserved local ports, each knowing where the others are.
    pub async fn start(stores: &SuiteStores) -> Self {
        let addrs = [reserved_addr(), reserved_addr(), reserved_addr(), reserved_addr()];
        let peers = doxwatch_kit::config::PeerUrls {
            intake: format!("http://{}", addrs[0]),
            links: format!("http://{}", addrs[1]),
            liaison: format!("http://{}", addrs[2]),
            referral: format!("http://{}", addrs[3]),
        };
        let wired = |db: &TestDatabase, listen: SocketAddr| {
            let mut c = config(db, listen);
            c.peers = peers.clone();
            c
        };
        let links_app =
            doxwatch_links::Application::build(&wired(&stores.links, addrs[1])).await.expect("links builds");
        let links = Running::start(links_app.local_addr(), |s| links_app.run_until(s)).await;
        let intake_app =
            doxwatch_intake::Application::build(&wired(&stores.intake, addrs[0])).await.expect("intake builds");
        let intake = Running::start(intake_app.local_addr(), |s| intake_app.run_until(s)).await;
        let liaison_app =
            doxwatch_liaison::Application::build(&wired(&stores.liaison, addrs[2])).await.expect("liaison builds");
        let liaison = Running::start(liaison_app.local_addr(), |s| liaison_app.run_until(s)).await;
        let referral_app =
            doxwatch_referral::Application::build(&wired(&stores.referral, addrs[3])).await.expect("referral builds");
        let referral = Running::start(referral_app.local_addr(), |s| referral_app.run_until(s)).await;
        Self { intake, links, liaison, referral }
    }

    pub fn endpoints(&self) -> doxwatch_report::Endpoints {
        doxwatch_report::Endpoints {
            intake: self.intake.url(),
            links: self.links.url(),
            liaison: self.liaison.url(),
            referral: self.referral.url(),
        }
    }

    pub async fn stop(self) {
        self.referral.stop().await;
        self.liaison.stop().await;
        self.intake.stop().await;
        self.links.stop().await;
    }
}
