//! What the bad inputs are aimed at: a case with a link, a platform, an observation, a platform
//! contact, a draft notice, an assessment and a referral, each made by a good call (some with a
//! `request_id` that a bad input then reuses), and clients for every caller the RPCs admit.

use std::time::Duration;

use doxwatch_kit::{
    identity::Identity,
    testing::{Officer, eventually, ts},
};
use doxwatch_proto::{
    intake as ipb,
    liaison::{self as npb, liaison_service_client::LiaisonServiceClient},
    links as lpb,
    ops::{
        self as opb, late_records_service_client::LateRecordsServiceClient, outbox_service_client::OutboxServiceClient,
    },
    referral::{
        self as rpb, agency_referral_service_client::AgencyReferralServiceClient,
        referral_service_client::ReferralServiceClient,
    },
};
use doxwatch_suite_tests::{Intake, Links, Suite, intake, links, outbox};
use prost_types::Timestamp;
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use super::walk::{Class, Walk, accepted};

pub type Liaison = LiaisonServiceClient<InterceptedService<Channel, Officer>>;
pub type Referral = ReferralServiceClient<InterceptedService<Channel, Officer>>;
pub type Agency = AgencyReferralServiceClient<Channel>;

pub struct Clients {
    pub intake: Intake,
    pub links: Links,
    pub liaison: Liaison,
    pub referral: Referral,
    /// The Police's system, with its certificate.
    pub police: Agency,
    /// Intake, as the peer that alone may erase a case's data in liaison and referral.
    pub liaison_as_intake: LiaisonServiceClient<Channel>,
    pub referral_as_intake: ReferralServiceClient<Channel>,
    /// Every service's outbox.
    pub outboxes: Vec<OutboxServiceClient<InterceptedService<Channel, Officer>>>,
    /// Every service's late records.
    pub late_records: Vec<LateRecordsServiceClient<InterceptedService<Channel, Officer>>>,
}

impl Clients {
    pub fn new(suite: &Suite) -> Self {
        let officer = |channel: &Channel| (channel.clone(), Officer(Some("officer-wong")));
        let peer = |running: &doxwatch_kit::testing::Running| {
            running.channel_as(&Identity::service("intake").expect("a doxwatch service"))
        };
        let (channel, who) = officer(&suite.liaison.channel);
        let liaison = LiaisonServiceClient::with_interceptor(channel, who);
        let (channel, who) = officer(&suite.referral.channel);
        let referral = ReferralServiceClient::with_interceptor(channel, who);
        Self {
            intake: intake(&suite.intake),
            links: links(&suite.links),
            liaison,
            referral,
            police: AgencyReferralServiceClient::new(suite.referral.channel_as(&Identity::Agency("POLICE".into()))),
            liaison_as_intake: LiaisonServiceClient::new(peer(&suite.liaison)),
            referral_as_intake: ReferralServiceClient::new(peer(&suite.referral)),
            outboxes: [&suite.intake, &suite.links, &suite.liaison, &suite.referral].map(outbox).into(),
            late_records: [&suite.intake, &suite.links, &suite.liaison, &suite.referral]
                .map(|s| LateRecordsServiceClient::with_interceptor(s.channel.clone(), Officer(Some("officer-wong"))))
                .into(),
        }
    }
}

/// When the case was received and its link first seen.
pub const RECEIVED: &str = "2019-07-01T09:00:00+08:00";
/// A platform name full of SQL metacharacters, kept as text.
pub const SQL_PLATFORM: &str = "Forum %_'); DROP TABLE platforms; --";
pub const SQL_SUMMARY: &str = "Posted in a chat channel'; DROP TABLE cases; --";

pub fn at(rfc3339: &str) -> Option<Timestamp> {
    Some(ts(rfc3339))
}

/// One second before the earliest business time the services accept.
pub fn before_earliest() -> Option<Timestamp> {
    at("1999-12-31T23:59:59Z")
}

pub fn far_future() -> Option<Timestamp> {
    at("3000-01-01T00:00:00Z")
}

pub fn bad_nanos() -> Option<Timestamp> {
    Some(Timestamp { seconds: 1_562_000_000, nanos: 1_000_000_000 })
}

/// Five MiB of text: more than the 4 MiB a message may have.
pub fn oversized() -> String {
    "x".repeat(5 << 20)
}

/// A `request_id` one character longer than the 128 allowed.
pub fn long_request_id() -> String {
    "r".repeat(doxwatch_kit::idempotency::MAX_REQUEST_ID_LEN + 1)
}

pub struct Fixture {
    pub case: String,
    pub link: String,
    /// The platform the link is on (from the registry).
    pub platform: String,
    /// A platform made here, with a domain of its own.
    pub own_platform: String,
    pub own_domain: String,
    pub channel: String,
    pub notice: String,
    pub assessment: String,
    pub referral: String,
    /// A capture of what the link showed.
    pub evidence: String,
    /// A case assessed but not referred, and its assessment.
    pub fresh_case: String,
    pub fresh_assessment: String,
    /// A real page token of the case's events, and one of the platforms.
    pub events_token: String,
    pub platforms_token: String,
}

impl Fixture {
    pub async fn make(c: &Clients, walk: &mut Walk) -> Self {
        let mut intake = c.intake.clone();
        let case = intake
            .create_case(ipb::CreateCaseRequest { case: Some(good_case()), request_id: "bad-input-case".into() })
            .await
            .expect("a case")
            .into_inner();
        assert_eq!(case.summary, SQL_SUMMARY, "SQL metacharacters are kept as text");
        walk.record(Class::SqlInText, "CreateCase", &accepted(), Ok(()));
        intake
            .add_case_note(ipb::AddCaseNoteRequest {
                name: case.name.clone(),
                note: "called back".into(),
                request_id: "bad-input-note".into(),
                ..Default::default()
            })
            .await
            .expect("a note");
        let link = eventually(Duration::from_secs(10), || {
            let mut links = c.links.clone();
            let case = case.name.clone();
            async move {
                let request = lpb::ListLinksRequest { case, ..Default::default() };
                links.list_links(request).await.ok()?.into_inner().links.pop()
            }
        })
        .await
        .expect("the case's link reaches link-tracking");
        let mut links = c.links.clone();
        let own_domain = "forum.bad-input.example".to_owned();
        let own = links
            .create_platform(lpb::CreatePlatformRequest {
                platform: Some(lpb::Platform {
                    display_name: SQL_PLATFORM.into(),
                    kind: lpb::PlatformKind::Forum as i32,
                    domains: vec![own_domain.clone()],
                    ..Default::default()
                }),
                request_id: "bad-input-platform".into(),
            })
            .await
            .expect("a platform")
            .into_inner();
        assert_eq!(own.display_name, SQL_PLATFORM, "SQL metacharacters are kept as text");
        walk.record(Class::SqlInText, "CreatePlatform", &accepted(), Ok(()));
        links
            .record_observations(lpb::RecordObservationsRequest {
                observations: vec![good_observation(&link.name)],
                request_id: "bad-input-observation".into(),
            })
            .await
            .expect("an observation");
        let mut liaison = c.liaison.clone();
        liaison
            .set_platform_contact(npb::SetPlatformContactRequest {
                contact: Some(good_contact(&link.platform)),
                request_id: "bad-input-contact".into(),
            })
            .await
            .expect("a contact");
        let notice = liaison
            .create_notice(npb::CreateNoticeRequest {
                notice: Some(good_notice(&link.platform, &link.name, &case.name)),
                request_id: "bad-input-notice".into(),
            })
            .await
            .expect("a notice")
            .into_inner();
        let mut referral = c.referral.clone();
        let assessment = referral
            .create_assessment(rpb::CreateAssessmentRequest {
                assessment: Some(good_assessment(&case.name)),
                request_id: "bad-input-assessment".into(),
            })
            .await
            .expect("an assessment")
            .into_inner();
        let made = referral
            .create_referral(rpb::CreateReferralRequest {
                referral: Some(good_referral(&assessment.name)),
                request_id: "bad-input-referral".into(),
            })
            .await
            .expect("a referral")
            .into_inner();
        // A second case, assessed but not referred: what a transition or a referral may still
        // be aimed at, so that their checks of time are reached.
        let fresh = intake
            .create_case(ipb::CreateCaseRequest { case: Some(good_case()), request_id: String::new() })
            .await
            .expect("a second case")
            .into_inner();
        let fresh_assessment = referral
            .create_assessment(rpb::CreateAssessmentRequest {
                assessment: Some(good_assessment(&fresh.name)),
                request_id: String::new(),
            })
            .await
            .expect("an assessment of the second case")
            .into_inner();
        prime(c, &case.name, &own.name, &link.channel, &notice.name).await;
        let evidence =
            links.add_evidence(tokio_stream::iter(evidence_upload(&link.name))).await.expect("a capture").into_inner();
        let events_token = intake
            .list_case_events(ipb::ListCaseEventsRequest {
                name: case.name.clone(),
                page_size: 1,
                ..Default::default()
            })
            .await
            .expect("events")
            .into_inner()
            .next_page_token;
        let platforms_token = links
            .list_platforms(lpb::ListPlatformsRequest { page_size: 1, ..Default::default() })
            .await
            .expect("platforms")
            .into_inner()
            .next_page_token;
        assert!(!events_token.is_empty() && !platforms_token.is_empty(), "two pages of one each");
        Self {
            case: case.name,
            channel: link.channel.clone(),
            platform: link.platform.clone(),
            link: link.name,
            own_platform: own.name,
            own_domain,
            notice: notice.name,
            assessment: assessment.name,
            referral: made.name,
            fresh_case: fresh.name,
            evidence: evidence.name,
            fresh_assessment: fresh_assessment.name,
            events_token,
            platforms_token,
        }
    }
}

/// The `request_id`s a bad input reuses with another payload, each first used by a good call.
pub const PRIMED: [&str; 6] = [
    "bad-input-update",
    "bad-input-assign",
    "bad-input-rename",
    "bad-input-domain",
    "bad-input-channel",
    "bad-input-draft",
];

/// Good calls with the [`PRIMED`] request ids, in that order.
async fn prime(c: &Clients, case: &str, platform: &str, channel: &str, notice: &str) {
    let mask = |path: &str| Some(prost_types::FieldMask { paths: vec![path.to_owned()] });
    let (mut intake, mut links, mut liaison) = (c.intake.clone(), c.links.clone(), c.liaison.clone());
    let id = |i: usize| PRIMED[i].to_owned();
    intake
        .update_case(ipb::UpdateCaseRequest {
            case: Some(ipb::Case { name: case.to_owned(), summary: SQL_SUMMARY.into(), ..Default::default() }),
            update_mask: mask("summary"),
            request_id: id(0),
        })
        .await
        .expect("an update");
    intake
        .assign_case(ipb::AssignCaseRequest {
            name: case.to_owned(),
            team: "team-a".into(),
            assigned_officer: "lee.kw".into(),
            request_id: id(1),
        })
        .await
        .expect("an assignment");
    links
        .update_platform(lpb::UpdatePlatformRequest {
            platform: Some(lpb::Platform {
                name: platform.to_owned(),
                display_name: SQL_PLATFORM.into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
            request_id: id(2),
        })
        .await
        .expect("a rename");
    links
        .add_platform_domain(lpb::AddPlatformDomainRequest {
            platform: platform.to_owned(),
            domain: "primed.bad-input.example".into(),
            request_id: id(3),
        })
        .await
        .expect("a domain");
    links
        .record_channel_status(lpb::RecordChannelStatusRequest {
            channel: channel.to_owned(),
            status: lpb::ChannelStatus::Active as i32,
            effective_at: at(RECEIVED),
            source: "patrol".into(),
            request_id: id(4),
        })
        .await
        .expect("a channel status");
    liaison
        .update_notice(npb::UpdateNoticeRequest {
            notice: Some(npb::Notice {
                name: notice.to_owned(),
                legal_basis: "s66M PDPO".into(),
                ..Default::default()
            }),
            update_mask: mask("legal_basis"),
            request_id: id(5),
        })
        .await
        .expect("a draft updated");
}

/// The messages of an upload of a capture of `link`: its metadata, then its bytes.
pub fn evidence_upload(link: &str) -> Vec<lpb::AddEvidenceRequest> {
    use lpb::add_evidence_request::Content;
    vec![
        lpb::AddEvidenceRequest {
            content: Some(Content::Metadata(lpb::EvidenceMetadata {
                link: link.to_owned(),
                media_type: "image/png".into(),
                captured_at: at("2019-07-02T09:05:00+08:00"),
                note: "patrol screenshot".into(),
                request_id: String::new(),
            })),
        },
        lpb::AddEvidenceRequest { content: Some(Content::Chunk(vec![0x89, b'P', b'N', b'G'])) },
    ]
}

pub fn good_case() -> ipb::Case {
    ipb::Case {
        kind: ipb::CaseKind::Complaint as i32,
        received_at: at(RECEIVED),
        channel: ipb::IntakeChannel::OnlineForm as i32,
        summary: SQL_SUMMARY.to_owned(),
        reported_urls: vec!["https://t.me/badinput/1".to_owned()],
        data_subjects: vec![ipb::DataSubject {
            display_name: "Test Subject".to_owned(),
            category: ipb::DataSubjectCategory::Student as i32,
            hong_kong_nexus: ipb::HongKongNexus::Resident as i32,
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn good_observation(link: &str) -> lpb::Observation {
    lpb::Observation {
        link: link.to_owned(),
        status: lpb::LinkStatus::Online as i32,
        observed_at: at("2019-07-02T09:00:00+08:00"),
        vantage: lpb::Vantage::InsideHk as i32,
        source: lpb::ObservationSource::OfficerCheck as i32,
        note: "still there".to_owned(),
        ..Default::default()
    }
}

pub fn good_contact(platform: &str) -> npb::PlatformContact {
    npb::PlatformContact {
        platform: platform.to_owned(),
        legal_entity: "Example Messaging Ltd".to_owned(),
        jurisdiction: "AE".to_owned(),
        email: "legal@example.org".to_owned(),
        ..Default::default()
    }
}

pub fn good_notice(platform: &str, link: &str, case: &str) -> npb::Notice {
    npb::Notice {
        platform: platform.to_owned(),
        kind: npb::NoticeKind::RemovalRequest as i32,
        items: vec![npb::NoticeItem {
            link: link.to_owned(),
            action: npb::NoticeAction::Remove as i32,
            ..Default::default()
        }],
        cases: vec![case.to_owned()],
        legal_basis: "s66M PDPO".to_owned(),
        ..Default::default()
    }
}

pub fn good_assessment(case: &str) -> rpb::Assessment {
    rpb::Assessment {
        case: case.to_owned(),
        criteria: Some(rpb::Criteria {
            disclosed_without_consent: true,
            intent_or_recklessness: rpb::IntentOrRecklessness::Intent as i32,
            harms_intended: vec![ipb::Harm::Harassment as i32],
            harm_caused: vec![ipb::Harm::PsychologicalHarm as i32],
            hong_kong_nexus: ipb::HongKongNexus::Resident as i32,
            discloser: rpb::Discloser::Unidentified as i32,
            legal_basis: vec![rpb::LegalBasis::S643a as i32],
        }),
        decision: rpb::Decision::ReferToPolice as i32,
        reason: "disclosed to harass".to_owned(),
        assessed_at: at("2019-07-05T10:00:00+08:00"),
        ..Default::default()
    }
}

pub fn good_referral(assessment: &str) -> rpb::Referral {
    rpb::Referral {
        assessment: assessment.to_owned(),
        agency: "POLICE".to_owned(),
        referred_at: at("2019-07-06T10:00:00+08:00"),
        summary: "Doxxing in a public channel.".to_owned(),
        ..Default::default()
    }
}

/// Waits until no service owes its peers anything, so that the stores stand still.
pub async fn quiet(suite: &Suite) {
    for service in [&suite.intake, &suite.links, &suite.liaison, &suite.referral] {
        let drained = eventually(Duration::from_secs(20), || {
            let mut outbox = outbox(service);
            async move {
                let status = outbox.get_outbox_status(opb::GetOutboxStatusRequest {}).await.ok()?.into_inner();
                (status.pending == 0).then_some(())
            }
        })
        .await;
        assert!(drained.is_some(), "the outbox of {} drains", service.url());
    }
}
