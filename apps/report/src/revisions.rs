//! Why published figures moved: a publication's moment recomputed now, every figure that differs
//! from what was published, and under each the records that can have moved it — those each service
//! counts now but did not count then (a business time at or before the report's `as_of`, recorded
//! at or after its `recorded_before`), with who entered them and when.

use doxwatch_kit::timestamp::{from_proto, to_proto};
use doxwatch_proto::ops::{self as ops_pb, LateRecordKind as K, late_records_service_client::LateRecordsServiceClient};
use jiff::tz::TimeZone;
use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    Endpoints,
    publication::{self, Published},
    report::{self, Form, Report, ReportError, failed, open},
};

/// A record counted now that was not counted when the figures were published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LateRecord {
    /// The service that owns it.
    pub service: &'static str,
    pub record: String,
    pub reference: String,
    /// `case_received`, `link_observed`, ...
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub business_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub record_time: OffsetDateTime,
    /// Empty where the service keeps no actor for such records.
    pub recorded_by: String,
    #[serde(skip)]
    kind_code: K,
}

/// One figure that moved, with the late records that can have moved it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    pub figure: String,
    /// As published; `None` for a figure the publication did not have (a platform asked since).
    pub published: Option<i64>,
    /// As computed now; `None` for a figure the report no longer has.
    pub now: Option<i64>,
    pub records: Vec<LateRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revisions {
    pub reference: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_before: OffsetDateTime,
    pub published_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub publish_time: OffsetDateTime,
    /// Every figure that moved, by name; empty when none did.
    pub moved: Vec<Revision>,
    /// Figures as published that still read the same.
    pub unchanged: usize,
    /// The report as computed now, for naming platforms in what is shown.
    #[serde(skip)]
    pub report: Option<Report>,
}

/// The figures a late record of `kind` can move, as prefixes of their names.
fn moves(kind: K) -> &'static [&'static str] {
    match kind {
        K::CaseReceived => &["cases.", "victims."],
        K::CaseSubjectsChanged => &["victims."],
        // The report states no case's status.
        K::CaseStatusChanged | K::Unspecified => &[],
        K::LinkSeen => &["links.links_involved", "links.platforms_involved"],
        K::LinkObserved => &[
            "liaison.links_removed",
            "liaison.links_access_restricted",
            "liaison.removal_rate_pct",
            "liaison.by_platform.",
        ],
        K::RemovalRequested => &["liaison.links_requested_removal", "liaison.removal_rate_pct", "liaison.by_platform."],
        K::ChannelStatus => &["links.suspended_channels"],
        K::NoticeDrafted => &["liaison.summonses.considered"],
        K::NoticeServed | K::NoticeChanged => &[
            "liaison.platforms_written_to",
            "liaison.letters_sent",
            "liaison.notices_served",
            "liaison.disclosure_requests.",
            "liaison.injunction_notices.",
            "liaison.summonses.",
        ],
        K::NoticeReply => &["liaison.disclosure_requests."],
        K::Assessment => &["referrals.cases_assessed", "referrals.cases_by_legal_basis."],
        K::Referral => &["referrals."],
        K::ReferralEvent => {
            &["referrals.referrals_acknowledged", "referrals.by_outcome.", "referrals.cases_referred_to_police"]
        }
    }
}

/// The services that answer for their late records, and where each answers.
fn services(endpoints: &Endpoints) -> [(&'static str, &str); 4] {
    [
        ("intake", endpoints.intake.as_str()),
        ("links", endpoints.links.as_str()),
        ("liaison", endpoints.liaison.as_str()),
        ("referral", endpoints.referral.as_str()),
    ]
}

/// Every late record of one service for the moments given.
async fn late_records(
    endpoints: &Endpoints,
    service: &'static str,
    url: &str,
    as_of: OffsetDateTime,
    recorded_after: OffsetDateTime,
) -> Result<Vec<LateRecord>, ReportError> {
    let mut client = LateRecordsServiceClient::new(open(service, url, &endpoints.credentials).await?);
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_late_records(ops_pb::ListLateRecordsRequest {
                as_of: Some(to_proto(as_of)),
                recorded_after: Some(to_proto(recorded_after)),
                page_size: 500,
                page_token,
            })
            .await
            .map_err(failed(service, url, "ListLateRecords"))?
            .into_inner();
        for r in page.records {
            let kind = K::try_from(r.kind).unwrap_or(K::Unspecified);
            let time = |ts: Option<prost_types::Timestamp>| {
                ts.as_ref().and_then(|t| from_proto(t).ok()).ok_or_else(|| {
                    ReportError::Malformed(format!("{service} sent late record {} without its times", r.record))
                })
            };
            found.push(LateRecord {
                service,
                business_time: time(r.business_time)?,
                record_time: time(r.record_time)?,
                kind: kind.as_str_name().trim_start_matches("LATE_RECORD_KIND_").to_ascii_lowercase(),
                kind_code: kind,
                record: r.record,
                reference: r.reference,
                recorded_by: r.recorded_by,
            });
        }
        if page.next_page_token.is_empty() {
            return Ok(found);
        }
        page_token = page.next_page_token;
    }
}

/// The revisions of publication `which` (its reference or name): its moment recomputed now.
pub async fn revisions(endpoints: &Endpoints, which: &str, zone: &TimeZone) -> Result<Revisions, ReportError> {
    let p: Published = publication::fetch(endpoints, which).await?;
    let now = report::gather_in(endpoints, p.as_of, None, Form::PressSafe, zone).await?;
    let current = publication::figures(&now);
    let mut late = Vec::new();
    for (service, url) in services(endpoints) {
        late.extend(late_records(endpoints, service, url, p.as_of, p.recorded_before).await?);
    }
    let mut names: Vec<&String> = p.figures.keys().chain(current.keys()).collect();
    names.sort();
    names.dedup();
    let mut moved = Vec::new();
    for name in names {
        let (published, now) = (p.figures.get(name).copied(), current.get(name).copied());
        if published == now {
            continue;
        }
        let records =
            late.iter().filter(|r| moves(r.kind_code).iter().any(|prefix| name.starts_with(prefix))).cloned().collect();
        moved.push(Revision { figure: name.clone(), published, now, records });
    }
    let unchanged = p.figures.iter().filter(|(name, value)| current.get(*name) == Some(value)).count();
    Ok(Revisions {
        reference: p.reference,
        name: p.name,
        as_of: p.as_of,
        recorded_before: p.recorded_before,
        published_by: p.published_by,
        publish_time: p.publish_time,
        moved,
        unchanged,
        report: Some(now),
    })
}
