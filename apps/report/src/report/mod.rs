//! The situation report as at a moment: each figure asked of the service that owns it (case
//! figures of intake, every removal figure of link-tracking, correspondence of liaison, referrals
//! of the referral service), grouped as the published statement groups them. Its JSON form is
//! documented in `docs/report-schema.json`. A service that does not answer fails the report.
//! The report is press-safe unless asked for in its internal form, which names channels by their
//! handles (a handle can itself identify a victim) and which link-tracking's policy must allow.

use std::collections::BTreeMap;

use doxwatch_kit::timestamp::{from_proto, to_proto};
use doxwatch_proto::{
    intake::{self as intake_pb, intake_service_client::IntakeServiceClient},
    liaison::{self as liaison_pb, liaison_service_client::LiaisonServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
    ops::{self as ops_pb, outbox_service_client::OutboxServiceClient},
    referral::{self as referral_pb, referral_service_client::ReferralServiceClient},
};
use jiff::tz::TimeZone;
use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{Endpoints, load::connect, moment, scenario::percent};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the {service} service did not answer ({url}): {cause}")]
    Unavailable { service: &'static str, url: String, cause: String },
    #[error("the {service} service refused {method}: {}", doxwatch_kit::error::StatusText(status))]
    Refused { service: &'static str, method: &'static str, status: tonic::Status },
    /// A span of time the statistics cannot be asked over (e.g. ending before it starts).
    #[error("{0}")]
    Span(String),
    /// The internal form was asked for by a caller link-tracking does not show channel handles.
    #[error("the internal report needs a role allowed to read channels; link-tracking withheld their handles")]
    HandlesWithheld,
    /// A service's answer that cannot be read (a field it must set was missing).
    #[error("{0}")]
    Malformed(String),
}

/// Which report: the one the press office may publish, or the one that names channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Names platforms, never a channel's handle.
    #[default]
    PressSafe,
    /// Names each suspended channel by its handle; for those allowed to read channels.
    Internal,
}

/// Opens a channel to a service, naming the service if it does not answer.
pub(crate) async fn open(
    service: &'static str,
    url: &str,
    credentials: &doxwatch_kit::profile::Credentials,
) -> Result<crate::load::Authed, ReportError> {
    connect(service, url, credentials).await.map_err(|e| ReportError::Unavailable {
        service,
        url: url.to_owned(),
        cause: e.to_string(),
    })
}

/// A failed call: a service that is down or failing is told apart from one that refused the request.
pub(crate) fn failed(service: &'static str, url: &str, method: &'static str) -> impl Fn(tonic::Status) -> ReportError {
    let url = url.to_owned();
    move |status: tonic::Status| {
        if matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown | tonic::Code::Internal
        ) {
            ReportError::Unavailable { service, url: url.clone(), cause: status.message().to_owned() }
        } else {
            ReportError::Refused { service, method, status }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Report {
    /// Whether it may be published as it is.
    pub form: Form,
    /// RFC 3339, at the offset of the zone the report is stated in.
    pub as_of: String,
    /// The zone the report's moments and dates are stated in: an IANA name, or an offset.
    pub time_zone: String,
    /// The zone's abbreviation at `as_of` ("HKT").
    pub time_zone_abbreviation: String,
    pub recorded_before: Option<String>,
    pub first_case_received: Option<String>,
    pub cases: Cases,
    pub victims: Victims,
    pub links: Links,
    pub liaison: Liaison,
    pub referrals: Referrals,
    /// Effects each service still owes its peers; figures that depend on them may be incomplete.
    pub pending_effects: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Cases {
    pub total: i64,
    pub complaints_and_discovered: i64,
    pub complaints: i64,
    pub discovered_by_patrol: i64,
    pub agency_referrals: i64,
    pub enquiries: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Victims {
    pub police_and_families: i64,
    pub other: i64,
    pub police_and_families_pct: i64,
    pub other_pct: i64,
    /// Cases touching each data-subject category (a case once per category it touches).
    pub by_category: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SuspendedChannel {
    pub name: String,
    pub platform: String,
    /// The channel's handle on its platform, in the internal form only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    pub suspended_since: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Links {
    pub platforms_involved: i64,
    pub links_involved: i64,
    pub suspended_channels: Vec<SuspendedChannel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PlatformFigures {
    pub name: String,
    pub platform: String,
    pub kind: String,
    pub links_requested_removal: i64,
    pub links_removed: i64,
    pub removal_rate_pct: i64,
    /// The removal rate before rounding.
    pub removal_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Disclosure {
    pub sent: i64,
    pub answered: i64,
    pub refused: i64,
    pub unanswered: i64,
}

/// How the notices of one kind were served.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Served {
    pub notices: i64,
    pub platforms: i64,
    /// The day the first was served, in the report's zone.
    pub first_served: Option<String>,
    /// The day the last was served, in the report's zone.
    pub last_served: Option<String>,
}

/// Summonses considered (drafted, not served) and issued (served).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Summonses {
    pub considered: i64,
    pub issued: i64,
    /// Platforms served one.
    pub platforms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Liaison {
    pub platforms_written_to: i64,
    pub letters_sent: i64,
    pub notices_served: i64,
    pub links_requested_removal: i64,
    pub links_removed: i64,
    pub links_access_restricted: i64,
    pub removal_rate_pct: i64,
    pub removal_rate: f64,
    pub by_platform: Vec<PlatformFigures>,
    pub most_active_platform: Option<PlatformFigures>,
    pub disclosure_requests: Disclosure,
    /// Notices drawing platforms' attention to an injunction.
    pub injunction_notices: Served,
    pub summonses: Summonses,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Referrals {
    pub cases_assessed: i64,
    pub cases_referred_to_police: i64,
    pub referrals_acknowledged: i64,
    pub by_outcome: BTreeMap<String, i64>,
    /// Cases referred to the Police by each legal basis their assessment cites ("S64_2"); a case
    /// citing two is in both counts.
    pub cases_by_legal_basis: BTreeMap<String, i64>,
}

fn strip<'a>(name: &'a str, prefix: &str) -> &'a str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// The date of a timestamp in `zone`.
fn date_in(ts: Option<&prost_types::Timestamp>, zone: &TimeZone) -> Option<String> {
    Some(moment::date_in(from_proto(ts?).ok()?, zone))
}

/// The zone of `as_of`'s own offset, for a report stated as the moment was given.
fn zone_of(as_of: OffsetDateTime) -> TimeZone {
    jiff::tz::Offset::from_seconds(as_of.offset().whole_seconds()).map_or(TimeZone::UTC, TimeZone::fixed)
}

/// Asks the four services for their figures as at `as_of` and assembles the press-safe report,
/// stated at `as_of`'s offset.
pub async fn gather(
    endpoints: &Endpoints,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
) -> Result<Report, ReportError> {
    gather_as(endpoints, as_of, recorded_before, Form::PressSafe).await
}

/// The report in `form`, stated at `as_of`'s offset.
pub async fn gather_as(
    endpoints: &Endpoints,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
    form: Form,
) -> Result<Report, ReportError> {
    gather_in(endpoints, as_of, recorded_before, form, &zone_of(as_of)).await
}

/// The report in `form`, its moments and dates stated in `zone`. The internal form fails unless
/// link-tracking filled the channels' handles, which it does only for callers its policy allows
/// to read channels: the service decides, not this client.
pub async fn gather_in(
    endpoints: &Endpoints,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
    form: Form,
    zone: &TimeZone,
) -> Result<Report, ReportError> {
    let as_of_pb = Some(to_proto(as_of));
    let recorded_pb = recorded_before.map(to_proto);

    let intake_channel = open("intake", &endpoints.intake, &endpoints.credentials).await?;
    let links_channel = open("links", &endpoints.links, &endpoints.credentials).await?;
    let liaison_channel = open("liaison", &endpoints.liaison, &endpoints.credentials).await?;
    let referral_channel = open("referral", &endpoints.referral, &endpoints.credentials).await?;

    let intake = IntakeServiceClient::new(intake_channel.clone())
        .get_intake_statistics(intake_pb::GetIntakeStatisticsRequest { as_of: as_of_pb, recorded_before: recorded_pb })
        .await
        .map_err(failed("intake", &endpoints.intake, "GetIntakeStatistics"))?
        .into_inner();
    let links = LinksServiceClient::new(links_channel.clone())
        .get_link_statistics(links_pb::GetLinkStatisticsRequest {
            as_of: as_of_pb,
            recorded_before: recorded_pb,
            ..Default::default()
        })
        .await
        .map_err(failed("links", &endpoints.links, "GetLinkStatistics"))?
        .into_inner();
    if form == Form::Internal && !links.handles_included {
        return Err(ReportError::HandlesWithheld);
    }
    let liaison = LiaisonServiceClient::new(liaison_channel.clone())
        .get_liaison_statistics(liaison_pb::GetLiaisonStatisticsRequest {
            as_of: as_of_pb,
            recorded_before: recorded_pb,
            platform: String::new(),
        })
        .await
        .map_err(failed("liaison", &endpoints.liaison, "GetLiaisonStatistics"))?
        .into_inner();
    let referral = ReferralServiceClient::new(referral_channel.clone())
        .get_referral_statistics(referral_pb::GetReferralStatisticsRequest {
            as_of: as_of_pb,
            recorded_before: recorded_pb,
        })
        .await
        .map_err(failed("referral", &endpoints.referral, "GetReferralStatistics"))?
        .into_inner();
    let mut pending_effects = BTreeMap::new();
    for (service, channel, url) in [
        ("intake", intake_channel, &endpoints.intake),
        ("links", links_channel, &endpoints.links),
        ("liaison", liaison_channel, &endpoints.liaison),
        ("referral", referral_channel, &endpoints.referral),
    ] {
        let status = OutboxServiceClient::new(channel)
            .get_outbox_status(ops_pb::GetOutboxStatusRequest {})
            .await
            .map_err(failed(service, url, "GetOutboxStatus"))?
            .into_inner();
        pending_effects.insert(service.to_owned(), status.pending);
    }
    let answers = Answers { intake, links, liaison, referral, pending_effects };
    Ok(assemble(as_of, recorded_before, zone, answers).in_form(form))
}

impl Report {
    /// The report in `form`: the press-safe form keeps no channel's handle, whatever the service
    /// sent.
    pub(crate) fn in_form(mut self, form: Form) -> Self {
        self.form = form;
        if form == Form::PressSafe {
            for channel in &mut self.links.suspended_channels {
                channel.handle = None;
            }
        }
        self
    }
}

/// What the services answered.
struct Answers {
    intake: intake_pb::IntakeStatistics,
    links: links_pb::LinkStatistics,
    liaison: liaison_pb::LiaisonStatistics,
    referral: referral_pb::ReferralStatistics,
    pending_effects: BTreeMap<String, i64>,
}

/// The report as the services answered, with the handles they sent; [`Report::in_form`] decides
/// which of them it keeps. Every moment and date is taken in `zone`.
fn assemble(as_of: OffsetDateTime, recorded_before: Option<OffsetDateTime>, zone: &TimeZone, a: Answers) -> Report {
    let stated = |t: OffsetDateTime| moment::in_zone(t, zone).format(&Rfc3339).ok();
    Report {
        form: Form::Internal,
        as_of: stated(as_of).unwrap_or_default(),
        time_zone: moment::zone_name(zone, as_of),
        time_zone_abbreviation: moment::abbreviation(zone, as_of),
        recorded_before: recorded_before.and_then(stated),
        first_case_received: date_in(a.intake.first_case_received_at.as_ref(), zone),
        cases: Cases::of(&a.intake),
        victims: Victims::of(&a.intake),
        links: Links::of(&a.links, zone),
        liaison: Liaison::of(&a.links, &a.liaison, zone),
        referrals: Referrals::of(&a.referral),
        pending_effects: a.pending_effects,
    }
}

/// Intake's count of the cases of one kind.
fn cases_of_kind(intake: &intake_pb::IntakeStatistics, kind: intake_pb::CaseKind) -> i64 {
    intake.by_kind.iter().find(|c| c.kind == kind as i32).map_or(0, |c| c.cases)
}

impl Cases {
    fn of(intake: &intake_pb::IntakeStatistics) -> Self {
        use intake_pb::CaseKind as K;
        let kind = |k: K| cases_of_kind(intake, k);
        Cases {
            total: intake.total_cases,
            complaints_and_discovered: kind(K::Complaint) + kind(K::PatrolDiscovery) + kind(K::AgencyReferral),
            complaints: kind(K::Complaint),
            discovered_by_patrol: kind(K::PatrolDiscovery),
            agency_referrals: kind(K::AgencyReferral),
            enquiries: kind(K::Enquiry),
        }
    }
}

impl Victims {
    /// The victims of complaints and discoveries; enquiries name none.
    fn of(intake: &intake_pb::IntakeStatistics) -> Self {
        use intake_pb::{CaseKind as K, VictimGroup as G};
        let group = |g: G| {
            intake
                .by_kind_and_victim_group
                .iter()
                .filter(|c| c.kind != K::Enquiry as i32 && c.victim_group == g as i32)
                .map(|c| c.cases)
                .sum::<i64>()
        };
        let mut by_category = BTreeMap::new();
        for c in intake.by_kind_and_category.iter().filter(|c| c.kind != K::Enquiry as i32) {
            let name = intake_pb::DataSubjectCategory::try_from(c.category).map_or("UNKNOWN", |c| c.as_str_name());
            *by_category.entry(strip(name, "DATA_SUBJECT_CATEGORY_").to_owned()).or_insert(0) += c.cases;
        }
        let police = group(G::PoliceAndFamilies);
        let other = group(G::Other);
        Victims {
            police_and_families: police,
            other,
            police_and_families_pct: percent(police, police + other),
            other_pct: percent(other, police + other),
            by_category,
        }
    }
}

impl Links {
    /// Suspended channels are named with their platform's display name and dated in `zone`, with
    /// their handles where the service sent them.
    fn of(links: &links_pb::LinkStatistics, zone: &TimeZone) -> Self {
        Links {
            platforms_involved: links.platforms_involved,
            links_involved: links.total.unwrap_or_default().links,
            suspended_channels: links
                .suspended_channels
                .iter()
                .map(|c| SuspendedChannel {
                    name: c.channel.clone(),
                    platform: links
                        .by_platform
                        .iter()
                        .find(|p| p.platform == c.platform)
                        .map_or_else(|| c.platform.clone(), |p| p.display_name.clone()),
                    handle: (!c.handle.is_empty()).then(|| c.handle.clone()),
                    suspended_since: date_in(c.suspended_since.as_ref(), zone).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

impl Liaison {
    /// Every removal figure is link-tracking's; the correspondence is liaison's.
    fn of(links: &links_pb::LinkStatistics, liaison: &liaison_pb::LiaisonStatistics, zone: &TimeZone) -> Self {
        let total = links.total.unwrap_or_default();
        let by_platform = PlatformFigures::asked_to_remove(links);
        let most_active_platform = by_platform.iter().max_by_key(|p| p.links_requested_removal).cloned();
        let correspondence = liaison.total.clone().unwrap_or_default();
        let disclosure = correspondence.disclosure_requests.unwrap_or_default();
        let served = |kind: liaison_pb::NoticeKind| {
            let s = correspondence.service_by_kind.iter().find(|s| s.kind == kind as i32);
            Served {
                notices: s.map_or(0, |s| s.notices),
                platforms: s.map_or(0, |s| s.platforms),
                first_served: s.and_then(|s| date_in(s.first_served_at.as_ref(), zone)),
                last_served: s.and_then(|s| date_in(s.last_served_at.as_ref(), zone)),
            }
        };
        let summonses = served(liaison_pb::NoticeKind::Summons);
        let considered = correspondence
            .drafted_by_kind
            .iter()
            .find(|k| k.kind == liaison_pb::NoticeKind::Summons as i32)
            .map_or(0, |k| k.notices);
        Liaison {
            platforms_written_to: liaison.platforms_written_to,
            letters_sent: correspondence.letters_sent,
            notices_served: correspondence.notices_served,
            links_requested_removal: total.links_requested,
            links_removed: total.links_removed,
            links_access_restricted: total.links_access_restricted,
            removal_rate_pct: percent(total.links_removed, total.links_requested),
            removal_rate: total.removal_rate,
            by_platform,
            most_active_platform,
            disclosure_requests: Disclosure {
                sent: disclosure.sent,
                answered: disclosure.answered,
                refused: disclosure.refused,
                unanswered: disclosure.unanswered,
            },
            injunction_notices: served(liaison_pb::NoticeKind::InjunctionNotice),
            summonses: Summonses { considered, issued: summonses.notices, platforms: summonses.platforms },
        }
    }
}

impl PlatformFigures {
    /// The platforms asked to remove at least one link, in link-tracking's order.
    fn asked_to_remove(links: &links_pb::LinkStatistics) -> Vec<Self> {
        links
            .by_platform
            .iter()
            .filter(|p| p.figures.as_ref().is_some_and(|f| f.links_requested > 0))
            .map(|p| {
                let f = p.figures.unwrap_or_default();
                PlatformFigures {
                    name: p.display_name.clone(),
                    platform: p.platform.clone(),
                    kind: strip(
                        links_pb::PlatformKind::try_from(p.kind).map_or("UNKNOWN", |k| k.as_str_name()),
                        "PLATFORM_KIND_",
                    )
                    .to_owned(),
                    links_requested_removal: f.links_requested,
                    links_removed: f.links_removed,
                    removal_rate_pct: percent(f.links_removed, f.links_requested),
                    removal_rate: f.removal_rate,
                }
            })
            .collect()
    }
}

impl Referrals {
    /// The cases assessed, and the referrals to the Police by outcome (the statement's; other
    /// agencies' are left out).
    fn of(referral: &referral_pb::ReferralStatistics) -> Self {
        let police_figures = referral.by_agency.iter().find(|a| a.agency == "POLICE");
        let mut by_outcome = BTreeMap::new();
        let mut cases_by_legal_basis = BTreeMap::new();
        if let Some(police) = police_figures {
            for o in &police.by_outcome {
                let name = referral_pb::ReferralStatus::try_from(o.outcome).map_or("UNKNOWN", |s| s.as_str_name());
                by_outcome.insert(strip(name, "REFERRAL_STATUS_").to_owned(), o.referrals);
            }
            for b in &police.cases_referred_by_legal_basis {
                let name = referral_pb::LegalBasis::try_from(b.legal_basis).map_or("UNKNOWN", |b| b.as_str_name());
                cases_by_legal_basis.insert(strip(name, "LEGAL_BASIS_").to_owned(), b.cases);
            }
        }
        Referrals {
            cases_assessed: referral.cases_assessed,
            cases_referred_to_police: police_figures.map_or(0, |p| p.cases_referred),
            referrals_acknowledged: police_figures.map_or(0, |p| p.referrals_acknowledged),
            by_outcome,
            cases_by_legal_basis,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
