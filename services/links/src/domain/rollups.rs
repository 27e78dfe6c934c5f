//! The removal figures as sums of ±1 changes, so that statistics need not read every link.
//!
//! Every figure is a count over links of a per-link state: involved, requested, removed, access
//! restricted, reappeared, and "removed so many microseconds after the first request" (the
//! durations behind the median and p90). For one record-time cut R (what was recorded before R),
//! a link's state is a step function of business time T: it can change only at the link's own
//! first sighting, first request and observations. So each figure as at T, recorded before R, is
//! `Σ {n : business ≤ T, record < R}` over points (business time, record time, measure, ±n), and
//! a link's points are: for each record time r at which rows of it were recorded, its timeline
//! with those rows minus its timeline without them. A write at record time r (a backfill too)
//! changes only the points at r and later, and [`correction`] finds exactly which, from the link's
//! own rows before and after the write, so cuts before r are never touched.
//!
//! A duration is a value of its measure, and the sums keep one row per distinct value. Durations are
//! kept at the resolution of [`rollup::duration_grain`] (the second below an hour, the minute below
//! a day, the hour below 100 days, the day beyond), in the direct computation as in the sums, so
//! that the median and p90 agree with it exactly and a read takes a bounded number of distinct
//! durations, not one per removal; the counts' part grows only with periods, platforms and
//! channels.

use std::collections::{BTreeMap, BTreeSet};

use doxwatch_kit::rollup::{self, History, Timeline};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ChannelId, LinkFigures, LinkStatus, PlatformId, RemovalFigures};

/// What a point counts; stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    Links = 1,
    Requested = 2,
    Removed = 3,
    AccessRestricted = 4,
    Reappeared = 5,
    /// Removed `value` microseconds after the first request.
    RemovedAfter = 6,
}

impl From<Measure> for i64 {
    fn from(m: Measure) -> i64 {
        m as i64
    }
}

impl Measure {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Self::Links,
            2 => Self::Requested,
            3 => Self::Removed,
            4 => Self::AccessRestricted,
            5 => Self::Reappeared,
            6 => Self::RemovedAfter,
            _ => return None,
        })
    }
}

/// A confirmed observation (platform reports never count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub id: Uuid,
    pub status: LinkStatus,
    pub observed_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
}

/// What the figures read of one link, from a record time `from` on: rows recorded before `from`
/// enter only as the earliest sighting among them (the rest of those sightings cannot matter at
/// any cut from `from` on); everything else row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkHistory {
    pub first_seen_before: Option<OffsetDateTime>,
    /// Sightings recorded at or after `from`: (seen at, record time).
    pub sightings: Vec<(OffsetDateTime, OffsetDateTime)>,
    /// Removal requests: (served at, record time).
    pub requests: Vec<(OffsetDateTime, OffsetDateTime)>,
    pub observations: Vec<Confirmed>,
}

/// The state of a measure: which measure, and its value (0 but for durations).
pub type Key = (Measure, i64);

/// Changes keyed by (record time, business time, (measure, value)).
pub type Points = rollup::Points<Key>;

/// The link as some cut sees it.
struct View<'a> {
    first_seen: Option<OffsetDateTime>,
    first_request: Option<OffsetDateTime>,
    observations: Vec<&'a Confirmed>,
}

impl View<'_> {
    /// What the link counts for as at `t`: the same rules as the snapshot of
    /// `store::statistics::snapshots` and `tally`, which are the specification.
    fn state_at(&self, t: OffsetDateTime) -> BTreeSet<Key> {
        let mut state = BTreeSet::new();
        if self.first_seen.is_none_or(|s| s > t) {
            return state;
        }
        state.insert((Measure::Links, 0));
        let seen: Vec<&Confirmed> = self.observations.iter().copied().filter(|o| o.observed_at <= t).collect();
        let latest = seen.iter().max_by_key(|o| (o.observed_at, o.record_time, o.id)).map(|o| o.status);
        let was_removed = seen.iter().any(|o| o.status.is_removed());
        if was_removed && latest == Some(LinkStatus::Online) {
            state.insert((Measure::Reappeared, 0));
        }
        let Some(requested_at) = self.first_request.filter(|q| *q <= t) else { return state };
        state.insert((Measure::Requested, 0));
        let status = latest.unwrap_or(LinkStatus::Online);
        if status.is_removed() {
            state.insert((Measure::Removed, 0));
            let removed_at = seen
                .iter()
                .filter(|o| o.status.is_removed() && o.observed_at >= requested_at)
                .map(|o| o.observed_at)
                .min();
            if let Some(removed_at) = removed_at {
                state.insert((Measure::RemovedAfter, rollup::duration_grain(micros(removed_at - requested_at))));
            }
        } else if status == LinkStatus::AccessRestricted {
            state.insert((Measure::AccessRestricted, 0));
        }
        state
    }

    /// The changes of the state over business time, each at the moment it takes effect.
    fn timeline(&self) -> Timeline<Key> {
        let mut moments: BTreeSet<OffsetDateTime> = self.observations.iter().map(|o| o.observed_at).collect();
        moments.extend(self.first_seen);
        moments.extend(self.first_request);
        rollup::timeline(moments, |t| rollup::once(self.state_at(t)))
    }
}

/// A duration in whole microseconds, as the store keeps times; saturating, though business times
/// within the years 0000–9999 never reach the bounds.
pub fn micros(d: time::Duration) -> i64 {
    i64::try_from(d.whole_microseconds()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX })
}

impl LinkHistory {
    /// The link as seen by the cut that keeps rows whose record time passes `keep`.
    fn view(&self, keep: impl Fn(OffsetDateTime) -> bool) -> View<'_> {
        let later = self.sightings.iter().filter(|s| keep(s.1)).map(|s| s.0);
        View {
            first_seen: later.chain(self.first_seen_before).min(),
            first_request: self.requests.iter().filter(|r| keep(r.1)).map(|r| r.0).min(),
            observations: self.observations.iter().filter(|o| keep(o.record_time)).collect(),
        }
    }

    /// The link's points at record times from `from` on (all rows of the history are recorded at
    /// or after `from`, but for `first_seen_before`).
    pub fn points_from(&self, from: OffsetDateTime) -> Points {
        rollup::points_from(self, from)
    }
}

impl History for LinkHistory {
    type Key = Key;

    fn record_times(&self) -> BTreeSet<OffsetDateTime> {
        let mut times: BTreeSet<OffsetDateTime> = self.sightings.iter().map(|s| s.1).collect();
        times.extend(self.requests.iter().map(|r| r.1));
        times.extend(self.observations.iter().map(|o| o.record_time));
        times
    }

    fn timeline(&self, recorded_before: OffsetDateTime) -> Timeline<Key> {
        self.view(|x| x < recorded_before).timeline()
    }
}

/// The points to add so that a link's points, which were those of `before`, become those of
/// `after`: both histories read from `from`, the record time of the write, on.
pub fn correction(before: &LinkHistory, after: &LinkHistory, from: OffsetDateTime) -> Points {
    rollup::correction(before, after, from)
}

/// The sums of one scope (everything, a platform, a channel).
#[derive(Default)]
struct Sums {
    counts: BTreeMap<Measure, i64>,
    /// Microseconds from first request to removal, with how many links took that long.
    durations: BTreeMap<i64, i64>,
}

impl Sums {
    fn add(&mut self, measure: Measure, value: i64, n: i64) {
        match measure {
            Measure::RemovedAfter => *self.durations.entry(value).or_default() += n,
            _ => *self.counts.entry(measure).or_default() += n,
        }
    }

    fn finish(self) -> RemovalFigures {
        let count = |m| self.counts.get(&m).copied().unwrap_or(0);
        let (requested, removed) = (count(Measure::Requested), count(Measure::Removed));
        RemovalFigures {
            links: count(Measure::Links),
            requested,
            removed,
            access_restricted: count(Measure::AccessRestricted),
            reappeared: count(Measure::Reappeared),
            removal_rate: if requested == 0 { 0.0 } else { removed as f64 / requested as f64 },
            median_seconds_to_removal: weighted_percentile(&self.durations, 0.5),
            p90_seconds_to_removal: weighted_percentile(&self.durations, 0.9),
        }
    }
}

/// `percentile` of the values each repeated as often as it is counted.
fn weighted_percentile(counted: &BTreeMap<i64, i64>, p: f64) -> f64 {
    let len: i64 = counted.values().filter(|n| **n > 0).sum();
    if len == 0 {
        return 0.0;
    }
    let rank = ((p * len as f64).ceil() as i64).clamp(1, len);
    let mut seen = 0i64;
    for (micros, n) in counted.iter().filter(|(_, n)| **n > 0) {
        seen = seen.saturating_add(*n);
        if seen >= rank {
            return time::Duration::microseconds(*micros).as_seconds_f64().max(0.0);
        }
    }
    0.0
}

/// The figures from summed points: (platform, channel, measure, value, sum) for each that is not
/// zero. A platform or channel is listed when it has a link involved, as `tally` lists it.
pub fn figures(sums: impl IntoIterator<Item = (PlatformId, Option<ChannelId>, Measure, i64, i64)>) -> LinkFigures {
    let mut total = Sums::default();
    let mut platforms: BTreeMap<PlatformId, Sums> = BTreeMap::new();
    let mut channels: BTreeMap<ChannelId, Sums> = BTreeMap::new();
    for (platform, channel, measure, value, n) in sums {
        total.add(measure, value, n);
        platforms.entry(platform).or_default().add(measure, value, n);
        if let Some(channel) = channel {
            channels.entry(channel).or_default().add(measure, value, n);
        }
    }
    let involved = |s: &Sums| s.counts.get(&Measure::Links).is_some_and(|n| *n > 0);
    LinkFigures {
        total: total.finish(),
        by_platform: platforms.into_iter().filter(|(_, s)| involved(s)).map(|(k, s)| (k, s.finish())).collect(),
        by_channel: channels.into_iter().filter(|(_, s)| involved(s)).map(|(k, s)| (k, s.finish())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn observation(status: LinkStatus, observed_at: OffsetDateTime, record_time: OffsetDateTime) -> Confirmed {
        Confirmed { id: Uuid::now_v7(), status, observed_at, record_time }
    }

    #[test]
    fn a_backfilled_removal_corrects_from_its_own_record_time() {
        let (d1, d2, d3) =
            (datetime!(2019-10-01 0:00 UTC), datetime!(2019-10-02 0:00 UTC), datetime!(2019-10-03 0:00 UTC));
        let before = LinkHistory {
            first_seen_before: Some(d1),
            requests: vec![(d1, d1)],
            observations: vec![observation(LinkStatus::Online, d3, d3)],
            ..LinkHistory::default()
        };
        let mut after = before.clone();
        let late = d3 + time::Duration::days(1);
        after.observations.push(observation(LinkStatus::Removed, d2, late));
        let points = correction(&before, &after, late);
        // Removed from d2 until the ONLINE check of d3, and reappeared from d3 on.
        let expected: Points = [
            ((late, d2, (Measure::Removed, 0)), 1),
            ((late, d2, (Measure::RemovedAfter, 86_400_000_000)), 1),
            ((late, d3, (Measure::Removed, 0)), -1),
            ((late, d3, (Measure::RemovedAfter, 86_400_000_000)), -1),
            ((late, d3, (Measure::Reappeared, 0)), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(points, expected);
    }
}
