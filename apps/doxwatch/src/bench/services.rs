//! The services a benchmark drives, as a container runs them: each its own `doxwatch serve`
//! process (this very binary), with its own fresh store, certificates from a CA made for the run,
//! and an officer's profile with a bound token to call them with. Security stays as shipped
//! (mutual TLS, tokens, the policy); only the per-officer rate limit is raised, since a benchmark
//! measures the service and not the limiter.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use doxwatch_kit::{
    pki,
    policy::Role,
    profile::{Bearer, Credentials},
    tls::TlsMaterial,
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use super::{process, report::Report, stores::Stores};
use crate::output::CliError;

/// A channel that sends the officer's token with every call.
pub type Officer = InterceptedService<Channel, Bearer>;

/// The agency the run's CA issues a certificate to: referral's default, the Police.
pub const AGENCY: &str = "POLICE";

/// Who a peer channel speaks as.
#[derive(Clone, Copy, Debug)]
pub enum Peer {
    /// One of the suite's services, by name.
    Service(&'static str),
    /// The agency referrals go to ([`AGENCY`]).
    Agency,
}

/// What a run's services share: the CA and keys, the officer's profile, the stores.
pub struct Setup {
    /// Removed when the run ends, with the SQLite stores and the services' logs.
    dir: tempfile::TempDir,
    pki: PathBuf,
    profile: PathBuf,
    pub stores: Stores,
}

impl Setup {
    /// Runs `scenario` on a fresh setup ([`Setup::new`]) and drops its stores after, whatever its
    /// outcome.
    pub async fn run(
        work_dir: &Path,
        database_url: Option<&str>,
        scenario: impl AsyncFnOnce(&Setup) -> Result<Report, CliError>,
    ) -> Result<Report, CliError> {
        let setup = Setup::new(work_dir, database_url).await?;
        let result = scenario(&setup).await;
        setup.stores.drop_all().await;
        result
    }

    /// A CA, every service's certificate and keys, and an officer with every role, in a fresh
    /// directory under `work_dir`; stores on SQLite there, or on the PostgreSQL server named.
    pub async fn new(work_dir: &Path, database_url: Option<&str>) -> Result<Self, CliError> {
        std::fs::create_dir_all(work_dir)
            .map_err(|e| CliError::Other(format!("--work-dir {}: {e}", work_dir.display())))?;
        let dir = tempfile::Builder::new()
            .prefix("doxwatch-bench-")
            .tempdir_in(work_dir)
            .map_err(|e| CliError::Other(format!("--work-dir {}: {e}", work_dir.display())))?;
        let pki_dir = dir.path().join("pki");
        pki::init(&pki_dir, &[], &[AGENCY.to_owned()]).map_err(|e| CliError::chain(&e))?;
        let profile = dir.path().join("officer");
        crate::credentials::issue_officer(&pki_dir, &profile, "bench-officer", Role::ALL, "bench")?;
        let stores = Stores::new(dir.path(), database_url).await?;
        Ok(Self { dir, pki: pki_dir, profile, stores })
    }

    pub fn backend(&self) -> &'static str {
        self.stores.backend()
    }

    pub fn credentials(&self) -> Result<Credentials, CliError> {
        Credentials::load(&self.profile).map_err(|e| CliError::Config(e.to_string()))
    }

    /// A channel to `url` as a peer that the policy knows by its certificate alone (no token):
    /// `Peer::Service` for the calls left to a peer service, such as liaison's
    /// RecordRemovalRequests, `Peer::Agency` for the agency's side of referrals.
    pub async fn peer(&self, peer: Peer, url: &str) -> Result<Officer, CliError> {
        let (dir, name) = match peer {
            Peer::Service(service) => ("services", service),
            Peer::Agency => ("agencies", AGENCY),
        };
        let tls = TlsMaterial::load(
            &self.pki.join("ca.pem"),
            &self.pki.join(format!("{dir}/{name}.pem")),
            &self.pki.join(format!("{dir}/{name}.key")),
        )
        .map_err(|e| CliError::chain(&e))?;
        let credentials = Credentials { tls, token: None };
        let channel = credentials
            .connect(url, Duration::from_secs(3600))
            .await
            .map_err(|e| CliError::Other(format!("cannot connect to {url} as {name}: {e}")))?;
        let bearer = credentials.bearer().map_err(|e| CliError::Config(e.to_string()))?;
        Ok(InterceptedService::new(channel, bearer))
    }

    /// `connections` channels (each one HTTP/2 connection) to `url` as the officer.
    pub async fn officer(&self, url: &str, connections: usize) -> Result<Vec<Officer>, CliError> {
        let credentials = self.credentials()?;
        let bearer = credentials
            .bearer()
            .map_err(|e| CliError::Config(e.to_string()))?
            .with_purpose("benchmark run")
            .map_err(CliError::Other)?;
        let mut channels = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            // The run sets its own deadlines: an import of a million URLs takes minutes.
            let channel = credentials
                .connect(url, Duration::from_secs(3600))
                .await
                .map_err(|e| CliError::Other(format!("cannot connect to {url}: {e}")))?;
            channels.push(InterceptedService::new(channel, bearer.clone()));
        }
        Ok(channels)
    }

    /// Starts `service` as its own process on a free port, with `extra` configuration variables,
    /// and waits until its health says SERVING.
    pub async fn start(&self, service: &'static str, extra: &[(&str, String)]) -> Result<Service, CliError> {
        let port = free_port()?;
        let file = |name: String| self.pki.join(name).display().to_string();
        let mut env = vec![
            ("TLS_CA_FILE".to_owned(), file("ca.pem".into())),
            ("TLS_CERT_FILE".to_owned(), file(format!("services/{service}.pem"))),
            ("TLS_KEY_FILE".to_owned(), file(format!("services/{service}.key"))),
            ("TOKEN_JWKS".to_owned(), file("jwks.json".into())),
            ("AUDIT_KEY_FILE".to_owned(), file(format!("audit/{service}.key"))),
            ("ENCRYPTION_KEY_FILE".to_owned(), file(format!("encryption/{service}.key"))),
            ("LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            ("DATABASE_URL".to_owned(), self.stores.url_for(service).await?),
            ("LOG_FILTER".to_owned(), "warn".to_owned()),
            ("RATE_LIMIT_PER_SECOND".to_owned(), "1000000".to_owned()),
            ("RATE_LIMIT_BURST".to_owned(), "1000000".to_owned()),
        ];
        env.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), value.clone())));
        self.spawn(service, &["serve", service], &env, port).await
    }

    /// Starts the noop scenario's baseline: gRPC health alone, on links' certificate.
    pub async fn start_raw_health(&self) -> Result<Service, CliError> {
        let port = free_port()?;
        let file = |name: &str| self.pki.join(name).display().to_string();
        let (ca, cert, key) = (file("ca.pem"), file("services/links.pem"), file("services/links.key"));
        let listen = format!("127.0.0.1:{port}");
        let args = ["bench", "raw-health", "--listen", &listen, "--ca", &ca, "--cert", &cert, "--key", &key];
        self.spawn("raw-health", &args, &[], port).await
    }

    /// Runs this binary with `args` and `DOXWATCH_<key>` variables, as `name`, serving on `port`.
    async fn spawn(
        &self,
        name: &'static str,
        args: &[&str],
        env: &[(String, String)],
        port: u16,
    ) -> Result<Service, CliError> {
        let log_path = self.dir.path().join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| CliError::Other(format!("cannot write {}: {e}", log_path.display())))?;
        let exe = std::env::current_exe()
            .map_err(|e| CliError::Other(format!("cannot find this program's own binary: {e}")))?;
        let mut command = Command::new(exe);
        command.args(args);
        // Only what this run sets: a DOXWATCH_* variable of the caller's shell is not the run's.
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("DOXWATCH_") {
                command.env_remove(variable);
            }
        }
        for (key, value) in env {
            command.env(format!("DOXWATCH_{key}"), value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| CliError::Other(format!("cannot start {name}: {e}")))?;
        let url = format!("https://127.0.0.1:{port}");
        let mut running = Service { name, url, child, log: log_path, idle: Default::default() };
        running.wait_serving(self).await?;
        running.idle = process::read(running.pid());
        Ok(running)
    }
}

/// A port nothing listens on now, for a service to bind.
fn free_port() -> Result<u16, CliError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| CliError::Other(format!("cannot find a free port: {e}")))
}

/// One running service process; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Service {
    pub name: &'static str,
    pub url: String,
    child: Child,
    log: PathBuf,
    /// Its reading once it served, before any load.
    pub idle: process::Reading,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its CPU time and memory now.
    pub fn reading(&self) -> process::Reading {
        process::read(self.pid())
    }

    async fn wait_serving(&mut self, setup: &Setup) -> Result<(), CliError> {
        use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
        let credentials = setup.credentials()?;
        let started = Instant::now();
        loop {
            if let Ok(channel) = credentials.connect(&self.url, Duration::from_secs(2)).await {
                let mut health = HealthClient::new(channel);
                let request = HealthCheckRequest { service: String::new() };
                if health.check(request).await.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32) {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(CliError::Other(format!(
                    "{} exited at start ({status}); its log ends:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err(CliError::Other(format!(
                    "{} did not serve within 2 minutes; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Asks the service to stop and waits for it (killing it after its grace period).
    pub async fn stop(mut self) {
        self.terminate().await;
    }

    async fn terminate(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory preconditions; the pid is our own child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
