//! `doxwatch serve` as a container runs it: health follows its store (a write lock held from
//! outside turns it NOT_SERVING, and releasing it SERVING again, without a restart), and SIGTERM
//! stops it within its grace period even with a call stuck on that lock, naming what it cut short.

use std::{
    io::Read,
    process::{Child, Command, Stdio},
    str::FromStr,
    time::{Duration, Instant},
};

use sqlx::{
    Connection, Executor,
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

const BIN: &str = env!("CARGO_BIN_EXE_doxwatch");
const GRACE: Duration = Duration::from_millis(1500);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn serving(url: &str, profile: &std::path::Path) -> bool {
    Command::new(BIN)
        .args(["health", "--url", url])
        .env("DOXWATCH_PROFILE", profile)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} within {within:?}");
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_store_and_sigterm_always_stops_the_service() {
    let data = tempfile::tempdir().expect("a temporary directory");
    let db_path = data.path().join("intake.db");
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    // The suite's certificates and an officer's profile, as an operator makes them.
    let pki = data.path().join("pki");
    let profile = data.path().join("officer");
    let made = Command::new(BIN).args(["certs", "init"]).arg(&pki).output().expect("certs init runs");
    assert!(made.status.success(), "certs init: {}", String::from_utf8_lossy(&made.stderr));
    let made = Command::new(BIN)
        .args(["officer", "add", "officer-chan", "--roles", "intake_officer", "--team", "team-a", "--pki"])
        .arg(&pki)
        .arg("--out")
        .arg(&profile)
        .output()
        .expect("officer add runs");
    assert!(made.status.success(), "officer add: {}", String::from_utf8_lossy(&made.stderr));
    let mut service = Service(
        Command::new(BIN)
            .args(["serve", "intake"])
            .env("DOXWATCH_TLS_CA_FILE", pki.join("ca.pem"))
            .env("DOXWATCH_TLS_CERT_FILE", pki.join("services/intake.pem"))
            .env("DOXWATCH_TLS_KEY_FILE", pki.join("services/intake.key"))
            .env("DOXWATCH_TOKEN_JWKS", pki.join("jwks.json"))
            .env("DOXWATCH_AUDIT_KEY_FILE", pki.join("audit/intake.key"))
            .env("DOXWATCH_ENCRYPTION_KEY_FILE", pki.join("encryption/intake.key"))
            .env("DOXWATCH_LISTEN", format!("127.0.0.1:{port}"))
            .env("DOXWATCH_DATABASE_URL", format!("sqlite://{}", db_path.display()))
            .env("DOXWATCH_SHUTDOWN_GRACE_MS", GRACE.as_millis().to_string())
            .env("DOXWATCH_STORE_PROBE_TIMEOUT_MS", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("doxwatch serve starts"),
    );
    wait_for("intake serving", Duration::from_secs(15), || serving(&url, &profile));

    // Another process takes the store's write lock: health says so, and recovers when it is freed.
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db_path.display())).expect("a SQLite URL");
    let mut outsider = SqliteConnection::connect_with(&options).await.expect("open the store from outside");
    outsider.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
    wait_for("NOT_SERVING while the store is locked", Duration::from_secs(5), || !serving(&url, &profile));
    outsider.execute("ROLLBACK").await.expect("release the write lock");
    wait_for("SERVING once the lock is released", Duration::from_secs(5), || serving(&url, &profile));

    // A write stuck behind the lock does not hold the process past its grace period.
    outsider.execute("BEGIN IMMEDIATE").await.expect("take the write lock again");
    let call = tokio::spawn(stuck_create(url.clone(), profile.clone()));
    // Nothing outside the process shows that the call has reached it and waits on the lock; half a
    // second lets it get there before the signal.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pid = i32::try_from(service.0.id()).expect("a pid");
    // SAFETY: sending a signal to a child process this test started and still owns.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = service.0.try_wait().expect("wait for the service") {
            break status;
        }
        assert!(signalled.elapsed() < GRACE + Duration::from_secs(2), "SIGTERM did not stop the service");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "a shutdown that cut work short exits non-zero");
    let mut log = String::new();
    service.0.stderr.take().expect("stderr").read_to_string(&mut log).expect("read the log");
    assert!(log.contains("CreateCase"), "the log names the call cut short:\n{log}");
    call.abort();
    outsider.execute("ROLLBACK").await.expect("release the lock");
}

/// A CreateCase that waits on the store's write lock.
async fn stuck_create(url: String, profile: std::path::PathBuf) {
    use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
    let credentials = doxwatch_kit::profile::Credentials::load(&profile).expect("the officer's profile");
    let Ok(channel) = credentials.connect(&url, Duration::from_secs(30)).await else { return };
    let mut client = IntakeServiceClient::with_interceptor(channel, credentials.bearer().expect("a token"));
    let case = pb::Case {
        kind: pb::CaseKind::Complaint as i32,
        received_at: Some(prost_types::Timestamp { seconds: 1_562_000_000, nanos: 0 }),
        channel: pb::IntakeChannel::OnlineForm as i32,
        summary: "A case written while the store is locked.".to_owned(),
        data_subjects: vec![pb::DataSubject {
            display_name: "Test Subject".to_owned(),
            category: pb::DataSubjectCategory::Student as i32,
            hong_kong_nexus: pb::HongKongNexus::Resident as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    let _ = client.create_case(pb::CreateCaseRequest { case: Some(case), request_id: String::new() }).await;
}
