//! Removal figures as at a moment, from one snapshot per link: when removal of it was first asked,
//! its status then, and when a check first confirmed it removed after that.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{ChannelId, LinkStatus, PlatformId};

/// A link as it stood at the moment asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSnapshot {
    pub platform: PlatformId,
    pub channel: Option<ChannelId>,
    pub first_request: Option<OffsetDateTime>,
    pub status: LinkStatus,
    /// The first confirmed removal at or after the first request.
    pub removed_at: Option<OffsetDateTime>,
    /// ONLINE by a confirmed observation after an earlier confirmed removal.
    pub reappeared: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemovalFigures {
    pub links: i64,
    pub requested: i64,
    pub removed: i64,
    pub access_restricted: i64,
    /// Links involved (requested or not) that reappeared after a confirmed removal.
    pub reappeared: i64,
    pub removal_rate: f64,
    pub median_seconds_to_removal: f64,
    pub p90_seconds_to_removal: f64,
}

#[derive(Default)]
struct Accumulator {
    links: i64,
    requested: i64,
    removed: i64,
    access_restricted: i64,
    reappeared: i64,
    seconds_to_removal: Vec<f64>,
}

impl Accumulator {
    fn add(&mut self, s: &LinkSnapshot) {
        self.links += 1;
        if s.reappeared {
            self.reappeared += 1;
        }
        let Some(requested_at) = s.first_request else { return };
        self.requested += 1;
        if s.status.is_removed() {
            self.removed += 1;
            if let Some(removed_at) = s.removed_at {
                let kept = doxwatch_kit::rollup::duration_grain(super::rollups::micros(removed_at - requested_at));
                self.seconds_to_removal.push(time::Duration::microseconds(kept).as_seconds_f64().max(0.0));
            }
        } else if s.status == LinkStatus::AccessRestricted {
            self.access_restricted += 1;
        }
    }

    fn finish(mut self) -> RemovalFigures {
        self.seconds_to_removal.sort_by(f64::total_cmp);
        RemovalFigures {
            links: self.links,
            requested: self.requested,
            removed: self.removed,
            access_restricted: self.access_restricted,
            reappeared: self.reappeared,
            removal_rate: if self.requested == 0 { 0.0 } else { self.removed as f64 / self.requested as f64 },
            median_seconds_to_removal: percentile(&self.seconds_to_removal, 0.5),
            p90_seconds_to_removal: percentile(&self.seconds_to_removal, 0.9),
        }
    }
}

/// The nearest-rank percentile of sorted values; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkFigures {
    pub total: RemovalFigures,
    pub by_platform: BTreeMap<PlatformId, RemovalFigures>,
    pub by_channel: BTreeMap<ChannelId, RemovalFigures>,
}

pub fn tally(snapshots: &[LinkSnapshot]) -> LinkFigures {
    let mut total = Accumulator::default();
    let mut platforms: BTreeMap<PlatformId, Accumulator> = BTreeMap::new();
    let mut channels: BTreeMap<ChannelId, Accumulator> = BTreeMap::new();
    for s in snapshots {
        total.add(s);
        platforms.entry(s.platform).or_default().add(s);
        if let Some(channel) = s.channel {
            channels.entry(channel).or_default().add(s);
        }
    }
    LinkFigures {
        total: total.finish(),
        by_platform: platforms.into_iter().map(|(k, a)| (k, a.finish())).collect(),
        by_channel: channels.into_iter().map(|(k, a)| (k, a.finish())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn counts_requested_removed_and_restricted() {
        let p = PlatformId::new();
        let at = datetime!(2019-10-01 0:00 UTC);
        let snap = |first_request, status, removed_at| LinkSnapshot {
            platform: p,
            channel: None,
            first_request,
            status,
            removed_at,
            reappeared: false,
        };
        let figures = tally(&[
            snap(None, LinkStatus::Removed, None), // removed but never asked: not in the rate
            snap(Some(at), LinkStatus::Removed, Some(at + time::Duration::days(2))),
            snap(Some(at), LinkStatus::ChannelRemoved, Some(at + time::Duration::days(4))),
            snap(Some(at), LinkStatus::AccessRestricted, None),
            snap(Some(at), LinkStatus::Online, None),
        ]);
        let t = figures.total;
        assert_eq!((t.links, t.requested, t.removed, t.access_restricted), (5, 4, 2, 1));
        assert_eq!(t.removal_rate, 0.5);
        assert_eq!(t.median_seconds_to_removal, 2.0 * 86400.0);
        assert_eq!(t.p90_seconds_to_removal, 4.0 * 86400.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
