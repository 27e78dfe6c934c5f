//! Pushes a plan through the services' public gRPC APIs exactly as officers' clients would, with
//! a `request_id` on every change, so that a load interrupted and run again completes without
//! duplicates. It waits for each service's outbox to drain where a later step depends on an
//! effect (links exist before notices name them), and at the end, so a report run right after it
//! is complete.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use doxwatch_kit::{
    profile::{Bearer, Credentials},
    timestamp::to_proto,
};
use doxwatch_proto::{
    intake::{self as intake_pb, intake_service_client::IntakeServiceClient},
    liaison::{self as liaison_pb, liaison_service_client::LiaisonServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
    ops::{self as ops_pb, outbox_service_client::OutboxServiceClient},
    referral::{self as referral_pb, referral_service_client::ReferralServiceClient},
};
use futures::{StreamExt, TryStreamExt, stream};
use tonic::{Status, service::interceptor::InterceptedService, transport::Channel};

use crate::{
    Endpoints,
    plan::{Kind, NoticeKind, Plan},
    scenario::Checked,
};

/// Requests in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot reach the {service} service at {url}: {cause}")]
    Connect { service: &'static str, url: String, cause: String },
    #[error("{service} refused {method}: {}", doxwatch_kit::error::StatusText(status))]
    Rpc { service: &'static str, method: &'static str, status: Status },
    #[error("the store does not agree with the plan: {0}")]
    Mismatch(String),
    #[error("the {0} service's outbox did not drain within {1:?}")]
    Undrained(&'static str, Duration),
}

/// What a load wrote: the records this run made, and those a run before it had already made (a
/// request id already answered gives back the first answer, made before this run began).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub new: u64,
    pub already: u64,
}

/// Counts records as new or already there, by when the store made them.
struct Tally {
    began: prost_types::Timestamp,
    new: AtomicU64,
    already: AtomicU64,
}

impl Tally {
    fn new() -> Self {
        // By this machine's clock: a store whose clock runs behind it could count the records it
        // made in that first moment as older, never a whole load.
        let began = time::OffsetDateTime::now_utc();
        Self { began: to_proto(began), new: AtomicU64::new(0), already: AtomicU64::new(0) }
    }

    /// A record the store made at `made`.
    fn saw(&self, made: Option<&prost_types::Timestamp>) {
        let earlier = made.is_some_and(|t| (t.seconds, t.nanos) < (self.began.seconds, self.began.nanos));
        let counter = if earlier { &self.already } else { &self.new };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn written(&self) -> Written {
        Written { new: self.new.load(Ordering::Relaxed), already: self.already.load(Ordering::Relaxed) }
    }
}

/// What the loader tells whoever watches it.
pub trait Progress: Send + Sync {
    fn phase(&self, name: &str, total: u64);
    fn advance(&self, n: u64);
}

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _name: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
}

pub(crate) type Authed = InterceptedService<Channel, Bearer>;

/// A channel to a service with `credentials`, sending the token on every call.
pub(crate) async fn connect(service: &'static str, url: &str, credentials: &Credentials) -> Result<Authed, LoadError> {
    let failed = |cause: String| LoadError::Connect { service, url: url.to_owned(), cause };
    let bearer = credentials.bearer().map_err(|e| failed(e.to_string()))?;
    let channel = credentials.connect(url, Duration::from_secs(120)).await.map_err(|e| failed(e.to_string()))?;
    Ok(InterceptedService::new(channel, bearer))
}

/// How long a call is retried while the service says its caller sends too much.
const PATIENCE: Duration = Duration::from_secs(120);

/// Makes a call (`client.method(request)`) and, while the service refuses it for the caller's
/// rate (RESOURCE_EXHAUSTED: the suite limits each officer's requests), waits and sends the same
/// request again, backing off from 5 ms to half a second, for at most [`PATIENCE`]. Every request
/// of a load carries its request id, so a retry is applied once.
macro_rules! patiently {
    ($client:ident . $method:ident ( $request:expr )) => {{
        let request = $request;
        let mut delay = Duration::from_millis(5);
        let mut waited = Duration::ZERO;
        loop {
            match $client.$method(request.clone()).await {
                Err(status) if status.code() == tonic::Code::ResourceExhausted && waited < PATIENCE => {
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                answered => break answered,
            }
        }
    }};
}

fn rpc(service: &'static str, method: &'static str) -> impl Fn(Status) -> LoadError {
    move |status| LoadError::Rpc { service, method, status }
}

struct Clients {
    intake: IntakeServiceClient<Authed>,
    links: LinksServiceClient<Authed>,
    liaison: LiaisonServiceClient<Authed>,
    referral: ReferralServiceClient<Authed>,
    outboxes: Vec<(&'static str, OutboxServiceClient<Authed>)>,
}

impl Clients {
    async fn connect(endpoints: &Endpoints) -> Result<Self, LoadError> {
        let intake = connect("intake", &endpoints.intake, &endpoints.credentials).await?;
        let links = connect("links", &endpoints.links, &endpoints.credentials).await?;
        let liaison = connect("liaison", &endpoints.liaison, &endpoints.credentials).await?;
        let referral = connect("referral", &endpoints.referral, &endpoints.credentials).await?;
        Ok(Self {
            intake: IntakeServiceClient::new(intake.clone()),
            links: LinksServiceClient::new(links.clone()),
            liaison: LiaisonServiceClient::new(liaison.clone()),
            referral: ReferralServiceClient::new(referral.clone()),
            outboxes: vec![
                ("intake", OutboxServiceClient::new(intake)),
                ("links", OutboxServiceClient::new(links)),
                ("liaison", OutboxServiceClient::new(liaison)),
                ("referral", OutboxServiceClient::new(referral)),
            ],
        })
    }

    /// Waits until the named services' outboxes hold nothing pending.
    async fn drain(&self, services: &[&'static str], limit: Duration) -> Result<(), LoadError> {
        let deadline = tokio::time::Instant::now() + limit;
        for (service, client) in self.outboxes.iter().filter(|(s, _)| services.contains(s)) {
            loop {
                let mut client = client.clone();
                let status = patiently!(client.get_outbox_status(ops_pb::GetOutboxStatusRequest {}))
                    .map_err(rpc(service, "GetOutboxStatus"))?
                    .into_inner();
                if status.pending == 0 {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(LoadError::Undrained(service, limit));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}

/// Loads the plan, then waits until every service has delivered the effects it owes the others.
/// Says how many records it wrote and how many were already there (a re-run writes none).
pub async fn load(
    checked: &Checked,
    plan: &Plan,
    endpoints: &Endpoints,
    progress: &dyn Progress,
) -> Result<Written, LoadError> {
    let tally = Tally::new();
    let clients = Clients::connect(endpoints).await?;
    let prefix = format!("scenario:{}:{:x}", checked.scenario.name.chars().take(40).collect::<String>(), checked.seed);
    let drain_limit = Duration::from_secs(600);

    // 1. Cases, with the URLs they report; intake registers them with link-tracking.
    let case_names = create_cases(&clients, checked, plan, &prefix, &tally, progress).await?;
    progress.phase("registering links", 1);
    clients.drain(&["intake"], drain_limit).await?;
    progress.advance(1);

    // 2. The links as link-tracking knows them, by the URL they were reported as.
    let by_url = links_by_url(&clients).await?;
    let links: Vec<&links_pb::Link> = plan
        .links
        .iter()
        .map(|l| {
            by_url.get(&l.url).ok_or_else(|| LoadError::Mismatch(format!("{} was not registered as a link", l.url)))
        })
        .collect::<Result<_, _>>()?;

    // 3. The suspended channel.
    if let Some((link, since)) = plan.suspension {
        record_suspension(&clients, links[link], since, &prefix).await?;
    }

    // 4. Letters: first the requests, then the reminders that follow them.
    serve_letters(&clients, plan, &links, &prefix, &tally, progress).await?;
    progress.phase("recording removal requests", 1);
    clients.drain(&["liaison"], drain_limit).await?;
    progress.advance(1);

    // 5. Removals confirmed by officers' checks.
    confirm_removals(&clients, plan, &links, &prefix, &tally, progress).await?;

    // 6. Assessments and referrals to the Police.
    refer_cases(&clients, plan, &case_names, &prefix, &tally, progress).await?;

    progress.phase("waiting for every effect", 1);
    clients.drain(&["intake", "links", "liaison", "referral"], drain_limit).await?;
    progress.advance(1);
    Ok(tally.written())
}

/// Creates the plan's cases; returns their names, in the plan's order.
async fn create_cases(
    clients: &Clients,
    checked: &Checked,
    plan: &Plan,
    prefix: &str,
    tally: &Tally,
    progress: &dyn Progress,
) -> Result<Vec<String>, LoadError> {
    progress.phase("cases", plan.cases.len() as u64);
    stream::iter(plan.cases.iter().enumerate())
        .map(|(i, case)| {
            let mut client = clients.intake.clone();
            let request = intake_pb::CreateCaseRequest {
                case: Some(case_message(checked, plan, i, case)),
                request_id: format!("{prefix}:case:{i}"),
            };
            async move {
                let case = patiently!(client.create_case(request)).map_err(rpc("intake", "CreateCase"))?.into_inner();
                tally.saw(case.create_time.as_ref());
                progress.advance(1);
                Ok::<_, LoadError>(case.name)
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

/// Every link link-tracking knows, by the URL it was reported as.
async fn links_by_url(clients: &Clients) -> Result<HashMap<String, links_pb::Link>, LoadError> {
    let mut by_url: HashMap<String, links_pb::Link> = HashMap::new();
    let mut token = String::new();
    loop {
        let mut links = clients.links.clone();
        let page = patiently!(links.list_links(links_pb::ListLinksRequest {
            page_size: 1000,
            page_token: token,
            ..Default::default()
        }))
        .map_err(rpc("links", "ListLinks"))?
        .into_inner();
        by_url.extend(page.links.into_iter().map(|l| (l.reported_url.clone(), l)));
        if page.next_page_token.is_empty() {
            return Ok(by_url);
        }
        token = page.next_page_token;
    }
}

/// Records the suspension of the channel `link` is in, as the platform announced it.
async fn record_suspension(
    clients: &Clients,
    link: &links_pb::Link,
    since: time::OffsetDateTime,
    prefix: &str,
) -> Result<(), LoadError> {
    let mut links = clients.links.clone();
    patiently!(links.record_channel_status(links_pb::RecordChannelStatusRequest {
        channel: link.channel.clone(),
        status: links_pb::ChannelStatus::Suspended as i32,
        effective_at: Some(to_proto(since)),
        source: "the platform's announcement".into(),
        request_id: format!("{prefix}:suspension"),
    }))
    .map_err(rpc("links", "RecordChannelStatus"))?;
    Ok(())
}

/// Drafts and serves every letter: first the requests, then the reminders, which need the names of
/// the notices they follow.
async fn serve_letters(
    clients: &Clients,
    plan: &Plan,
    links: &[&links_pb::Link],
    prefix: &str,
    tally: &Tally,
    progress: &dyn Progress,
) -> Result<(), LoadError> {
    progress.phase("letters to platforms", plan.notices.len() as u64);
    let mut notice_names: Vec<Option<String>> = vec![None; plan.notices.len()];
    for reminders in [false, true] {
        let batch: Vec<(usize, &crate::plan::PlannedNotice)> = plan
            .notices
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NoticeKind::Reminder(_)) == reminders)
            .collect();
        let names: Vec<(usize, String)> = stream::iter(batch)
            .map(|(i, notice)| {
                let liaison = clients.liaison.clone();
                let follows = match notice.kind {
                    NoticeKind::Reminder(f) => notice_names[f].clone(),
                    _ => None,
                };
                async move {
                    let name = serve_notice(liaison, prefix, i, notice, follows, links, tally).await?;
                    progress.advance(1);
                    Ok::<_, LoadError>((i, name))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for (i, name) in names {
            notice_names[i] = Some(name);
        }
    }
    Ok(())
}

/// Records the plan's removals as officers' checks, in batches.
async fn confirm_removals(
    clients: &Clients,
    plan: &Plan,
    links: &[&links_pb::Link],
    prefix: &str,
    tally: &Tally,
    progress: &dyn Progress,
) -> Result<(), LoadError> {
    progress.phase("removals confirmed", plan.removals.len() as u64);
    for (batch, chunk) in plan.removals.chunks(500).enumerate() {
        let observations = chunk
            .iter()
            .map(|(link, at)| links_pb::Observation {
                link: links[*link].name.clone(),
                status: links_pb::LinkStatus::Removed as i32,
                observed_at: Some(to_proto(*at)),
                vantage: links_pb::Vantage::InsideHk as i32,
                source: links_pb::ObservationSource::OfficerCheck as i32,
                note: "checked by an officer".into(),
                ..Default::default()
            })
            .collect();
        let mut links = clients.links.clone();
        let recorded = patiently!(links.record_observations(links_pb::RecordObservationsRequest {
            observations,
            request_id: format!("{prefix}:removals:{batch}"),
        }))
        .map_err(rpc("links", "RecordObservations"))?
        .into_inner();
        for observation in &recorded.observations {
            tally.saw(observation.record_time.as_ref());
        }
        progress.advance(chunk.len() as u64);
    }
    Ok(())
}

/// Assesses each planned case and refers it to the Police.
async fn refer_cases(
    clients: &Clients,
    plan: &Plan,
    case_names: &[String],
    prefix: &str,
    tally: &Tally,
    progress: &dyn Progress,
) -> Result<(), LoadError> {
    progress.phase("referrals to the Police", plan.referrals.len() as u64);
    stream::iter(plan.referrals.iter().enumerate())
        .map(|(i, r)| {
            let mut referral = clients.referral.clone();
            let case = case_names[r.case].clone();
            async move {
                let assessment = patiently!(referral.create_assessment(referral_pb::CreateAssessmentRequest {
                    assessment: Some(assessment_message(case, r)),
                    request_id: format!("{prefix}:assessment:{i}"),
                }))
                .map_err(rpc("referral", "CreateAssessment"))?
                .into_inner();
                tally.saw(assessment.create_time.as_ref());
                let made = patiently!(referral.create_referral(referral_pb::CreateReferralRequest {
                    referral: Some(referral_pb::Referral {
                        assessment: assessment.name,
                        referred_at: Some(to_proto(r.referred_at)),
                        agency: "POLICE".into(),
                        summary: "Suspected disclosure of personal data without consent (synthetic scenario)".into(),
                        ..Default::default()
                    }),
                    request_id: format!("{prefix}:referral:{i}"),
                }))
                .map_err(rpc("referral", "CreateReferral"))?
                .into_inner();
                tally.saw(made.create_time.as_ref());
                progress.advance(1);
                Ok::<_, LoadError>(())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// An assessment of `case` that finds a disclosure without consent, intended to harass and
/// intimidate, and decides to refer it to the Police.
fn assessment_message(case: String, referral: &crate::plan::PlannedReferral) -> referral_pb::Assessment {
    referral_pb::Assessment {
        case,
        criteria: Some(referral_pb::Criteria {
            disclosed_without_consent: true,
            intent_or_recklessness: referral_pb::IntentOrRecklessness::Intent as i32,
            harms_intended: vec![intake_pb::Harm::Harassment as i32, intake_pb::Harm::Intimidation as i32],
            harm_caused: Vec::new(),
            hong_kong_nexus: intake_pb::HongKongNexus::Resident as i32,
            discloser: referral_pb::Discloser::Unidentified as i32,
            legal_basis: vec![referral_pb::LegalBasis::S641 as i32],
        }),
        decision: referral_pb::Decision::ReferToPolice as i32,
        assessed_at: Some(to_proto(referral.assessed_at)),
        ..Default::default()
    }
}

fn case_message(checked: &Checked, plan: &Plan, i: usize, case: &crate::plan::PlannedCase) -> intake_pb::Case {
    use intake_pb::{CaseKind, IntakeChannel};
    let (kind, channel) = match case.kind {
        Kind::Complaint => {
            (CaseKind::Complaint, if i.is_multiple_of(3) { IntakeChannel::Email } else { IntakeChannel::OnlineForm })
        }
        Kind::Enquiry => (CaseKind::Enquiry, IntakeChannel::Phone),
        Kind::Patrol => (CaseKind::PatrolDiscovery, IntakeChannel::Patrol),
        Kind::AgencyReferral => (CaseKind::AgencyReferral, IntakeChannel::Agency),
    };
    intake_pb::Case {
        kind: kind as i32,
        received_at: Some(to_proto(case.received_at)),
        channel: channel as i32,
        summary: format!(
            "Synthetic case {i} of the scenario {}: personal data disclosed online.",
            checked.scenario.name
        ),
        reported_urls: case.links.iter().map(|l| plan.links[*l].url.clone()).collect(),
        data_subjects: case
            .subjects
            .iter()
            .enumerate()
            .map(|(j, category)| intake_pb::DataSubject {
                display_name: format!("Test Subject {i:05}-{j}"),
                // What doxxers publish, so that a load shows none of it is stored in plain text.
                contact: Some(intake_pb::Contact {
                    email: String::new(),
                    phone: format!("+852 6{:07}", i * 10 + j),
                    postal_address: format!("Flat {j}, Block {i}, Test Garden"),
                }),
                category: intake_pb::DataSubjectCategory::from_str_name(&format!("DATA_SUBJECT_CATEGORY_{category}"))
                    .map_or(0, |c| c as i32),
                hong_kong_nexus: intake_pb::HongKongNexus::Resident as i32,
            })
            .collect(),
        complainant: (case.kind == Kind::Complaint).then(|| intake_pb::Complainant {
            display_name: format!("Test Complainant {i:05}"),
            relationship: intake_pb::ComplainantRelationship::DataSubject as i32,
            contact: None,
        }),
        disclosed_data: if case.kind == Kind::Enquiry {
            Vec::new()
        } else {
            vec![intake_pb::DisclosedDataType::Name as i32, intake_pb::DisclosedDataType::Phone as i32]
        },
        alleged_harm: if case.kind == Kind::Enquiry { Vec::new() } else { vec![intake_pb::Harm::Harassment as i32] },
        ..Default::default()
    }
}

/// What a notice of the scenario rests on.
fn legal_basis(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::InjunctionNotice => {
            "The court's interim injunction against disclosing the personal data of police officers and their \
             families; neglecting it may be contempt of court"
        }
        _ => "Personal Data (Privacy) Ordinance (Cap. 486), Data Protection Principle 3 and section 64",
    }
}

async fn serve_notice(
    mut liaison: LiaisonServiceClient<Authed>,
    prefix: &str,
    i: usize,
    notice: &crate::plan::PlannedNotice,
    follows: Option<String>,
    links: &[&links_pb::Link],
    tally: &Tally,
) -> Result<String, LoadError> {
    let drafted = match (notice.kind, follows) {
        (NoticeKind::Reminder(_), Some(follows)) => {
            patiently!(liaison.remind_notice(liaison_pb::RemindNoticeRequest {
                name: follows,
                request_id: format!("{prefix}:notice:{i}"),
            }))
            .map_err(rpc("liaison", "RemindNotice"))?
            .into_inner()
        }
        (NoticeKind::Reminder(_), None) => return Err(LoadError::Mismatch(format!("reminder {i} follows no notice"))),
        (kind, _) => {
            let (notice_kind, action) = match kind {
                NoticeKind::DisclosureRequest => {
                    (liaison_pb::NoticeKind::DisclosureRequest, liaison_pb::NoticeAction::DiscloseUploaderData)
                }
                NoticeKind::InjunctionNotice => {
                    (liaison_pb::NoticeKind::InjunctionNotice, liaison_pb::NoticeAction::Remove)
                }
                _ => (liaison_pb::NoticeKind::RemovalRequest, liaison_pb::NoticeAction::Remove),
            };
            let platform = links[notice.links[0]].platform.clone();
            patiently!(
                liaison.create_notice(liaison_pb::CreateNoticeRequest {
                    notice: Some(liaison_pb::Notice {
                        platform,
                        kind: notice_kind as i32,
                        items: notice
                            .links
                            .iter()
                            .map(|l| liaison_pb::NoticeItem {
                                link: links[*l].name.clone(),
                                action: action as i32,
                                reply: None,
                            })
                            .collect(),
                        legal_basis: legal_basis(kind).into(),
                        ..Default::default()
                    }),
                    request_id: format!("{prefix}:notice:{i}"),
                })
            )
            .map_err(rpc("liaison", "CreateNotice"))?
            .into_inner()
        }
    };
    tally.saw(drafted.create_time.as_ref());
    patiently!(liaison.serve_notice(liaison_pb::ServeNoticeRequest {
        name: drafted.name.clone(),
        served_at: Some(to_proto(notice.served_at)),
        service_method: liaison_pb::ServiceMethod::Email as i32,
        request_id: format!("{prefix}:serve:{i}"),
    }))
    .map_err(rpc("liaison", "ServeNotice"))?;
    if let Some(provided) = notice.data_provided {
        let outcome =
            if provided { liaison_pb::ReplyOutcome::DataProvided } else { liaison_pb::ReplyOutcome::DataRefused };
        patiently!(liaison.record_reply(liaison_pb::RecordReplyRequest {
            name: drafted.name.clone(),
            received_at: Some(to_proto(notice.served_at + time::Duration::days(5))),
            all_items: outcome as i32,
            text: "The platform's reply (synthetic).".into(),
            request_id: format!("{prefix}:reply:{i}"),
            ..Default::default()
        }))
        .map_err(rpc("liaison", "RecordReply"))?;
    }
    Ok(drafted.name)
}
