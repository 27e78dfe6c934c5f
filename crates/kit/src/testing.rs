//! Fresh stores for tests: a SQLite file in a temporary directory always, and a new PostgreSQL
//! database when `DATABASE_URL` names a server (it is read, never set). Each is removed when the
//! test is done with it.

use sqlx::{Connection, Executor};

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

    /// Every backend this run can test: SQLite, and PostgreSQL when configured.
    pub async fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        if let Some(pg) = Self::postgres().await {
            dbs.push(pg);
        }
        dbs
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

/// A service configuration for tests: port 0, the given store, short grace and backoff, and
/// peers that answer nowhere unless the test sets them.
pub fn config(db: &TestDatabase) -> crate::config::ServiceConfig {
    use std::time::Duration;

    use crate::config::{OutboxConfig, PeerUrls, Secret, ServerLimits, ServiceConfig};
    let nowhere = format!("http://127.0.0.1:{}", unused_port());
    ServiceConfig {
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        database_url: Secret::new(db.url().to_owned()),
        database_max_connections: 5,
        limits: ServerLimits { shutdown_grace: Duration::from_secs(5), ..ServerLimits::default() },
        peers: PeerUrls {
            intake: nowhere.clone(),
            links: nowhere.clone(),
            liaison: nowhere.clone(),
            referral: nowhere,
        },
        outbox: OutboxConfig { poll_interval: Duration::from_millis(50), max_backoff: Duration::from_millis(200) },
    }
}

/// A port nothing listens on (bound, then released).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9)
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
        let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .expect("a URL")
            .connect()
            .await
            .expect("connect to the service");
        Self { addr, channel, shutdown: Some(tx), handle: Some(handle) }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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

/// Adds the acting officer to every request of a test client.
#[derive(Clone)]
pub struct Officer(pub Option<&'static str>);

impl tonic::service::Interceptor for Officer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(name) = self.0 {
            request
                .metadata_mut()
                .insert(crate::actor::OFFICER_HEADER, tonic::metadata::MetadataValue::from_static(name));
        }
        Ok(request)
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

/// Generates a test per backend from `async fn name(db: TestDatabase)`: always on SQLite, and on
/// PostgreSQL when DATABASE_URL names a server.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDatabase::sqlite()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::testing::TestDatabase::postgres().await {
                        Some(db) => super::$name(db).await,
                        None => eprintln!("DATABASE_URL is not set: PostgreSQL run of {} skipped", stringify!($name)),
                    }
                }
            )+
        }
    };
}
