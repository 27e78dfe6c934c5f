//! Starts link-tracking, intake and referral on port 0, each with a fresh store, wired to each
//! other as in production; clients for officers and for agencies, and the steps tests repeat.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

#[allow(unused_imports)]
pub use doxwatch_kit::{
    backend_tests,
    testing::{eventually, ts, violated_fields},
};
use doxwatch_kit::{
    config::{PeerUrls, ServiceConfig},
    run_app,
    testing::{ANY_PORT, Backend, DownPeer, FreshStores, Officer, Running, TestDatabase, no_peers, start_service},
};
use doxwatch_proto::{
    intake::{self as intake_pb, intake_service_client::IntakeServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
    ops::{self as ops_pb, outbox_service_client::OutboxServiceClient},
    referral::{
        self as pb, agency_referral_service_client::AgencyReferralServiceClient,
        referral_service_client::ReferralServiceClient,
    },
};
use tonic::{Status, service::interceptor::InterceptedService, transport::Channel};

pub type Client = ReferralServiceClient<InterceptedService<Channel, Officer>>;
pub type AgencyClient = AgencyReferralServiceClient<InterceptedService<Channel, Officer>>;
pub type Intake = IntakeServiceClient<InterceptedService<Channel, Officer>>;
pub type Links = LinksServiceClient<doxwatch_kit::testing::Routed>;

/// The heartbeat interval the tests run with, so that an idle stream hears one quickly.
pub const HEARTBEAT: Duration = Duration::from_millis(300);

pub struct Stores {
    pub referral: TestDatabase,
    pub intake: TestDatabase,
    pub links: TestDatabase,
    evidence: tempfile::TempDir,
}

impl Stores {
    pub fn new(referral: TestDatabase, intake: TestDatabase, links: TestDatabase) -> Self {
        Self { referral, intake, links, evidence: tempfile::tempdir().expect("a temporary directory") }
    }
}

impl FreshStores for Stores {
    async fn fresh(backend: Backend) -> Option<Self> {
        let (referral, intake, links) =
            tokio::join!(TestDatabase::on(backend), TestDatabase::on(backend), TestDatabase::on(backend));
        Some(Self::new(referral?, intake?, links?))
    }
}

pub struct Suite {
    pub referral: Client,
    pub intake: Intake,
    pub links: Links,
    referral_service: Option<Running>,
    intake_service: Option<Running>,
    links_service: Option<Running>,
    intake_addr: SocketAddr,
    links_addr: SocketAddr,
}

async fn start_links(stores: &Stores, listen: SocketAddr) -> Running {
    start_service(&stores.links, "links", listen, no_peers(), async |config: ServiceConfig| {
        let mut own = doxwatch_links::config::LinksConfig::defaults(&config);
        own.evidence.location = doxwatch_links::blob::EvidenceLocation::Local(stores.evidence.path().to_owned());
        let app = doxwatch_links::Application::build_with(&config, &own).await.expect("links builds");
        Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
    })
    .await
}

async fn start_intake(stores: &Stores, listen: SocketAddr, links: SocketAddr) -> Running {
    let peers = PeerUrls { links: format!("https://{links}"), ..no_peers() };
    start_service(&stores.intake, "intake", listen, peers, run_app!(doxwatch_intake::Application)).await
}

async fn start_referral(stores: &Stores, intake: &Running, links: &Running) -> Running {
    let peers = PeerUrls { intake: intake.url(), links: links.url(), ..no_peers() };
    start_service(&stores.referral, "referral", ANY_PORT, peers, async |config: ServiceConfig| {
        let own = doxwatch_referral::ReferralConfig {
            agencies: vec!["POLICE".into(), "ICAC".into()],
            watch_heartbeat: HEARTBEAT,
            ..Default::default()
        };
        let app = doxwatch_referral::Application::build_with(&config, &own).await.expect("referral builds");
        Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
    })
    .await
}

pub async fn start(stores: &Stores) -> Suite {
    let links_service = start_links(stores, ANY_PORT).await;
    let intake_service = start_intake(stores, ANY_PORT, links_service.addr).await;
    let referral_service = start_referral(stores, &intake_service, &links_service).await;
    Suite {
        referral: ReferralServiceClient::with_interceptor(
            referral_service.channel.clone(),
            Officer(Some("officer-lam")),
        ),
        intake: IntakeServiceClient::with_interceptor(intake_service.channel.clone(), Officer(Some("officer-lam"))),
        links: LinksServiceClient::new(doxwatch_kit::testing::Routed::new(
            &links_service,
            "officer-lam",
            doxwatch_kit::testing::LINKS_RESERVED,
        )),
        intake_addr: intake_service.addr,
        links_addr: links_service.addr,
        referral_service: Some(referral_service),
        intake_service: Some(intake_service),
        links_service: Some(links_service),
    }
}

/// Criteria that support every decision.
pub fn criteria() -> pb::Criteria {
    pb::Criteria {
        disclosed_without_consent: true,
        intent_or_recklessness: pb::IntentOrRecklessness::Intent as i32,
        harms_intended: vec![intake_pb::Harm::Harassment as i32],
        harm_caused: vec![intake_pb::Harm::PsychologicalHarm as i32],
        hong_kong_nexus: intake_pb::HongKongNexus::Resident as i32,
        discloser: pb::Discloser::Unidentified as i32,
        legal_basis: vec![pb::LegalBasis::S643a as i32, pb::LegalBasis::S643c as i32],
    }
}

impl Suite {
    pub fn referral_channel(&self) -> Channel {
        self.referral_service.as_ref().expect("referral is running").channel.clone()
    }

    /// The Police's client with the Police's certificate (or another agency's; `None` is an
    /// officer's client without a token).
    pub fn agency(&self, name: Option<&'static str>) -> AgencyClient {
        let channel = match name {
            Some(agency) => self
                .referral_service
                .as_ref()
                .expect("referral is running")
                .channel_as(&doxwatch_kit::identity::Identity::Agency(agency.to_owned())),
            None => self.referral_channel(),
        };
        AgencyReferralServiceClient::with_interceptor(channel, Officer(None))
    }

    /// A referral client with the certificate of peer service `service`.
    pub fn referral_as(&self, service: &'static str) -> ReferralServiceClient<Channel> {
        let running = self.referral_service.as_ref().expect("referral is running");
        ReferralServiceClient::new(running.channel_as(&doxwatch_kit::identity::Identity::Service(service)))
    }

    pub fn police(&self) -> AgencyClient {
        self.agency(Some("POLICE"))
    }

    pub fn officer(&self, name: Option<&'static str>) -> Client {
        ReferralServiceClient::with_interceptor(self.referral_channel(), Officer(name))
    }

    pub fn outbox(&self) -> OutboxServiceClient<InterceptedService<Channel, Officer>> {
        OutboxServiceClient::with_interceptor(self.referral_channel(), Officer(Some("officer-lam")))
    }

    pub async fn stop_intake(&mut self) {
        if let Some(intake) = self.intake_service.take() {
            intake.stop().await;
        }
    }

    /// A stand-in on intake's address that turns every call away as UNAVAILABLE, while intake is
    /// stopped.
    pub async fn intake_down(&self) -> DownPeer {
        DownPeer::start(self.intake_addr).await
    }

    /// Starts intake again on its old address, with its old store.
    pub async fn restart_intake(&mut self, stores: &Stores) {
        let intake = start_intake(stores, self.intake_addr, self.links_addr).await;
        self.intake = IntakeServiceClient::with_interceptor(intake.channel.clone(), Officer(Some("officer-lam")));
        self.intake_service = Some(intake);
    }

    pub async fn stop_links(&mut self) {
        if let Some(links) = self.links_service.take() {
            links.stop().await;
        }
    }

    pub async fn stop_referral(&mut self) {
        if let Some(referral) = self.referral_service.take() {
            referral.stop().await;
        }
    }

    pub async fn stop(mut self) {
        self.stop_referral().await;
        self.stop_intake().await;
        self.stop_links().await;
    }

    /// Records a case of `kind` received at `received_at`, citing `urls`; returns its name.
    pub async fn case_of(&mut self, kind: intake_pb::CaseKind, received_at: &str, urls: &[&str]) -> String {
        let case = intake_pb::Case {
            kind: kind as i32,
            received_at: Some(ts(received_at)),
            channel: intake_pb::IntakeChannel::OnlineForm as i32,
            summary: "Personal data posted in a chat channel with a call to harass.".to_owned(),
            reported_urls: urls.iter().map(|u| u.to_string()).collect(),
            data_subjects: vec![intake_pb::DataSubject {
                display_name: "Test Subject".to_owned(),
                contact: None,
                category: intake_pb::DataSubjectCategory::PoliceOfficer as i32,
                hong_kong_nexus: intake_pb::HongKongNexus::Resident as i32,
            }],
            ..Default::default()
        };
        let request = intake_pb::CreateCaseRequest { case: Some(case), request_id: String::new() };
        self.intake.create_case(request).await.expect("case recorded").into_inner().name
    }

    pub async fn complaint(&mut self, received_at: &str) -> String {
        self.case_of(intake_pb::CaseKind::Complaint, received_at, &[]).await
    }

    pub async fn try_assess(
        &mut self,
        case: &str,
        decision: pb::Decision,
        assessed_at: &str,
        criteria: pb::Criteria,
    ) -> Result<pb::Assessment, Status> {
        let reason =
            if decision == pb::Decision::NoFurtherAction { "no evidence of intent".to_owned() } else { String::new() };
        let assessment = pb::Assessment {
            case: case.to_owned(),
            criteria: Some(criteria),
            decision: decision as i32,
            reason,
            assessed_at: Some(ts(assessed_at)),
            ..Default::default()
        };
        self.referral
            .create_assessment(pb::CreateAssessmentRequest { assessment: Some(assessment), request_id: String::new() })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn assess(&mut self, case: &str, decision: pb::Decision, assessed_at: &str) -> pb::Assessment {
        self.try_assess(case, decision, assessed_at, criteria()).await.expect("assessed")
    }

    pub async fn try_refer(
        &mut self,
        assessment: &str,
        agency: &str,
        referred_at: &str,
    ) -> Result<pb::Referral, Status> {
        let referral = pb::Referral {
            assessment: assessment.to_owned(),
            agency: agency.to_owned(),
            referred_at: Some(ts(referred_at)),
            summary: "Doxxing of a police officer's family in a public channel.".to_owned(),
            ..Default::default()
        };
        self.referral
            .create_referral(pb::CreateReferralRequest { referral: Some(referral), request_id: String::new() })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn refer(&mut self, assessment: &str, agency: &str, referred_at: &str) -> pb::Referral {
        self.try_refer(assessment, agency, referred_at).await.expect("referred")
    }

    /// A case assessed REFER_TO_POLICE and referred to `agency`.
    pub async fn referred_case(
        &mut self,
        received_at: &str,
        referred_at: &str,
        agency: &str,
    ) -> (String, pb::Referral) {
        let case = self.complaint(received_at).await;
        let assessment = self.assess(&case, pb::Decision::ReferToPolice, received_at).await;
        let referral = self.refer(&assessment.name, agency, referred_at).await;
        (case, referral)
    }

    pub async fn withdraw(&mut self, referral: &str, at: &str) -> pb::Referral {
        let request = pb::WithdrawReferralRequest {
            name: referral.to_owned(),
            reason: "sent to the wrong agency".to_owned(),
            occurred_at: Some(ts(at)),
            request_id: String::new(),
        };
        self.referral.withdraw_referral(request).await.expect("withdrawn").into_inner()
    }

    pub async fn case(&mut self, case: &str) -> intake_pb::Case {
        self.intake.get_case(intake_pb::GetCaseRequest { name: case.to_owned() }).await.expect("the case").into_inner()
    }

    /// The case's status in intake once it is `expected` (or whatever it is after 15 seconds).
    pub async fn case_status_eventually(
        &mut self,
        case: &str,
        expected: intake_pb::CaseStatus,
    ) -> intake_pb::CaseStatus {
        let mut status = None;
        eventually(Duration::from_secs(15), async || {
            let request = intake_pb::GetCaseRequest { name: case.to_owned() };
            status = self.intake.get_case(request).await.ok().map(|c| c.into_inner().status);
            (status == Some(expected as i32)).then_some(())
        })
        .await;
        status.and_then(|s| intake_pb::CaseStatus::try_from(s).ok()).unwrap_or_default()
    }

    pub async fn case_events(&mut self, case: &str) -> Vec<intake_pb::CaseEvent> {
        let request =
            intake_pb::ListCaseEventsRequest { name: case.to_owned(), page_size: 500, page_token: String::new() };
        self.intake.list_case_events(request).await.expect("the case's events").into_inner().events
    }

    /// The referral service's outbox once nothing is pending (or after 15 seconds).
    pub async fn outbox_settled(&mut self) -> ops_pb::OutboxStatus {
        let mut status = ops_pb::OutboxStatus::default();
        eventually(Duration::from_secs(15), async || {
            let request = ops_pb::GetOutboxStatusRequest {};
            status = self.outbox().get_outbox_status(request).await.expect("outbox status").into_inner();
            (status.pending == 0).then_some(())
        })
        .await;
        status
    }

    /// Link-tracking's links of a case once there are `n` (or after 15 seconds).
    pub async fn case_links_eventually(&mut self, case: &str, n: usize) -> Vec<links_pb::Link> {
        let mut links = Vec::new();
        eventually(Duration::from_secs(15), async || {
            let request = links_pb::ListLinksRequest { case: case.to_owned(), page_size: 100, ..Default::default() };
            links = self.links.list_links(request).await.expect("links").into_inner().links;
            (links.len() == n).then_some(())
        })
        .await;
        links
    }

    /// Stores a capture of `link` and returns its SHA-256.
    pub async fn capture(&mut self, link: &str, bytes: &[u8]) -> String {
        let metadata = links_pb::EvidenceMetadata {
            link: link.to_owned(),
            media_type: "text/plain".to_owned(),
            captured_at: Some(ts("2019-09-01T10:00:00+08:00")),
            note: "screenshot of the post".to_owned(),
            request_id: String::new(),
        };
        let messages = vec![
            links_pb::AddEvidenceRequest { content: Some(links_pb::add_evidence_request::Content::Metadata(metadata)) },
            links_pb::AddEvidenceRequest {
                content: Some(links_pb::add_evidence_request::Content::Chunk(bytes.to_vec())),
            },
        ];
        self.links.add_evidence(tokio_stream::iter(messages)).await.expect("evidence stored").into_inner().sha256
    }
}
