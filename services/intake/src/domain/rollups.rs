//! The intake figures as sums of ±1 changes (see [`doxwatch_kit::rollup`]), so that statistics need
//! not read every case.
//!
//! A case counts, as at T and recorded before R, once it was received by T and recorded before R:
//! for its kind, for its status as at T (its latest status change by then, as recorded before R),
//! for its kind and victim group, and for its kind and each category of its data subjects (as
//! last recorded before R). So its keys change over business time only at its receipt and its
//! status changes, and over record time at its recording, its status changes' and its data
//! subjects' versions.

use std::collections::BTreeSet;

use doxwatch_kit::rollup::{self, History, Timeline};
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;

/// What a point counts; stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// Cases of the kind `value`.
    Cases = 1,
    /// Cases in the status `value`.
    Status = 2,
    /// Cases of a kind and victim group: `value` is kind × 100 + group.
    Group = 3,
    /// Cases of a kind naming a data subject of a category: `value` is kind × 100 + category.
    Category = 4,
}

impl From<Measure> for i64 {
    fn from(m: Measure) -> i64 {
        m as i64
    }
}

impl Measure {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Self::Cases,
            2 => Self::Status,
            3 => Self::Group,
            4 => Self::Category,
            _ => return None,
        })
    }
}

/// A measure and its value.
pub type Key = (Measure, i64);

/// Changes keyed by (record time, business time, (measure, value)).
pub type Points = rollup::Points<Key>;

/// A status change: (occurred at, record time, event id, status).
pub type StatusRow = (OffsetDateTime, OffsetDateTime, Uuid, CaseStatus);

/// A version of the case's data subjects: (version, recorded at, their categories).
pub type SubjectsRow = (i32, OffsetDateTime, BTreeSet<DataSubjectCategory>);

/// What the figures read of one case: every row, since a case has few.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseHistory {
    pub kind: CaseKind,
    pub received_at: OffsetDateTime,
    pub create_time: OffsetDateTime,
    pub statuses: Vec<StatusRow>,
    pub subjects: Vec<SubjectsRow>,
}

impl CaseHistory {
    /// What the case counts for as at `t`, as the cut keeping the record times that pass `keep` sees
    /// it: the same rules as `store::statistics_rows` and [`tally`], which are the specification.
    fn state_at(&self, keep: impl Fn(OffsetDateTime) -> bool, t: OffsetDateTime) -> BTreeSet<Key> {
        let mut state = BTreeSet::new();
        if !keep(self.create_time) || self.received_at > t {
            return state;
        }
        let kind = i64::from(self.kind.code());
        state.insert((Measure::Cases, kind));
        let status = self.statuses.iter().filter(|s| keep(s.1) && s.0 <= t).max_by_key(|s| (s.0, s.2)).map(|s| s.3);
        if let Some(status) = status {
            state.insert((Measure::Status, i64::from(status.code())));
        }
        let empty = BTreeSet::new();
        let categories = self.subjects.iter().filter(|s| keep(s.1)).max_by_key(|s| s.0).map_or(&empty, |s| &s.2);
        let group = if categories.iter().any(|c| c.is_police_or_family()) {
            VictimGroup::PoliceAndFamilies
        } else {
            VictimGroup::Other
        };
        state.insert((Measure::Group, kind * 100 + i64::from(group.code())));
        for category in categories {
            state.insert((Measure::Category, kind * 100 + i64::from(category.code())));
        }
        state
    }
}

impl History for CaseHistory {
    type Key = Key;

    fn record_times(&self) -> BTreeSet<OffsetDateTime> {
        let mut times: BTreeSet<OffsetDateTime> = self.statuses.iter().map(|s| s.1).collect();
        times.insert(self.create_time);
        times.extend(self.subjects.iter().map(|s| s.1));
        times
    }

    fn timeline(&self, recorded_before: OffsetDateTime) -> Timeline<Key> {
        let keep = |x: OffsetDateTime| x < recorded_before;
        let mut moments: BTreeSet<OffsetDateTime> = self.statuses.iter().filter(|s| keep(s.1)).map(|s| s.0).collect();
        moments.insert(self.received_at);
        rollup::timeline(moments, |t| rollup::once(self.state_at(keep, t)))
    }
}

/// The figures from summed points: (measure, value, sum) for each that is not zero, with every
/// kind, status and (kind, group) present, zeros included, as [`tally`] gives them.
pub fn figures(
    sums: impl IntoIterator<Item = (Measure, i64, i64)>,
    first_received_at: Option<OffsetDateTime>,
) -> IntakeFigures {
    let mut f = tally(&[]);
    let split = |value: i64| (i32::try_from(value / 100).ok(), i32::try_from(value % 100).ok());
    for (measure, value, n) in sums {
        match measure {
            Measure::Cases => {
                if let Some(kind) = i32::try_from(value).ok().and_then(CaseKind::from_code) {
                    *f.by_kind.entry(kind).or_default() += n;
                    f.total += n;
                }
            }
            Measure::Status => {
                if let Some(status) = i32::try_from(value).ok().and_then(CaseStatus::from_code) {
                    *f.by_status.entry(status).or_default() += n;
                }
            }
            Measure::Group => {
                if let (Some(kind), Some(group)) = split(value)
                    && let (Some(kind), Some(group)) = (CaseKind::from_code(kind), VictimGroup::from_code(group))
                {
                    *f.by_kind_and_group.entry((kind, group)).or_default() += n;
                }
            }
            Measure::Category => {
                if let (Some(kind), Some(category)) = split(value)
                    && let (Some(kind), Some(category)) =
                        (CaseKind::from_code(kind), DataSubjectCategory::from_code(category))
                {
                    *f.by_kind_and_category.entry((kind, category)).or_default() += n;
                }
            }
        }
    }
    f.first_received_at = first_received_at;
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_backdated_closure_moves_the_case_from_its_own_record_time() {
        let (d1, d2, d3) =
            (datetime!(2019-10-01 0:00 UTC), datetime!(2019-10-02 0:00 UTC), datetime!(2019-10-03 0:00 UTC));
        let received = (d1, d1, Uuid::now_v7(), CaseStatus::Received);
        let before = CaseHistory {
            kind: CaseKind::Complaint,
            received_at: d1,
            create_time: d1,
            statuses: vec![received],
            subjects: vec![(1, d1, [DataSubjectCategory::PoliceOfficer].into_iter().collect())],
        };
        let mut after = before.clone();
        after.statuses.push((d2, d3, Uuid::now_v7(), CaseStatus::Closed));
        let points = rollup::correction(&before, &after, d3);
        let expected: Points = [
            ((d3, d2, (Measure::Status, CaseStatus::Received.code().into())), -1),
            ((d3, d2, (Measure::Status, CaseStatus::Closed.code().into())), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(points, expected);
    }
}
