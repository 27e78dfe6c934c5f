//! The figures a chart draws: intake's cases by kind and link-tracking's removal figures, asked as
//! at successive moments a step apart.

use std::collections::BTreeMap;

use doxwatch_kit::timestamp::to_proto;
use doxwatch_proto::{
    intake::{self as intake_pb, intake_service_client::IntakeServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
};
use futures::{StreamExt, TryStreamExt, stream};
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    Endpoints,
    report::{ReportError, failed, open},
};

/// Moments one chart may ask about; each costs two statistics calls.
const MAX_MOMENTS: usize = 1000;
/// Statistics calls in flight at once.
const CONCURRENCY: usize = 4;

/// Cases received up to a moment, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseCounts {
    pub complaints: i64,
    pub patrol_discoveries: i64,
    pub agency_referrals: i64,
    pub enquiries: i64,
}

impl CaseCounts {
    pub fn total(&self) -> i64 {
        self.complaints + self.patrol_discoveries + self.agency_referrals + self.enquiries
    }

    /// The cases received since `earlier`. A case deleted in between would make a count fall;
    /// a bar cannot go below zero, so it shows none.
    pub fn since(&self, earlier: &CaseCounts) -> CaseCounts {
        CaseCounts {
            complaints: (self.complaints - earlier.complaints).max(0),
            patrol_discoveries: (self.patrol_discoveries - earlier.patrol_discoveries).max(0),
            agency_referrals: (self.agency_referrals - earlier.agency_referrals).max(0),
            enquiries: (self.enquiries - earlier.enquiries).max(0),
        }
    }
}

/// Links whose removal had been requested, and those of them removed, as at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removals {
    pub requested: i64,
    pub removed: i64,
}

impl Removals {
    /// The share removed, in percent; none before any removal is requested.
    pub fn rate_pct(&self) -> Option<f64> {
        (self.requested > 0).then(|| 100.0 * self.removed as f64 / self.requested as f64)
    }
}

/// The figures as at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub at: OffsetDateTime,
    pub cases: CaseCounts,
    pub removals: Removals,
    /// By platform key (e.g. `telegram`), every platform with a link involved.
    pub by_platform: BTreeMap<String, Removals>,
}

/// The figures as at successive moments, `step` apart from the first to the last (which may be
/// nearer to the one before it).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub step: Duration,
    pub snapshots: Vec<Snapshot>,
    /// Platform key to the name people know it by.
    pub platform_names: BTreeMap<String, String>,
    /// The abbreviation of the zone the moments are stated in ("HKT"); empty for none.
    pub zone_abbreviation: String,
}

impl Series {
    /// Platforms asked to remove at least one link within the span, most links requested by the
    /// end first, as (key, name).
    pub fn platforms(&self) -> Vec<(&str, &str)> {
        let last = self.snapshots.last();
        let requested = |key: &str| last.and_then(|s| s.by_platform.get(key)).map_or(0, |r| r.requested);
        let mut keys: Vec<&str> = self
            .platform_names
            .keys()
            .map(String::as_str)
            .filter(|key| self.snapshots.iter().any(|s| s.by_platform.get(*key).is_some_and(|r| r.requested > 0)))
            .collect();
        keys.sort_by_key(|key| (std::cmp::Reverse(requested(key)), *key));
        keys.into_iter().map(|key| (key, self.platform_names.get(key).map_or(key, String::as_str))).collect()
    }

    /// The span of the last step when it is shorter than a whole one: the last bar of cases counts
    /// a partial week (say), and is drawn and labelled as such.
    pub fn partial_last_step(&self) -> Option<Duration> {
        let [.., before, last] = self.snapshots.as_slice() else { return None };
        let span = last.at - before.at;
        (span < self.step).then_some(span)
    }

    /// What one bar of the first panel counts: "week", "day", "3 days".
    pub(super) fn step_name(&self) -> String {
        match (self.step.whole_days(), self.step.whole_seconds() % 86_400 == 0) {
            (7, true) => "week".to_owned(),
            (1, true) => "day".to_owned(),
            (n, true) => format!("{n} days"),
            _ => format!("{} hours", self.step.whole_hours()),
        }
    }
}

/// The moments a series asks about: `from`, every `step` after it, and `to`.
pub fn moments(from: OffsetDateTime, to: OffsetDateTime, step: Duration) -> Result<Vec<OffsetDateTime>, ReportError> {
    if to <= from {
        return Err(ReportError::Span(format!(
            "the span must end after it starts ({} to {})",
            rfc3339(from),
            rfc3339(to)
        )));
    }
    if step < Duration::hours(1) {
        return Err(ReportError::Span(format!("a step of {step} is too short; the shortest is an hour")));
    }
    let count = ((to - from).whole_seconds() / step.whole_seconds()) as usize + 2;
    if count > MAX_MOMENTS {
        return Err(ReportError::Span(format!(
            "{count} moments from {} to {}; at most {MAX_MOMENTS}: take longer steps",
            rfc3339(from),
            rfc3339(to)
        )));
    }
    let mut moments: Vec<OffsetDateTime> = (0..).map(|i| from + step * i).take_while(|t| *t < to).collect();
    moments.push(to);
    Ok(moments)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Asks intake and link-tracking for their figures as at every moment from `from` to `to`.
pub async fn series(
    endpoints: &Endpoints,
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
) -> Result<Series, ReportError> {
    let moments = moments(from, to, step)?;
    let intake = IntakeServiceClient::new(open("intake", &endpoints.intake, &endpoints.credentials).await?);
    let links = LinksServiceClient::new(open("links", &endpoints.links, &endpoints.credentials).await?);
    let answers: Vec<(Snapshot, links_pb::LinkStatistics)> = stream::iter(moments)
        .map(|at| {
            let (mut intake, mut links) = (intake.clone(), links.clone());
            async move {
                let cases = intake
                    .get_intake_statistics(intake_pb::GetIntakeStatisticsRequest {
                        as_of: Some(to_proto(at)),
                        recorded_before: None,
                    })
                    .await
                    .map_err(failed("intake", &endpoints.intake, "GetIntakeStatistics"))?
                    .into_inner();
                let removals = links
                    .get_link_statistics(links_pb::GetLinkStatisticsRequest {
                        as_of: Some(to_proto(at)),
                        recorded_before: None,
                        ..Default::default()
                    })
                    .await
                    .map_err(failed("links", &endpoints.links, "GetLinkStatistics"))?
                    .into_inner();
                Ok::<_, ReportError>((snapshot(at, &cases, &removals), removals))
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let platform_names = answers
        .iter()
        .flat_map(|(_, l)| l.by_platform.iter().map(|p| (p.platform.clone(), p.display_name.clone())))
        .collect();
    let snapshots = answers.into_iter().map(|(s, _)| s).collect();
    Ok(Series { step, snapshots, platform_names, zone_abbreviation: String::new() })
}

fn snapshot(at: OffsetDateTime, intake: &intake_pb::IntakeStatistics, links: &links_pb::LinkStatistics) -> Snapshot {
    use intake_pb::CaseKind as K;
    let kind = |k: K| intake.by_kind.iter().find(|c| c.kind == k as i32).map_or(0, |c| c.cases);
    let removals = |f: Option<&links_pb::RemovalFigures>| {
        f.map_or_else(Removals::default, |f| Removals { requested: f.links_requested, removed: f.links_removed })
    };
    Snapshot {
        at,
        cases: CaseCounts {
            complaints: kind(K::Complaint),
            patrol_discoveries: kind(K::PatrolDiscovery),
            agency_referrals: kind(K::AgencyReferral),
            enquiries: kind(K::Enquiry),
        },
        removals: removals(links.total.as_ref()),
        by_platform: links.by_platform.iter().map(|p| (p.platform.clone(), removals(p.figures.as_ref()))).collect(),
    }
}
