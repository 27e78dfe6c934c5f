//! What the tests of every service share: fresh stores (a SQLite file in a temporary directory
//! always, a new PostgreSQL database when `DATABASE_URL` names a server; it is read, never set),
//! services started on port 0 or a reserved address and wired to their peers, polling for what
//! happens later, stand-ins for peers that are down, and a test per backend.

use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use sqlx::{Connection, Executor};

mod callers;

pub use callers::{
    DownPeer, LINKS_RESERVED, Officer, OfficerWith, Routed, TEST_PURPOSE, TeamOfficer, credentials, officer_token,
};

use crate::{
    config::{PeerUrls, SecurityConfig, ServiceConfig, TlsSource},
    identity::Identity,
    pki::{Authority, TokenKey},
    policy::Role,
    tls::TlsMaterial,
    token::{KeySource, TokenIssuer, TokenSettings},
};

/// The backends a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    backend: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// "sqlite" or "postgres", for test messages.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self { url, backend: "sqlite", cleanup: Cleanup::Sqlite(dir) }
    }

    /// A new, empty database on the server `DATABASE_URL` names, or `None` without one.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty())?;
        // A DATABASE_URL that is set but is not PostgreSQL's would otherwise skip every PostgreSQL
        // test without a word.
        assert!(admin_url.starts_with("postgres"), "DATABASE_URL is set but is not a postgres:// URL: {admin_url:?}");
        let name = format!("doxwatch_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connect to DATABASE_URL");
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
        let _ = admin.close().await;
        let url = database_url_for(&admin_url, &name)?;
        Some(Self { url, backend: "postgres", cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// A fresh database on `backend`, or `None` for PostgreSQL without `DATABASE_URL`.
    pub async fn on(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// Every backend this run can test: SQLite, and PostgreSQL when configured.
    pub async fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        if let Some(pg) = Self::postgres().await {
            dbs.push(pg);
        }
        dbs
    }
}

impl TestDatabase {
    /// Where any of `needles` is in this store in plain text (or as the hex of its UTF-8): on
    /// SQLite, the bytes of the database file and its WAL, which hold every page ever written;
    /// on PostgreSQL, every row of every table as JSON (binary columns as hex). Names the places.
    pub async fn plaintext(&self, needles: &[&str]) -> Vec<String> {
        let forms = |needle: &str| {
            let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
            vec![needle.to_owned(), hex.clone(), hex.to_uppercase()]
        };
        let mut found = Vec::new();
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                for entry in std::fs::read_dir(dir.path()).expect("the store's directory") {
                    let path = entry.expect("a directory entry").path();
                    let bytes = std::fs::read(&path).expect("a store file");
                    let text = String::from_utf8_lossy(&bytes);
                    for needle in needles {
                        if forms(needle).iter().any(|f| text.contains(f.as_str())) {
                            found.push(format!("{needle:?} in {}", path.display()));
                        }
                    }
                }
            }
            Cleanup::Postgres { .. } => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect to the test database");
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
                )
                .fetch_all(&mut conn)
                .await
                .expect("the tables");
                for (table,) in tables {
                    let rows: Vec<(String,)> =
                        sqlx::query_as(&format!("SELECT row_to_json(t)::text FROM \"{table}\" t"))
                            .fetch_all(&mut conn)
                            .await
                            .expect("the rows");
                    for needle in needles {
                        if rows.iter().any(|(row,)| forms(needle).iter().any(|f| row.contains(f.as_str()))) {
                            found.push(format!("{needle:?} in table {table}"));
                        }
                    }
                }
                let _ = conn.close().await;
            }
        }
        found
    }
}

/// DATABASE_URL with its database swapped for `name`, keeping user, password and options.
fn database_url_for(admin_url: &str, name: &str) -> Option<String> {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://")? + 3;
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host_part = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    Some(match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
            // own runtime removes the database.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                            let forced =
                                admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                            // FORCE refuses to end an autovacuum worker; a plain drop waits for it.
                            if forced.is_err() {
                                let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await;
                            }
                            let _ = admin.close().await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// The stores of one test, each fresh and all on one backend: a [`TestDatabase`], or a test's own
/// struct with one per service it starts. [`backend_tests!`](crate::backend_tests) makes them for
/// each test, from the type its function takes.
pub trait FreshStores: Sized {
    /// `None` when the backend is not there (PostgreSQL without `DATABASE_URL`).
    fn fresh(backend: Backend) -> impl Future<Output = Option<Self>>;
}

impl FreshStores for TestDatabase {
    fn fresh(backend: Backend) -> impl Future<Output = Option<Self>> {
        TestDatabase::on(backend)
    }
}

/// The PKI of a test process: one CA and token issuer, real certificates for every identity a
/// test uses (issued once each), and officers' tokens bound to the test client's certificate.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca: Authority,
    issuer: TokenIssuer,
    issued: std::sync::Mutex<std::collections::HashMap<Identity, TlsMaterial>>,
}

/// The identity of the officers' client in tests; every test officer's token is bound to it.
pub const TEST_CLIENT: &str = "test-client";

/// The roles of a test officer unless a test asks for others: every officer's role.
pub const OFFICER_ROLES: &[Role] = &[
    Role::IntakeOfficer,
    Role::PatrolOfficer,
    Role::LiaisonOfficer,
    Role::LegalOfficer,
    Role::Supervisor,
    Role::Operator,
];

/// The test process's PKI.
pub fn pki() -> &'static TestPki {
    static PKI: std::sync::OnceLock<TestPki> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        crate::install_crypto_provider();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (ca, _) = Authority::generate("doxwatch test CA").expect("a test CA");
        let key = TokenKey::generate().expect("a token key");
        std::fs::write(dir.path().join("jwks.json"), &key.jwks_json).expect("write the key set");
        crate::pki::write_service_keys(dir.path()).expect("the audit and encryption keys");
        let issuer = TokenIssuer::new(
            &key.key_pem,
            &key.jwks_json,
            SecurityConfig::DEFAULT_ISSUER,
            SecurityConfig::DEFAULT_AUDIENCE,
        )
        .expect("a token issuer");
        TestPki { dir, ca, issuer, issued: Default::default() }
    })
}

impl TestPki {
    /// The CA, a certificate and its key for `identity` (a service's valid for loopback).
    pub fn material(&self, identity: &Identity) -> TlsMaterial {
        let mut issued = self.issued.lock().expect("the PKI lock");
        issued
            .entry(identity.clone())
            .or_insert_with(|| {
                let hosts = crate::pki::default_hosts(identity.name());
                let cert = self.ca.issue(identity, &hosts, crate::pki::PEER_LIFETIME).expect("a test certificate");
                TlsMaterial::from_pem(self.ca.cert_pem().to_owned(), cert.cert_pem, cert.key_pem)
                    .expect("usable test material")
            })
            .clone()
    }

    /// The CA's certificate.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    pub fn ca(&self) -> &Authority {
        &self.ca
    }

    /// The key set services verify tokens with.
    pub fn jwks_path(&self) -> std::path::PathBuf {
        self.dir.path().join("jwks.json")
    }

    /// The key `service` signs its audit checkpoints with.
    pub fn audit_key_path(&self, service: &str) -> std::path::PathBuf {
        self.dir.path().join("audit").join(format!("{service}.key"))
    }

    /// The raw public key of `service`'s audit checkpoints, as an auditor keeps it.
    pub fn audit_public_key(&self, service: &str) -> Vec<u8> {
        let pem = std::fs::read_to_string(self.dir.path().join("audit").join(format!("{service}.pub")))
            .expect("the audit public key");
        crate::audit::public_key_from_pem(&pem).expect("an Ed25519 public key")
    }

    /// The issuer of test tokens.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The security of `service` in tests.
    pub fn security(&self, service: &str) -> SecurityConfig {
        let identity = Identity::service(service).expect("a doxwatch service");
        SecurityConfig {
            tls: TlsSource::Loaded(self.material(&identity)),
            tokens: TokenSettings {
                keys: KeySource::File(self.jwks_path()),
                jwks_ca_file: None,
                issuer: SecurityConfig::DEFAULT_ISSUER.to_owned(),
                audience: SecurityConfig::DEFAULT_AUDIENCE.to_owned(),
                leeway: Duration::from_secs(30),
            },
            policy_file: None,
            audit_key_file: self.audit_key_path(service),
            encryption_key: crate::config::EncryptionKey::File(
                self.dir.path().join("encryption").join(format!("{service}.key")),
            ),
            // One replica: a rotated key may seal at once.
            key_activation: Duration::ZERO,
            // Tests load quickly and from few identities: limits that do not get in their way.
            rate_limits: crate::auth::RateLimits {
                per_second: 100_000,
                burst: 100_000,
                service_per_second: 100_000,
                ..Default::default()
            },
        }
    }

    /// A token for officer `id` with `roles`, bound to the test client's certificate.
    pub fn token(&self, id: &str, roles: &[Role]) -> String {
        self.team_token(id, roles, "team-a")
    }

    /// [`TestPki::token`] for an officer of `team`.
    pub fn team_token(&self, id: &str, roles: &[Role], team: &str) -> String {
        let client = self.material(&Identity::Officer(TEST_CLIENT.to_owned()));
        let thumbprint = client.thumbprint().expect("a thumbprint");
        self.issuer.issue(id, id, roles, team, &thumbprint, Duration::from_secs(3600)).expect("a test token")
    }

    /// A TLS channel to `addr` presenting `identity`'s certificate.
    pub async fn channel(&self, addr: SocketAddr, identity: &Identity) -> tonic::transport::Channel {
        test_channel(&format!("https://{addr}"), &self.material(identity)).into_connected(addr).await
    }
}

/// A TLS channel for a test client: like a peer's, but without the peer's time limit per call (an
/// import of many thousands of URLs takes longer).
fn test_channel(url: &str, material: &TlsMaterial) -> tonic::transport::Channel {
    crate::peer::endpoint(url, material).expect("a channel").connect_lazy()
}

/// Connecting a channel eagerly in tests, so that a test fails where the service cannot be reached.
trait IntoConnected {
    async fn into_connected(self, addr: SocketAddr) -> tonic::transport::Channel;
}

impl IntoConnected for tonic::transport::Channel {
    async fn into_connected(self, addr: SocketAddr) -> tonic::transport::Channel {
        use tower::ServiceExt;
        let mut channel = self;
        let ready = tokio::time::timeout(Duration::from_secs(10), channel.ready()).await;
        assert!(matches!(ready, Ok(Ok(_))), "cannot connect to the service at {addr}");
        channel
    }
}

/// A service configuration for tests: port 0, the given store, short grace and backoff, the
/// service's own certificate, and peers that answer nowhere unless the test sets them.
pub fn config(db: &TestDatabase, service: &str) -> ServiceConfig {
    use crate::config::{OutboxConfig, Secret, ServerLimits};
    ServiceConfig {
        security: pki().security(service),
        listen: ANY_PORT,
        database_url: Secret::from(db.url().to_owned()),
        database_max_connections: 5,
        limits: ServerLimits { shutdown_grace: Duration::from_secs(5), ..ServerLimits::default() },
        peers: no_peers(),
        outbox: OutboxConfig {
            poll_interval: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            ..OutboxConfig::default()
        },
        time_zone: jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("the bundled zone database has Hong Kong"),
        reference_prefix: None,
    }
}

/// `db` with data keys of its own, under a key-encryption key made for the test: what a store a
/// test opens directly (not through its service) needs to seal.
pub async fn with_fresh_keys(db: crate::db::Db) -> crate::db::Db {
    let kek = crate::sealing::Kek::from_base64(&crate::sealing::Kek::generate().expect("a key"))
        .expect("the key-encryption key");
    let keys = crate::sealing::Keyring::open(&db, &kek).await.expect("the store's data keys");
    db.with_keyring(keys)
}

/// Peers that answer nowhere. A test names the ones a service calls:
/// `PeerUrls { links: links.url(), ..no_peers() }`.
pub fn no_peers() -> PeerUrls {
    let nowhere = format!("https://127.0.0.1:{}", unused_port());
    PeerUrls { intake: nowhere.clone(), links: nowhere.clone(), liaison: nowhere.clone(), referral: nowhere }
}

/// A port nothing listens on (bound, then released).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9)
}

/// Port 0 on the loopback interface: a service started there gets a free port of its own.
pub const ANY_PORT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A loopback address nothing listens on yet, for a service that starts after the peers that call
/// it, or that they must know before it starts.
pub fn reserved_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), unused_port())
}

/// Starts `service` for a test: with its own store `db`, listening on `listen` ([`ANY_PORT`], a
/// [`reserved_addr`], or the address of a service stopped to be started again), calling `peers`.
/// The kit cannot name the services, so `start` builds the service's Application from the
/// configuration and runs it: [`run_app!`](crate::run_app) for an Application with its own keys
/// at their defaults, or a closure that builds it with others.
pub async fn start_service(
    db: &TestDatabase,
    service: &str,
    listen: SocketAddr,
    peers: PeerUrls,
    start: impl AsyncFnOnce(ServiceConfig) -> Running,
) -> Running {
    let mut config = config(db, service);
    config.listen = listen;
    config.peers = peers;
    start(config).await
}

/// How [`start_service`] starts a service whose Application type is `$app` (anything with the
/// `build(&ServiceConfig)`, `local_addr()` and `run_until(shutdown)` every doxwatch service has),
/// with its own keys at their defaults.
#[macro_export]
macro_rules! run_app {
    ($app:ty) => {
        async |config: $crate::config::ServiceConfig| {
            let app = <$app>::build(&config).await.expect(concat!(stringify!($app), " builds"));
            $crate::testing::Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
        }
    };
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`: for what a service does
/// after it has answered (an effect delivered by its relay, a status a peer has moved).
pub async fn eventually<T>(limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
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

/// A service running in the test's runtime until `stop`.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub channel: tonic::transport::Channel,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Runs a built service: `run` gets the shutdown signal and serves until it fires.
    pub async fn start<F, Fut, E>(addr: std::net::SocketAddr, run: F) -> Self
    where
        F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Debug,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = run(Box::pin(async move {
            let _ = rx.await;
        }));
        let handle = tokio::spawn(async move {
            serving.await.expect("the service serves and stops cleanly");
        });
        let channel = pki().channel(addr, &Identity::Officer(TEST_CLIENT.to_owned())).await;
        Self { addr, channel, shutdown: Some(tx), handle: Some(handle) }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A channel to the service presenting `identity`'s certificate (a peer service's, an
    /// agency's) instead of the officers' client's. It connects on first use.
    pub fn channel_as(&self, identity: &Identity) -> tonic::transport::Channel {
        test_channel(&self.url(), &pki().material(identity))
    }

    /// Stops the service gracefully and waits until it has closed its store.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("the service task ends");
        }
    }
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// An RFC 3339 time as a protobuf timestamp.
pub fn ts(rfc3339: &str) -> prost_types::Timestamp {
    let t =
        time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).expect("an RFC 3339 time");
    crate::timestamp::to_proto(t)
}

/// Runs `test` on fresh stores on `backend`; whether it ran (PostgreSQL needs `DATABASE_URL`).
pub async fn run_on<S: FreshStores, F: AsyncFnOnce(S)>(backend: Backend, test: F) -> bool {
    match S::fresh(backend).await {
        Some(stores) => {
            test(stores).await;
            true
        }
        None => false,
    }
}

/// Generates a test per backend from each `async fn name(stores: S)`, where `S` is a
/// [`TestDatabase`] or a test's own [`FreshStores`](crate::testing::FreshStores): always on
/// SQLite, and on PostgreSQL when DATABASE_URL names a server. The runtime has two worker threads
/// unless the list starts with `worker_threads = n;`.
#[macro_export]
macro_rules! backend_tests {
    (worker_threads = $threads:tt; $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $name() {
                    let ran = $crate::testing::run_on($crate::testing::Backend::Sqlite, super::$name).await;
                    assert!(ran, "SQLite is always there");
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $name() {
                    if !$crate::testing::run_on($crate::testing::Backend::Postgres, super::$name).await {
                        eprintln!("DATABASE_URL is not set: PostgreSQL run of {} skipped", stringify!($name));
                    }
                }
            )+
        }
    };
    ($($name:ident),+ $(,)?) => {
        $crate::backend_tests!(worker_threads = 2; $($name),+);
    };
}
