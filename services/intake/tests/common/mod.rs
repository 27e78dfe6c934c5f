//! Starts the real intake service on port 0 with a fresh store, and a gRPC client to it.

#![allow(dead_code)]

use doxwatch_intake::Application;
#[allow(unused_imports)]
pub use doxwatch_kit::{
    backend_tests,
    testing::{ts, violated_fields},
};
use doxwatch_kit::{
    config::ServiceConfig,
    testing::{Officer, Running, TestDatabase},
};
use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

pub type Client = IntakeServiceClient<InterceptedService<Channel, Officer>>;

pub struct TestApp {
    pub client: Client,
    pub channel: Channel,
    running: Running,
}

pub fn config(db: &TestDatabase) -> ServiceConfig {
    doxwatch_kit::testing::config(db, "intake")
}

pub async fn spawn_app(db: &TestDatabase) -> TestApp {
    spawn_with(config(db)).await
}

pub async fn spawn_with(config: ServiceConfig) -> TestApp {
    spawn_with_own(config, &doxwatch_intake::IntakeConfig::default()).await
}

/// Starts intake with its own keys (retention) as given.
pub async fn spawn_with_own(config: ServiceConfig, own: &doxwatch_intake::IntakeConfig) -> TestApp {
    let app = Application::build_with(&config, own).await.expect("intake builds");
    let running = Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await;
    let channel = running.channel.clone();
    let client = IntakeServiceClient::with_interceptor(channel.clone(), Officer(Some("officer-chan")));
    TestApp { client, channel, running }
}

impl TestApp {
    /// A client that names another officer, or none.
    pub fn client_as(&self, officer: Option<&'static str>) -> Client {
        IntakeServiceClient::with_interceptor(self.channel.clone(), Officer(officer))
    }

    /// A channel presenting `identity`'s certificate (a peer service's, an agency's).
    pub fn channel_as(&self, identity: &doxwatch_kit::identity::Identity) -> Channel {
        self.running.channel_as(identity)
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}

pub fn subject(name: &str, category: pb::DataSubjectCategory) -> pb::DataSubject {
    pb::DataSubject {
        display_name: name.to_owned(),
        contact: Some(pb::Contact {
            email: format!("{}@example.invalid", name.to_lowercase().replace(' ', ".")),
            ..Default::default()
        }),
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

pub async fn count_cases(client: &mut Client) -> usize {
    client
        .list_cases(pb::ListCasesRequest { page_size: 500, ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .cases
        .len()
}
