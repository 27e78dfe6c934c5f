//! Figures "as at T, recorded before R" kept as sums, so that a service's statistics cost the same
//! however long its history.
//!
//! A service counts things (links, cases, notices) by keys: "a case of this kind", "a link
//! removed", "removed so many microseconds after the request". For one record-time cut R (what was
//! recorded before R) a thing's keys are a step function of business time T. So each figure as at
//! T, recorded before R, is `Σ {n : business ≤ T, record < R}` over points (record time, business
//! time, key, ±n), and a thing's points are: for each record time r at which rows of it were
//! recorded, its timeline with those rows minus its timeline without them.
//!
//! A write at record time r (a backfill too) changes only the points at r and later, and
//! [`correction`] finds exactly which, from the thing's own rows before and after the write, so
//! cuts before r are never touched. The service says what its things' rows are and what keys
//! they count for ([`History`]); [`store::Tables`] keeps the points, folds them into sums by
//! [`Unit`] off the write path, and reads a figure back from them.

pub(crate) mod held;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

/// Changes keyed by (record time, business time, key).
pub type Points<K> = BTreeMap<(OffsetDateTime, OffsetDateTime, K), i64>;

/// Changes of a thing's keys over business time, each at the moment it takes effect.
pub type Timeline<K> = BTreeMap<(OffsetDateTime, K), i64>;

/// The rows of one thing that its figures read, each with its record time (whole microseconds,
/// as the stores keep them: see [`stored`]).
pub trait History {
    /// What the thing counts for at a moment.
    type Key: Ord + Copy;

    /// The record times of the rows held.
    fn record_times(&self) -> BTreeSet<OffsetDateTime>;

    /// The thing's keys over business time, as the cut that keeps the rows recorded before
    /// `recorded_before` sees it (usually through [`timeline`]).
    fn timeline(&self, recorded_before: OffsetDateTime) -> Timeline<Self::Key>;
}

/// What a thing counts for at a moment: how many times it counts for each key (once, mostly; a
/// notice counts once for each of its items with a given outcome).
pub type State<K> = BTreeMap<K, i64>;

/// Counts each key once.
pub fn once<K: Ord>(keys: impl IntoIterator<Item = K>) -> State<K> {
    keys.into_iter().map(|k| (k, 1)).collect()
}

/// The changes of `state_at` over `moments`: at each moment, the difference of each key's count
/// from the moment before. `moments` must hold every business time at which the state can change.
pub fn timeline<K: Ord + Copy>(
    moments: BTreeSet<OffsetDateTime>,
    state_at: impl Fn(OffsetDateTime) -> State<K>,
) -> Timeline<K> {
    let mut changes = BTreeMap::new();
    let mut before: State<K> = BTreeMap::new();
    for t in moments {
        let now = state_at(t);
        for (k, n) in &now {
            let was = before.get(k).copied().unwrap_or(0);
            if *n != was {
                changes.insert((t, *k), n - was);
            }
        }
        for (k, was) in &before {
            if !now.contains_key(k) && *was != 0 {
                changes.insert((t, *k), -was);
            }
        }
        before = now;
    }
    changes
}

/// A thing's points at record times from `from` on.
pub fn points_from<H: History>(history: &H, from: OffsetDateTime) -> Points<H::Key> {
    let mut points = Points::new();
    for r in history.record_times().into_iter().filter(|r| *r >= from) {
        // Record times are whole microseconds: "at or before r" is "before r + 1 µs".
        let mut step = history.timeline(r + time::Duration::MICROSECOND);
        for (k, n) in history.timeline(r) {
            *step.entry(k).or_default() -= n;
        }
        for ((b, key), n) in step {
            if n != 0 {
                *points.entry((r, b, key)).or_default() += n;
            }
        }
    }
    points
}

/// The points to add so that a thing's points, which were those of `before`, become those of
/// `after`: both histories read from `from`, the record time of the write, on.
pub fn correction<H: History>(before: &H, after: &H, from: OffsetDateTime) -> Points<H::Key> {
    let mut points = points_from(after, from);
    for (k, n) in points_from(before, from) {
        *points.entry(k).or_default() -= n;
    }
    points.retain(|_, n| *n != 0);
    points
}

/// The moment as the stores keep it: whole microseconds.
pub fn stored(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or(t)
}

/// A duration, in microseconds, at the resolution the figures keep times to: the second below an
/// hour, the minute below a day, the hour below 100 days, and the day beyond; cut toward zero.
///
/// A median or percentile of times is taken over durations at this resolution, in a service's
/// specification (its tally) and in its sums alike, so the two agree exactly; and the sums of a
/// time measure hold at most 3,600 + 1,380 + 2,376 distinct values below 100 days, and one a day
/// beyond, whatever the number of records behind them. Exact microseconds would make one value
/// per record, and a read that grows with them. Migrations that bring stored values to it use
/// the same bounds (see [`DURATION_GRAIN_SQL`]).
pub fn duration_grain(micros: i64) -> i64 {
    const SECOND: i64 = 1_000_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let unit = match micros.unsigned_abs() {
        m if m < HOUR.unsigned_abs() => SECOND,
        m if m < DAY.unsigned_abs() => MINUTE,
        m if m < (100 * DAY).unsigned_abs() => HOUR,
        _ => DAY,
    };
    micros / unit * unit
}

/// [`duration_grain`] of a column `value`, in SQL both backends run (integer division cuts toward
/// zero in both), for migrations of stored durations.
pub const DURATION_GRAIN_SQL: &str = "CASE \
    WHEN ABS(value) < 3600000000 THEN value / 1000000 * 1000000 \
    WHEN ABS(value) < 86400000000 THEN value / 60000000 * 60000000 \
    WHEN ABS(value) < 8640000000000 THEN value / 3600000000 * 3600000000 \
    ELSE value / 86400000000 * 86400000000 END";

/// A length of time the sums are kept by, coarsest first: each divides the one before it (UTC).
/// The microsecond is the stores' own resolution: a period of it is a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Microsecond,
}

impl Unit {
    /// Every unit, coarsest first.
    pub const ALL: [Unit; 6] = [Unit::Month, Unit::Day, Unit::Hour, Unit::Minute, Unit::Second, Unit::Microsecond];

    fn seconds(self) -> i64 {
        match self {
            Unit::Month | Unit::Microsecond => 0,
            Unit::Day => 86_400,
            Unit::Hour => 3_600,
            Unit::Minute => 60,
            Unit::Second => 1,
        }
    }

    /// The period of this unit a moment falls in: months counted from January of the year 0, the
    /// others from 1970-01-01T00:00Z.
    pub fn period(self, t: OffsetDateTime) -> i64 {
        match self {
            Unit::Month => {
                let t = t.to_offset(time::UtcOffset::UTC);
                i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1
            }
            // Within i64 for every year a date can hold.
            Unit::Microsecond => i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX),
            unit => t.unix_timestamp().div_euclid(unit.seconds()),
        }
    }

    /// The first moment of a period of this unit (the epoch for one no date can hold).
    pub fn start(self, period: i64) -> OffsetDateTime {
        self.try_start(period).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The first moment of a period of this unit, if a date can hold it.
    pub fn try_start(self, period: i64) -> Option<OffsetDateTime> {
        match self {
            Unit::Month => i32::try_from(period.div_euclid(12)).ok().and_then(|year| {
                let month = time::Month::try_from(u8::try_from(period.rem_euclid(12) + 1).ok()?).ok()?;
                Some(time::Date::from_calendar_date(year, month, 1).ok()?.midnight().assume_utc())
            }),
            Unit::Microsecond => OffsetDateTime::from_unix_timestamp_nanos(i128::from(period) * 1_000).ok(),
            unit => OffsetDateTime::from_unix_timestamp(period.checked_mul(unit.seconds())?).ok(),
        }
    }

    /// The first moment of the period of this unit that `t` falls in.
    pub fn floor(self, t: OffsetDateTime) -> OffsetDateTime {
        self.start(self.period(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations_keep_the_resolution_of_their_length() {
        let (s, m, h, d) = (1_000_000i64, 60_000_000i64, 3_600_000_000i64, 86_400_000_000i64);
        assert_eq!(duration_grain(0), 0);
        assert_eq!(duration_grain(59 * m + 59 * s + 999_999), 59 * m + 59 * s, "to the second below an hour");
        assert_eq!(duration_grain(h + 59 * s), h, "to the minute below a day");
        assert_eq!(duration_grain(23 * h + 59 * m + 59 * s), 23 * h + 59 * m);
        assert_eq!(duration_grain(2 * d + 3 * h + 59 * m), 2 * d + 3 * h, "to the hour below 100 days");
        assert_eq!(duration_grain(100 * d + 23 * h), 100 * d, "to the day beyond");
        assert_eq!(duration_grain(-(h + 30 * s)), -h, "toward zero");
        assert_eq!(duration_grain(i64::MAX) % d, 0);
        assert_eq!(duration_grain(i64::MIN) % d, 0);
        // Whole days stay as they are, and half days below a hundred.
        for days in [1, 2, 3, 21, 37, 99] {
            assert_eq!(duration_grain(days * d), days * d);
            assert_eq!(duration_grain(days * d + 12 * h), days * d + 12 * h);
        }
        assert_eq!(duration_grain(365 * d), 365 * d);
    }

    #[test]
    fn periods_count_on_across_years_and_nest() {
        let eve = datetime!(2019-12-31 23:59:59.999999 UTC);
        let new_year = datetime!(2020-01-01 0:00 UTC);
        for unit in Unit::ALL {
            assert_eq!(unit.period(new_year) - unit.period(eve), 1, "{unit:?}");
            assert_eq!(unit.start(unit.period(new_year)), new_year, "{unit:?}");
        }
        assert_eq!(Unit::Month.floor(eve), datetime!(2019-12-01 0:00 UTC));
        assert_eq!(Unit::Day.floor(eve), datetime!(2019-12-31 0:00 UTC));
        assert_eq!(Unit::Minute.floor(eve), datetime!(2019-12-31 23:59 UTC));
        assert_eq!(Unit::Microsecond.floor(eve), eve);
        assert_eq!(Unit::Microsecond.floor(datetime!(2019-12-31 23:59:59.9999999 UTC)), eve);
        // Before the epoch too, a moment falls in the period that starts at or before it.
        let old = datetime!(1969-12-31 23:59:30 UTC);
        assert_eq!(Unit::Minute.floor(old), datetime!(1969-12-31 23:59 UTC));
        assert_eq!(Unit::Month.floor(old), datetime!(1969-12-01 0:00 UTC));
        // A moment given with an offset falls in its UTC periods.
        let hk = datetime!(2020-01-01 7:00 +08:00);
        assert_eq!((Unit::Day.period(hk), Unit::Month.period(hk)), (Unit::Day.period(eve), Unit::Month.period(eve)));
    }

    /// A thing counted from its first row's business time on, by the value of its latest row.
    struct Latest(Vec<(OffsetDateTime, OffsetDateTime, u8)>);

    impl History for Latest {
        type Key = u8;
        fn record_times(&self) -> BTreeSet<OffsetDateTime> {
            self.0.iter().map(|r| r.1).collect()
        }
        fn timeline(&self, recorded_before: OffsetDateTime) -> Timeline<u8> {
            let rows: Vec<_> = self.0.iter().filter(|r| r.1 < recorded_before).collect();
            timeline(rows.iter().map(|r| r.0).collect(), |t| {
                once(rows.iter().filter(|r| r.0 <= t).max_by_key(|r| r.0).map(|r| r.2))
            })
        }
    }

    #[test]
    fn a_backfill_corrects_only_from_its_own_record_time() {
        let (d1, d2, d3, d4) = (
            datetime!(2019-10-01 0:00 UTC),
            datetime!(2019-10-02 0:00 UTC),
            datetime!(2019-10-03 0:00 UTC),
            datetime!(2019-10-04 0:00 UTC),
        );
        let before = Latest(vec![(d1, d1, 1), (d3, d3, 3)]);
        let after = Latest(vec![(d1, d1, 1), (d3, d3, 3), (d2, d4, 2)]);
        // Recorded at d4: from d2 the value is 2 until d3's 3 takes over again.
        let expected: Points<u8> =
            [((d4, d2, 1), -1), ((d4, d2, 2), 1), ((d4, d3, 2), -1), ((d4, d3, 1), 1)].into_iter().collect();
        assert_eq!(correction(&before, &after, d4), expected);
        // The thing's points as a whole: the sum at any cut is its keys at that cut.
        let all = points_from(&after, d1);
        let at = |t: OffsetDateTime, r: OffsetDateTime| -> BTreeMap<u8, i64> {
            let mut sums = BTreeMap::new();
            for ((rec, b, k), n) in &all {
                if *b <= t && *rec < r {
                    *sums.entry(*k).or_default() += n;
                }
            }
            sums.retain(|_, n| *n != 0);
            sums
        };
        assert_eq!(at(d2, d4), [(1, 1)].into_iter().collect());
        assert_eq!(at(d2, d4 + time::Duration::seconds(1)), [(2, 1)].into_iter().collect());
        assert_eq!(at(d3, d4 + time::Duration::seconds(1)), [(3, 1)].into_iter().collect());
    }
}
