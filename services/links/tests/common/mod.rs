//! Starts the real link-tracking service on port 0 with a fresh store, and a gRPC client to it.

#![allow(dead_code)]

use doxwatch_kit::testing::{Running, TestDatabase};
#[allow(unused_imports)]
pub use doxwatch_kit::{
    backend_tests,
    testing::{ts, violated_fields},
};
use doxwatch_links::{
    Application,
    blob::{
        EvidenceLocation,
        testing::{StoredBlobs, TestBucket},
    },
    config::LinksConfig,
};
use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};
use tonic::transport::Channel;

pub type Client = LinksServiceClient<doxwatch_kit::testing::Routed>;

pub struct TestApp {
    pub client: Client,
    pub channel: Channel,
    /// The evidence store's blobs as they are stored (in a temporary directory unless the test
    /// chose another store).
    pub evidence: StoredBlobs,
    pub running: Running,
    _evidence: Option<tempfile::TempDir>,
}

/// The stores of an evidence test: a fresh database, and a fresh bucket when the test runs on the
/// S3 evidence store (the local one otherwise).
pub struct EvidenceStores {
    pub db: TestDatabase,
    pub bucket: Option<TestBucket>,
}

/// Starts the service on `stores`, link-tracking's own keys as [`spawn_app_with`] sets them.
pub async fn spawn_app_on(stores: &EvidenceStores, adjust: impl FnOnce(&mut LinksConfig)) -> TestApp {
    spawn_app_with(&stores.db, |own| {
        if let Some(bucket) = &stores.bucket {
            own.evidence.location = bucket.location();
        }
        adjust(own)
    })
    .await
}

/// Generates, from each `async fn name(stores: EvidenceStores)`, a test on the local evidence
/// store with SQLite, and with PostgreSQL when DATABASE_URL names a server; and on the S3 store
/// with each, when DOXWATCH_TEST_S3_ENDPOINT names an S3-compatible server (set but not
/// answering fails the test).
#[macro_export]
macro_rules! evidence_tests {
    ($($name:ident),+ $(,)?) => {
        $crate::evidence_tests!(@on sqlite; $($name),+);
        $crate::evidence_tests!(@on postgres; $($name),+);
        $crate::evidence_tests!(@on s3_sqlite; $($name),+);
        $crate::evidence_tests!(@on s3_postgres; $($name),+);
    };
    (@on $module:ident; $($name:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::common::EvidenceStores::$module().await {
                        Ok(stores) => super::$name(stores).await,
                        Err(missing) => eprintln!("{missing} is not set: {} run of {} skipped", stringify!($module), stringify!($name)),
                    }
                }
            )+
        }
    };
}

impl EvidenceStores {
    pub async fn sqlite() -> Result<Self, &'static str> {
        Ok(Self { db: TestDatabase::sqlite(), bucket: None })
    }

    pub async fn postgres() -> Result<Self, &'static str> {
        Ok(Self { db: TestDatabase::postgres().await.ok_or("DATABASE_URL")?, bucket: None })
    }

    pub async fn s3_sqlite() -> Result<Self, &'static str> {
        let bucket = TestBucket::fresh().await.ok_or(doxwatch_links::blob::testing::ENDPOINT_VARIABLE)?;
        Ok(Self { db: TestDatabase::sqlite(), bucket: Some(bucket) })
    }

    pub async fn s3_postgres() -> Result<Self, &'static str> {
        let bucket = TestBucket::fresh().await.ok_or(doxwatch_links::blob::testing::ENDPOINT_VARIABLE)?;
        Ok(Self { db: TestDatabase::postgres().await.ok_or("DATABASE_URL")?, bucket: Some(bucket) })
    }
}

pub async fn spawn_app(db: &TestDatabase) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// Starts the service with link-tracking's own keys as `adjust` sets them: by default evidence in
/// a temporary directory, the background rechecker off and no per-host pacing.
pub async fn spawn_app_with(db: &TestDatabase, adjust: impl FnOnce(&mut LinksConfig)) -> TestApp {
    start(doxwatch_kit::testing::config(db, "links"), adjust).await
}

/// Starts the service under the policy file at `path`, whose rules replace the defaults for the
/// methods it names.
pub async fn spawn_app_with_policy(db: &TestDatabase, path: &std::path::Path) -> TestApp {
    let mut config = doxwatch_kit::testing::config(db, "links");
    config.security.policy_file = Some(path.to_owned());
    start(config, |_| {}).await
}

/// Starts the service with `config`, link-tracking's own keys set as [`spawn_app_with`] says.
async fn start(config: doxwatch_kit::config::ServiceConfig, adjust: impl FnOnce(&mut LinksConfig)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut own = LinksConfig::defaults(&config);
    own.evidence.location = EvidenceLocation::Local(dir.path().join("evidence"));
    own.recheck.per_host_interval = std::time::Duration::ZERO;
    own.recheck.timeout = std::time::Duration::from_secs(5);
    // The tests' sites are on 127.0.0.1.
    own.recheck.allow_private_addresses = true;
    adjust(&mut own);
    let evidence = StoredBlobs::of(&own.evidence.location);
    let app = Application::build_with(&config, &own).await.expect("links builds");
    let running = Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await;
    let channel = running.channel.clone();
    let client = LinksServiceClient::new(doxwatch_kit::testing::Routed::new(
        &running,
        "officer-lee",
        doxwatch_kit::testing::LINKS_RESERVED,
    ));
    TestApp { client, channel, evidence, running, _evidence: Some(dir) }
}

impl TestApp {
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

pub fn registration(url: &str, case: &str, seen_at: &str) -> pb::LinkRegistration {
    pb::LinkRegistration { url: url.to_owned(), case: case.to_owned(), seen_at: Some(ts(seen_at)) }
}

pub async fn register(client: &mut Client, registrations: Vec<pb::LinkRegistration>) -> Vec<pb::RegistrationResult> {
    client
        .register_links(pb::RegisterLinksRequest { registrations, request_id: String::new() })
        .await
        .expect("registered")
        .into_inner()
        .results
}

/// Registers one URL and returns its link.
pub async fn link(client: &mut Client, url: &str, seen_at: &str) -> pb::Link {
    let results = register(client, vec![registration(url, "", seen_at)]).await;
    results[0].link.clone().unwrap_or_else(|| panic!("{url} was refused: {}", results[0].error))
}

pub async fn platform_named(client: &mut Client, display_name: &str) -> pb::Platform {
    let platforms = client
        .list_platforms(pb::ListPlatformsRequest { page_size: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .platforms;
    platforms
        .into_iter()
        .find(|p| p.display_name == display_name)
        .unwrap_or_else(|| panic!("no platform named {display_name}"))
}

pub const CASE_A: &str = "cases/01900000-0000-7000-8000-00000000000a";
pub const CASE_B: &str = "cases/01900000-0000-7000-8000-00000000000b";

/// A client that records observations as `peer` would (liaison a platform's report, links its
/// rechecker's checks), and makes every other call as the usual officer.
pub fn observing_as(app: &TestApp, peer: &'static str) -> Client {
    let path = "/doxwatch.links.v1.LinksService/RecordObservations";
    LinksServiceClient::new(doxwatch_kit::testing::Routed::new(&app.running, "officer-lee", &[(path, peer)]))
}

/// A client of the same service acting as another officer.
pub fn client_as(app: &TestApp, officer: &'static str) -> Client {
    LinksServiceClient::new(doxwatch_kit::testing::Routed::new(
        &app.running,
        officer,
        doxwatch_kit::testing::LINKS_RESERVED,
    ))
}
