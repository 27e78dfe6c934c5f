//! Starts the real intake service on port 0 with a fresh store, and a gRPC client to it.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use doxwatch_intake::Application;
use doxwatch_kit::{
    actor::OFFICER_HEADER,
    config::{OutboxConfig, PeerUrls, Secret, ServerLimits, ServiceConfig},
    testing::TestDatabase,
};
use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

pub type Client = IntakeServiceClient<InterceptedService<Channel, Officer>>;

/// Names the acting officer on every call.
#[derive(Clone)]
pub struct Officer(pub Option<&'static str>);

impl Interceptor for Officer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(name) = self.0 {
            request.metadata_mut().insert(OFFICER_HEADER, MetadataValue::from_static(name));
        }
        Ok(request)
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

pub fn config(db: &TestDatabase) -> ServiceConfig {
    let nowhere = format!("http://127.0.0.1:{}", unused_port());
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Secret::new(db.url().to_owned()),
        database_max_connections: 5,
        limits: ServerLimits { shutdown_grace: Duration::from_secs(5), ..ServerLimits::default() },
        // No peer runs in these tests: their effects wait in the outbox.
        peers: PeerUrls { intake: nowhere.clone(), links: nowhere.clone(), liaison: nowhere.clone(), referral: nowhere },
        outbox: OutboxConfig::default(),
    }
}

/// A port nothing listens on (bound, then released).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9)
}

pub async fn spawn_app(db: &TestDatabase) -> TestApp {
    spawn_with(config(db)).await
}

pub async fn spawn_with(config: ServiceConfig) -> TestApp {
    let app = Application::build(&config).await.expect("intake builds");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .expect("intake serves");
    });
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.expect("connect");
    let client = IntakeServiceClient::with_interceptor(channel.clone(), Officer(Some("officer-chan")));
    TestApp { addr, client, channel, shutdown: Some(tx), handle: Some(handle) }
}

impl TestApp {
    /// A client that names another officer, or none.
    pub fn client_as(&self, officer: Option<&'static str>) -> Client {
        IntakeServiceClient::with_interceptor(self.channel.clone(), Officer(officer))
    }

    /// Stops the service gracefully and waits for it to close its store.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("intake stops cleanly");
        }
    }
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
                    super::$name(doxwatch_kit::testing::TestDatabase::sqlite()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match doxwatch_kit::testing::TestDatabase::postgres().await {
                        Some(db) => super::$name(db).await,
                        None => eprintln!("DATABASE_URL is not set: PostgreSQL run of {} skipped", stringify!($name)),
                    }
                }
            )+
        }
    };
}

pub fn ts(rfc3339: &str) -> prost_types::Timestamp {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap();
    doxwatch_kit::timestamp::to_proto(t)
}

pub fn subject(name: &str, category: pb::DataSubjectCategory) -> pb::DataSubject {
    pb::DataSubject {
        display_name: name.to_owned(),
        contact: Some(pb::Contact { email: format!("{}@example.invalid", name.to_lowercase().replace(' ', ".")), ..Default::default() }),
        category: category as i32,
        hong_kong_nexus: pb::HongKongNexus::Resident as i32,
    }
}

/// A valid complaint received at `received_at`, about one data subject of `category`.
pub fn complaint(received_at: &str, category: pb::DataSubjectCategory) -> pb::Case {
    pb::Case {
        kind: pb::CaseKind::Complaint as i32,
        received_at: Some(ts(received_at)),
        channel: pb::IntakeChannel::OnlineForm as i32,
        summary: "Personal data posted in a chat channel with a call to harass.".to_owned(),
        reported_urls: vec!["https://t.me/examplechannel/101".to_owned()],
        data_subjects: vec![subject("Test Subject", category)],
        complainant: Some(pb::Complainant {
            display_name: "Test Complainant".to_owned(),
            relationship: pb::ComplainantRelationship::DataSubject as i32,
            contact: None,
        }),
        disclosed_data: vec![pb::DisclosedDataType::Name as i32, pb::DisclosedDataType::Phone as i32],
        alleged_harm: vec![pb::Harm::Harassment as i32],
        ..Default::default()
    }
}

pub async fn create(client: &mut Client, case: pb::Case) -> pb::Case {
    client
        .create_case(pb::CreateCaseRequest { case: Some(case), request_id: String::new() })
        .await
        .expect("case created")
        .into_inner()
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest.
pub fn violated_fields(status: &Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub async fn count_cases(client: &mut Client) -> usize {
    client
        .list_cases(pb::ListCasesRequest { page_size: 500, ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .cases
        .len()
}
