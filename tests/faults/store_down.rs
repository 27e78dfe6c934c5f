//! A service whose PostgreSQL database stops taking connections, as when the database server is
//! restarted or cut off: calls fail at once with UNAVAILABLE (a client retries those), health
//! says NOT_SERVING, and when the database takes connections again the service serves again,
//! without a restart. PostgreSQL only: it needs `DATABASE_URL`.

mod process;

use std::time::{Duration, Instant};

use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use process::{Officer, Pki, Service};
use sqlx::{Connection, Executor, PgConnection};

/// The longest a call may take to fail while the store is away: "at once", with room for a
/// loaded machine.
const FAIL_FAST: Duration = Duration::from_secs(3);

fn case() -> pb::CreateCaseRequest {
    pb::CreateCaseRequest {
        case: Some(pb::Case {
            kind: pb::CaseKind::Complaint as i32,
            received_at: Some(prost_types::Timestamp { seconds: 1_562_000_000, nanos: 0 }),
            channel: pb::IntakeChannel::OnlineForm as i32,
            summary: "A case written around a database outage.".to_owned(),
            reported_urls: vec!["https://forum.example.com/t/outage".to_owned()],
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn create(intake: &Officer) -> Result<pb::Case, tonic::Status> {
    let mut request = tonic::Request::new(case());
    request.set_timeout(Duration::from_secs(20));
    IntakeServiceClient::new(intake.clone()).create_case(request).await.map(|r| r.into_inner())
}

/// Turns connections to `database` away (`on` false) or lets them in again. Turned away, the
/// database also loses every connection it has. The database's owner may do both.
async fn connections(admin_url: &str, database: &str, on: bool) {
    let mut admin = PgConnection::connect(admin_url).await.expect("connect to DATABASE_URL");
    admin.execute(format!("ALTER DATABASE {database} ALLOW_CONNECTIONS {on}").as_str()).await.expect("ALTER DATABASE");
    if !on {
        let terminate = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        );
        admin.execute(terminate.as_str()).await.expect("end the service's connections");
    }
    let _ = admin.close().await;
}

async fn wait_for(what: &str, within: Duration, mut condition: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_and_comes_back() {
    let Some(db) = TestDatabase::postgres().await else {
        eprintln!("DATABASE_URL is not set: the database-down test is skipped");
        return;
    };
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let database = db.url().rsplit('/').next().and_then(|n| n.split('?').next()).expect("a database name").to_owned();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = Pki::make(dir.path());
    let mut intake = Service::new("intake", &db, &pki, dir.path());
    intake.start(&pki).await;
    let api = intake.connect(&pki).await;
    let first = create(&api).await.expect("a case is written while the database is up");

    connections(&admin_url, &database, false).await;
    let started = Instant::now();
    let refused = create(&api).await.expect_err("no case is written while the database is away");
    let took = started.elapsed();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}\n{}", intake.log_tail());
    assert!(took < FAIL_FAST, "the call took {took:?} to fail");
    let mut read = tonic::Request::new(pb::GetCaseRequest { name: first.name.clone() });
    read.set_timeout(Duration::from_secs(20));
    let refused = IntakeServiceClient::new(api.clone()).get_case(read).await.expect_err("no read either");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "a read: {refused:?}");
    let down = wait_for("NOT_SERVING while the database is away", Duration::from_secs(10), async || {
        !intake.serving(&pki).await
    })
    .await;

    connections(&admin_url, &database, true).await;
    let up =
        wait_for("SERVING once the database is back", Duration::from_secs(15), async || intake.serving(&pki).await)
            .await;
    let written = create(&api).await.expect("a case is written once the database is back");
    assert!(written.name.starts_with("cases/"));
    assert!(intake.is_running(), "no restart");
    eprintln!(
        "failed in {took:?} (UNAVAILABLE); NOT_SERVING after {down:?}; SERVING {up:?} after the database returned"
    );
}
