//! What the tests of every service share: fresh stores (a SQLite file in a temporary directory
//! always, a new PostgreSQL database when `DATABASE_URL` names a server; it is read, never set),
//! services started on port 0 or a reserved address and wired to their peers, polling for what
//! happens later, stand-ins for peers that are down, and a test per backend.

use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use sqlx::{Connection, Executor};

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
        let admin_url = std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))?;
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
                            let _ =
                                admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
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
        database_url: Secret::new(db.url().to_owned()),
        database_max_connections: 5,
        limits: ServerLimits { shutdown_grace: Duration::from_secs(5), ..ServerLimits::default() },
        peers: no_peers(),
        outbox: OutboxConfig { poll_interval: Duration::from_millis(50), max_backoff: Duration::from_millis(200) },
    }
}

/// Peers that answer nowhere. A test names the ones a service calls:
/// `PeerUrls { links: links.url(), ..no_peers() }`.
/// `db` with data keys of its own, under a key-encryption key made for the test: what a store a
/// test opens directly (not through its service) needs to seal.
pub async fn with_fresh_keys(db: crate::db::Db) -> crate::db::Db {
    let kek = crate::sealing::Kek::from_base64(&crate::sealing::Kek::generate().expect("a key"))
        .expect("the key-encryption key");
    let keys = crate::sealing::Keyring::open(&db, &kek).await.expect("the store's data keys");
    db.with_keyring(keys)
}

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

/// A peer that is down, as the services that call it see it: it listens on the peer's address and
/// answers every call UNAVAILABLE, counting them. A test that asserts an effect still waits can
/// then wait for the relay to have tried and be turned away, not for a fixed time in the hope that
/// it tried.
pub struct DownPeer {
    running: Running,
    calls: Arc<AtomicUsize>,
}

impl DownPeer {
    /// Listens on `addr`, which must be free (a [`reserved_addr`], or a stopped service's).
    pub async fn start(addr: SocketAddr) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("the peer's address is free");
        let addr = listener.local_addr().expect("a bound address");
        let counted = calls.clone();
        let refuse = tower::service_fn(move |_: http::Request<tonic::body::Body>| {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = tonic::Status::unavailable("the peer is down").into_http::<tonic::body::Body>();
            std::future::ready(Ok::<_, std::convert::Infallible>(answer))
        });
        // It speaks TLS like the peer it stands for, so that callers get as far as a call.
        let tls = pki().material(&Identity::Service("links")).server_config().expect("a TLS configuration");
        let (connections, accepting) = crate::tls::accept(listener, tls);
        let incoming = tokio_stream::wrappers::ReceiverStream::new(connections);
        let running = Running::start(addr, |shutdown| async move {
            let served =
                tonic::transport::Server::builder().serve_with_incoming_shutdown(refuse, incoming, shutdown).await;
            accepting.abort();
            served
        })
        .await;
        Self { running, calls }
    }

    /// The calls turned away so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Waits until `n` calls have been turned away, for at most `limit`; whether they were.
    pub async fn turned_away(&self, n: usize, limit: Duration) -> bool {
        eventually(limit, async || (self.calls() >= n).then_some(())).await.is_some()
    }

    /// Stops listening and closes its connections, so that the real peer can start on the address.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// Adds the acting officer's token (every officer role, bound to the test client's certificate)
/// to every request of a test client; `None` sends none.
#[derive(Clone)]
pub struct Officer(pub Option<&'static str>);

/// The purpose test officers state for what they read.
pub const TEST_PURPOSE: &str = "test of the suite";

impl tonic::service::Interceptor for Officer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(id) = self.0 {
            let value = format!("Bearer {}", officer_token(id, OFFICER_ROLES));
            request.metadata_mut().insert("authorization", value.parse().expect("a token is ASCII"));
            request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, TEST_PURPOSE.parse().expect("ASCII"));
        }
        Ok(request)
    }
}

/// Adds a token for an officer with the given roles to every request.
#[derive(Clone)]
pub struct OfficerWith(pub &'static str, pub &'static [Role]);

impl tonic::service::Interceptor for OfficerWith {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", officer_token(self.0, self.1));
        request.metadata_mut().insert("authorization", value.parse().expect("a token is ASCII"));
        request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, TEST_PURPOSE.parse().expect("ASCII"));
        Ok(request)
    }
}

/// Adds a token for an officer of a team, with the given roles, to every request; breaks the glass
/// when asked.
#[derive(Clone)]
pub struct TeamOfficer {
    pub id: &'static str,
    pub team: &'static str,
    pub roles: &'static [Role],
    pub break_glass: bool,
}

impl tonic::service::Interceptor for TeamOfficer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", pki().team_token(self.id, self.roles, self.team));
        request.metadata_mut().insert("authorization", value.parse().expect("a token is ASCII"));
        request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, TEST_PURPOSE.parse().expect("ASCII"));
        if self.break_glass {
            request.metadata_mut().insert(crate::audit::BREAK_GLASS_HEADER, "1".parse().expect("ASCII"));
        }
        Ok(request)
    }
}

/// The credentials of a test officer's client (the CLI's and the report's): the test client's
/// certificate and a token for officer `id` with `roles`.
pub fn credentials(id: &str, roles: &[Role]) -> crate::profile::Credentials {
    crate::profile::Credentials {
        tls: pki().material(&Identity::Officer(TEST_CLIENT.to_owned())),
        token: Some(crate::config::Secret::new(officer_token(id, roles))),
    }
}

/// Test tokens by officer id and roles.
type TokenCache = std::sync::Mutex<std::collections::HashMap<(String, Vec<Role>), String>>;

/// A test officer's token, issued once per officer and roles.
pub fn officer_token(id: &str, roles: &[Role]) -> String {
    static TOKENS: std::sync::OnceLock<TokenCache> = std::sync::OnceLock::new();
    let tokens = TOKENS.get_or_init(Default::default);
    let mut tokens = tokens.lock().expect("the token cache");
    tokens.entry((id.to_owned(), roles.to_vec())).or_insert_with(|| pki().token(id, roles)).clone()
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

/// A test client for a service whose RPCs are partly reserved to its peers: calls of the
/// `reserved` methods go out with the peer service's certificate (as that peer would make them),
/// every other call as the officer with a token. Tests of link-tracking, say, set up links with
/// RegisterLinks as intake would, and read them as an officer.
#[derive(Clone)]
pub struct Routed {
    officer: tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Officer>,
    reserved: Arc<Vec<(&'static str, tonic::transport::Channel)>>,
}

/// The link-tracking RPCs only a peer service may call, and which peer calls them.
pub const LINKS_RESERVED: &[(&str, &str)] = &[
    ("/doxwatch.links.v1.LinksService/RegisterLinks", "intake"),
    ("/doxwatch.links.v1.LinksService/RecordRemovalRequests", "liaison"),
    ("/doxwatch.links.v1.LinksService/EraseCaseData", "referral"),
];

impl Routed {
    /// Calls to `service` as officer `id`, the `reserved` methods as their peers.
    pub fn new(service: &Running, id: &'static str, reserved: &[(&'static str, &'static str)]) -> Self {
        let reserved = reserved
            .iter()
            .map(|(path, peer)| (*path, service.channel_as(&Identity::service(peer).expect("a doxwatch service"))))
            .collect();
        Self {
            officer: tonic::service::interceptor::InterceptedService::new(service.channel.clone(), Officer(Some(id))),
            reserved: Arc::new(reserved),
        }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Routed {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::transport::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        use tower::ServiceExt;
        let peer = self.reserved.iter().find(|(path, _)| *path == request.uri().path()).map(|(_, c)| c.clone());
        match peer {
            Some(channel) => Box::pin(channel.oneshot(request)),
            None => {
                let call = self.officer.clone().oneshot(request);
                Box::pin(async move { call.await.map(|r| r.map(tonic::body::Body::new)) })
            }
        }
    }
}
