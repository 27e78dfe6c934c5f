//! Publishing a report: the moment its figures are computed for (`recorded_before`) fixed first,
//! every service asked as recorded before it, and the figures kept by intake as whole numbers by
//! name, so that they can be reproduced later and every revision since explained. Only the
//! press-safe report is published, and only its numbers: no channel, no handle, no text.

use std::collections::BTreeMap;

use doxwatch_kit::timestamp::{from_proto, to_proto};
use doxwatch_proto::intake::{self as intake_pb, intake_service_client::IntakeServiceClient};
use jiff::tz::TimeZone;
use time::OffsetDateTime;

use crate::{
    Endpoints,
    report::{self, Form, Report, ReportError, failed, open},
};

/// How long after the moment its figures are for a report is computed: a write whose transaction
/// took its record time just before that moment has committed by then, so the figures count what
/// a later reproduction will count.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// A publication as intake keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub name: String,
    pub reference: String,
    pub as_of: OffsetDateTime,
    pub recorded_before: OffsetDateTime,
    pub published_by: String,
    pub publish_time: OffsetDateTime,
    pub figures: BTreeMap<String, i64>,
}

impl TryFrom<intake_pb::Publication> for Published {
    type Error = ReportError;

    fn try_from(p: intake_pb::Publication) -> Result<Self, ReportError> {
        let time = |ts: Option<&prost_types::Timestamp>, field: &str| {
            ts.and_then(|t| from_proto(t).ok()).ok_or_else(|| {
                ReportError::Malformed(format!("intake sent publication {} without its {field}", p.name))
            })
        };
        Ok(Published {
            as_of: time(p.as_of.as_ref(), "as_of")?,
            recorded_before: time(p.recorded_before.as_ref(), "recorded_before")?,
            publish_time: time(p.publish_time.as_ref(), "publish_time")?,
            figures: p.figures.iter().map(|f| (f.name.clone(), f.value)).collect(),
            name: p.name,
            reference: p.reference,
            published_by: p.published_by,
        })
    }
}

/// The report's figures as whole numbers by path, the form a publication keeps: every count and
/// rounded percentage of the press-safe report, suspended channels counted (never named), platforms
/// by their resource names. Rates before rounding and dates are left out (they follow from these).
pub fn figures(r: &Report) -> BTreeMap<String, i64> {
    let mut f = BTreeMap::new();
    let mut put = |name: String, value: i64| {
        f.insert(name, value);
    };
    let c = &r.cases;
    for (name, value) in [
        ("total", c.total),
        ("complaints_and_discovered", c.complaints_and_discovered),
        ("complaints", c.complaints),
        ("discovered_by_patrol", c.discovered_by_patrol),
        ("agency_referrals", c.agency_referrals),
        ("enquiries", c.enquiries),
    ] {
        put(format!("cases.{name}"), value);
    }
    let v = &r.victims;
    for (name, value) in [
        ("police_and_families", v.police_and_families),
        ("other", v.other),
        ("police_and_families_pct", v.police_and_families_pct),
        ("other_pct", v.other_pct),
    ] {
        put(format!("victims.{name}"), value);
    }
    for (category, value) in &v.by_category {
        put(format!("victims.by_category.{category}"), *value);
    }
    put("links.platforms_involved".into(), r.links.platforms_involved);
    put("links.links_involved".into(), r.links.links_involved);
    put("links.suspended_channels".into(), r.links.suspended_channels.len() as i64);
    let l = &r.liaison;
    for (name, value) in [
        ("platforms_written_to", l.platforms_written_to),
        ("letters_sent", l.letters_sent),
        ("notices_served", l.notices_served),
        ("links_requested_removal", l.links_requested_removal),
        ("links_removed", l.links_removed),
        ("links_access_restricted", l.links_access_restricted),
        ("removal_rate_pct", l.removal_rate_pct),
        ("disclosure_requests.sent", l.disclosure_requests.sent),
        ("disclosure_requests.answered", l.disclosure_requests.answered),
        ("disclosure_requests.refused", l.disclosure_requests.refused),
        ("disclosure_requests.unanswered", l.disclosure_requests.unanswered),
        ("injunction_notices.notices", l.injunction_notices.notices),
        ("injunction_notices.platforms", l.injunction_notices.platforms),
        ("summonses.considered", l.summonses.considered),
        ("summonses.issued", l.summonses.issued),
        ("summonses.platforms", l.summonses.platforms),
    ] {
        put(format!("liaison.{name}"), value);
    }
    for p in &l.by_platform {
        put(format!("liaison.by_platform.{}.links_requested_removal", p.platform), p.links_requested_removal);
        put(format!("liaison.by_platform.{}.links_removed", p.platform), p.links_removed);
        put(format!("liaison.by_platform.{}.removal_rate_pct", p.platform), p.removal_rate_pct);
    }
    let q = &r.referrals;
    put("referrals.cases_assessed".into(), q.cases_assessed);
    put("referrals.cases_referred_to_police".into(), q.cases_referred_to_police);
    put("referrals.referrals_acknowledged".into(), q.referrals_acknowledged);
    for (outcome, value) in &q.by_outcome {
        put(format!("referrals.by_outcome.{outcome}"), *value);
    }
    for (basis, value) in &q.cases_by_legal_basis {
        put(format!("referrals.cases_by_legal_basis.{basis}"), *value);
    }
    f
}

async fn intake(endpoints: &Endpoints) -> Result<IntakeServiceClient<crate::load::Authed>, ReportError> {
    Ok(IntakeServiceClient::new(open("intake", &endpoints.intake, &endpoints.credentials).await?))
}

/// The moment intake's clock says it is: the `recorded_before` a report published now is computed
/// for (intake's clock, as intake is the one that refuses a moment in its future).
pub async fn recorded_before_now(endpoints: &Endpoints) -> Result<OffsetDateTime, ReportError> {
    let answer = intake(endpoints)
        .await?
        .get_intake_statistics(intake_pb::GetIntakeStatisticsRequest { as_of: None, recorded_before: None })
        .await
        .map_err(failed("intake", &endpoints.intake, "GetIntakeStatistics"))?
        .into_inner();
    let now = answer.as_of.as_ref().and_then(|t| from_proto(t).ok());
    let now = now.ok_or_else(|| ReportError::Malformed("intake did not say what time it is".to_owned()))?;
    Ok(now)
}

/// Computes the press-safe report as at `as_of` as recorded before `recorded_before` (waiting
/// [`SETTLE`] first, for writes already under way), and records its figures as published.
/// Returns the publication and the report it published.
pub async fn publish(
    endpoints: &Endpoints,
    as_of: OffsetDateTime,
    recorded_before: OffsetDateTime,
    zone: &TimeZone,
    request_id: String,
) -> Result<(Published, Report), ReportError> {
    tokio::time::sleep(SETTLE).await;
    let report = report::gather_in(endpoints, as_of, Some(recorded_before), Form::PressSafe, zone).await?;
    let publication = intake_pb::Publication {
        as_of: Some(to_proto(as_of)),
        recorded_before: Some(to_proto(recorded_before)),
        figures: figures(&report).into_iter().map(|(name, value)| intake_pb::PublishedFigure { name, value }).collect(),
        ..Default::default()
    };
    let made = intake(endpoints)
        .await?
        .create_publication(intake_pb::CreatePublicationRequest { publication: Some(publication), request_id })
        .await
        .map_err(failed("intake", &endpoints.intake, "CreatePublication"))?
        .into_inner();
    Ok((Published::try_from(made)?, report))
}

/// A publication by reference (`PUB-2019-000001`) or name (`publications/{id}`).
pub async fn fetch(endpoints: &Endpoints, which: &str) -> Result<Published, ReportError> {
    let which = which.trim();
    let name = if which.starts_with("publications/") { which.to_owned() } else { format!("publications/{which}") };
    let found = intake(endpoints)
        .await?
        .get_publication(intake_pb::GetPublicationRequest { name })
        .await
        .map_err(failed("intake", &endpoints.intake, "GetPublication"))?
        .into_inner();
    Published::try_from(found)
}

/// Every publication, oldest first.
pub async fn list(endpoints: &Endpoints) -> Result<Vec<Published>, ReportError> {
    let mut client = intake(endpoints).await?;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_publications(intake_pb::ListPublicationsRequest { page_size: 500, page_token })
            .await
            .map_err(failed("intake", &endpoints.intake, "ListPublications"))?
            .into_inner();
        for p in page.publications {
            all.push(Published::try_from(p)?);
        }
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}
