//! When things happen in a generated operation: cases week by week, rising as the operation
//! becomes known and rising and falling with events; each later step a plausible delay after the
//! one it follows, drawn within what is left before the report's moment rather than pushed up
//! against it.

use std::f64::consts::TAU;

use rand::{Rng, rngs::StdRng};
use time::{Duration, OffsetDateTime};

use crate::scenario::Checked;

/// A moment from `from` to `to`, uniformly; `from` when the span is empty.
pub fn between(rng: &mut StdRng, from: OffsetDateTime, to: OffsetDateTime) -> OffsetDateTime {
    if to <= from {
        return from;
    }
    let seconds = (to - from).whole_seconds();
    from + Duration::seconds(rng.random_range(0..=seconds))
}

/// A moment from `from` to `to` and no later than `latest`: drawn within the part of the span
/// before `latest`, so that late events are spread over what time is left instead of all falling
/// on `latest`. When the whole span is after `latest`, `latest` itself.
pub fn within(rng: &mut StdRng, from: OffsetDateTime, to: OffsetDateTime, latest: OffsetDateTime) -> OffsetDateTime {
    if from >= latest {
        return latest;
    }
    between(rng, from, to.min(latest))
}

/// When each of `n` cases came in, unsorted: a week is drawn by its weight, then a moment within
/// it. Weeks weigh more as the operation becomes known (a square-root rise), swing by half either
/// way over five-week waves as events come and go, vary by a fifth at random, and a partial last
/// week weighs in proportion to its length. None falls in the half hour before `as_of`.
pub fn case_times(c: &Checked, rng: &mut StdRng, n: usize) -> Vec<OffsetDateTime> {
    const WEEK: i64 = 7 * 24 * 3600;
    let end = c.as_of - Duration::minutes(30);
    let span = (end - c.first_case).whole_seconds().max(1);
    let weeks = (span + WEEK - 1) / WEEK;
    let phase = rng.random_range(0.0..TAU);
    let mut cumulative = Vec::with_capacity(weeks as usize);
    let mut total = 0.0;
    for k in 0..weeks {
        let progress = (k as f64 + 0.5) / weeks as f64;
        let rise = 0.25 + progress.sqrt();
        let wave = 1.0 + 0.5 * (TAU * k as f64 / 5.0 + phase).sin();
        let noise = rng.random_range(0.8..1.2);
        let length = (span - k * WEEK).min(WEEK) as f64 / WEEK as f64;
        total += rise * wave * noise * length;
        cumulative.push(total);
    }
    (0..n)
        .map(|_| {
            let drawn = rng.random_range(0.0..total);
            let week = cumulative.partition_point(|w| *w <= drawn).min(cumulative.len() - 1) as i64;
            let start = c.first_case + Duration::seconds(week * WEEK);
            between(rng, start, (start + Duration::seconds(WEEK)).min(end))
        })
        .collect()
}
