//! The services as a container runs them: each its own `doxwatch serve` process with its own
//! store, certificates from the suite's CA, and an officer's profile to call them with. A process
//! can be killed with SIGKILL at any moment and started again on the same port and store.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use doxwatch_kit::{
    profile::{Bearer, Credentials},
    testing::TestDatabase,
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

pub const BIN: &str = env!("CARGO_BIN_EXE_doxwatch");

/// A channel that sends the officer's token and purpose with every call.
pub type Officer = InterceptedService<Channel, Bearer>;

/// The suite's CA, the services' certificates and keys, and an officer's profile.
pub struct Pki {
    pub dir: PathBuf,
    pub profile: PathBuf,
}

impl Pki {
    /// Made by `doxwatch certs init` and `doxwatch officer add`, as an operator makes them.
    pub fn make(under: &Path) -> Self {
        let dir = under.join("pki");
        let profile = under.join("officer");
        run_ok(Command::new(BIN).args(["certs", "init"]).arg(&dir));
        run_ok(
            Command::new(BIN)
                .args(["officer", "add", "officer-fault", "--roles", "intake_officer,supervisor,operator"])
                .args(["--team", "team-a", "--pki"])
                .arg(&dir)
                .arg("--out")
                .arg(&profile),
        );
        Self { dir, profile }
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::load(&self.profile).expect("the officer's profile")
    }

    /// The officer's token, stating why they read case details.
    pub fn bearer(&self) -> Bearer {
        self.credentials().bearer().expect("a token").with_purpose("fault harness check").expect("a purpose")
    }
}

fn run_ok(command: &mut Command) {
    let out = command.output().expect("doxwatch runs");
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// One service of the suite, run as its own process; started again on the same port and store.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    database_url: String,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    pub starts: u32,
}

impl Service {
    pub fn new(name: &'static str, db: &TestDatabase, pki: &Pki, logs: &Path) -> Self {
        let port = free_port();
        let dir = &pki.dir;
        let file = |p: String| dir.join(p).display().to_string();
        let env = vec![
            ("DOXWATCH_TLS_CA_FILE".to_owned(), file("ca.pem".into())),
            ("DOXWATCH_TLS_CERT_FILE".to_owned(), file(format!("services/{name}.pem"))),
            ("DOXWATCH_TLS_KEY_FILE".to_owned(), file(format!("services/{name}.key"))),
            ("DOXWATCH_TOKEN_JWKS".to_owned(), file("jwks.json".into())),
            ("DOXWATCH_AUDIT_KEY_FILE".to_owned(), file(format!("audit/{name}.key"))),
            ("DOXWATCH_ENCRYPTION_KEY_FILE".to_owned(), file(format!("encryption/{name}.key"))),
            ("DOXWATCH_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            ("DOXWATCH_LOG_FILTER".to_owned(), "warn".to_owned()),
        ];
        let log = logs.join(format!("{name}.log"));
        Self { name, port, database_url: db.url().to_owned(), env, log, child: None, starts: 0 }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Sets a configuration key for every later start, e.g. ("LINKS_URL", url).
    #[allow(dead_code)] // the database-down test starts intake alone
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((format!("DOXWATCH_{key}"), value.into()));
        self
    }

    /// Starts the process (its log appended to the service's log file) and waits until it serves.
    pub async fn start(&mut self, pki: &Pki) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = File::options().create(true).append(true).open(&self.log).expect("the service's log file");
        let child = Command::new(BIN)
            .args(["serve", self.name])
            .envs(self.env.iter().cloned())
            .env("DOXWATCH_DATABASE_URL", &self.database_url)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("doxwatch serve starts");
        self.child = Some(child);
        self.starts += 1;
        let started = Instant::now();
        while !self.serving(pki).await {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited at start ({status}); its log:\n{}", self.name, self.log_tail());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} not serving; log:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight cut off.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether the service's health says SERVING.
    pub async fn serving(&self, pki: &Pki) -> bool {
        use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
        let Ok(channel) = pki.credentials().connect(&self.url(), Duration::from_secs(2)).await else { return false };
        let mut health = HealthClient::with_interceptor(channel, pki.bearer());
        let mut request = tonic::Request::new(HealthCheckRequest { service: String::new() });
        request.set_timeout(Duration::from_secs(2));
        health.check(request).await.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
    }

    /// A channel to the service that reconnects by itself after a restart.
    pub async fn connect(&self, pki: &Pki) -> Officer {
        let channel = pki.credentials().connect(&self.url(), Duration::from_secs(5)).await.expect("connect");
        InterceptedService::new(channel, pki.bearer())
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}
