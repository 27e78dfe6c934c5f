//! What the two statistics scenarios share: a statistics read timed at every cut of `as_of` ×
//! `recorded_before`, the wait for a store to fold the figures' points a growth added, and each
//! size's p99 against the smallest's.

use std::{collections::BTreeMap, future::Future, time::Instant};

use prost_types::Timestamp;
use tonic::Status;

use super::{
    load, progress,
    report::{CutFigures, Held, Ratio, Report, SizeFigures},
    services::Setup,
};
use crate::output::CliError;

/// How long a run waits, after growing the store, for the service to fold the points the growth
/// added, before it measures the reads (which are exact either way, but read what is pending).
const FOLD_WAIT: std::time::Duration = std::time::Duration::from_secs(1_800);

/// 2019-01-01T00:00:00Z: the first day of the history the scenarios grow.
pub const FIRST_DAY: i64 = 1_546_300_800;
pub const DAY: i64 = 86_400;

/// Refuses store sizes (`flag`'s values) that do not grow: the store is grown to each in turn.
pub fn growing(flag: &str, sizes: &[u64], example: &str) -> Result<(), CliError> {
    if sizes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(CliError::Usage(format!("{flag}: the sizes must grow, e.g. {example}")));
    }
    Ok(())
}

/// The i-th record's moment of 2019, in seconds: on one of the year's days in turn, a second later
/// in the day each time the days come round again.
pub fn in_2019(i: u64) -> i64 {
    FIRST_DAY + (i % 365) as i64 * DAY + ((i / 365) % DAY as u64) as i64
}

/// The moments a store grown over 2019 is asked as at: a month in, a third, seven months, the
/// year's last day, and now.
pub fn moments_of_2019() -> [Option<Timestamp>; 5] {
    [at(FIRST_DAY + 30 * DAY), at(FIRST_DAY + 120 * DAY), at(FIRST_DAY + 210 * DAY), at(FIRST_DAY + 364 * DAY), None]
}

pub fn now() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp { seconds: since.as_secs() as i64, nanos: since.subsec_nanos() as i32 }
}

pub fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

/// How long the store `store` took to have no row left in `table` (its figures' pending points),
/// polling every quarter of a second; `None` if some were still there after the run's wait.
pub async fn wait_for_fold(setup: &Setup, store: &str, table: &str) -> Result<Option<f64>, CliError> {
    progress("waiting for the fold of the figures' points");
    let folding = Instant::now();
    loop {
        if !setup.stores.has_rows(store, table).await? {
            return Ok(Some(folding.elapsed().as_secs_f64()));
        }
        if folding.elapsed() > FOLD_WAIT {
            progress(&format!("points still pending after {} s: measuring anyway", FOLD_WAIT.as_secs()));
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// `ask` at each moment × `recorded_before` (`None`: now, any time), once untimed and then
/// `repeat` times timed, one call at a time; `ask` answers the size of its answer, as encoded.
/// The figures are of a store holding `held`; the caller adds how long its growth and fold took.
pub async fn time_cuts<F, Fut>(
    held: Held,
    repeat: u32,
    moments: &[Option<Timestamp>],
    cutoffs: &[Option<Timestamp>],
    mut ask: F,
) -> SizeFigures
where
    F: FnMut(Option<Timestamp>, Option<Timestamp>) -> Fut,
    Fut: Future<Output = Result<usize, Status>>,
{
    let mut histogram = load::histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut answer_bytes = 0u64;
    let mut queries = 0u64;
    let mut cuts = Vec::new();
    let named = |t: &Option<Timestamp>, none: &str| {
        t.as_ref().map_or(none.to_owned(), |t| {
            time::OffsetDateTime::from_unix_timestamp(t.seconds)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_else(|| t.seconds.to_string())
        })
    };
    for as_of in moments {
        for recorded_before in cutoffs {
            let mut times = Vec::new();
            for timed in std::iter::once(false).chain(std::iter::repeat_n(true, repeat as usize)) {
                let started = Instant::now();
                match ask(*as_of, *recorded_before).await {
                    Ok(bytes) if timed => {
                        load::record(&mut histogram, started.elapsed());
                        times.push(started.elapsed().as_secs_f64() * 1e3);
                        answer_bytes = answer_bytes.max(bytes as u64);
                        queries += 1;
                    }
                    Ok(_) => {}
                    Err(status) => *errors.entry(format!("{:?}", status.code())).or_default() += 1,
                }
            }
            times.sort_by(f64::total_cmp);
            if let Some(median) = times.get(times.len() / 2) {
                cuts.push(CutFigures {
                    as_of: named(as_of, "now"),
                    recorded_before: named(recorded_before, "any time"),
                    median_ms: *median,
                });
            }
        }
    }
    SizeFigures {
        held,
        seed_seconds: 0.0,
        fold_seconds: None,
        queries,
        latency_ms: load::Percentiles::of(&histogram),
        p99_ratio_to_smallest: None,
        answer_bytes,
        errors,
        cuts,
        report_latency_ms: None,
        report_errors: BTreeMap::new(),
    }
}

/// Sets each size's p99 over the smallest's, and pushes the targets of the largest size: a p99 of
/// at most 100 ms, and at most twice the smallest's.
pub fn against_smallest(report: &mut Report) {
    let smallest = report.sizes.first().and_then(|s| s.latency_ms.as_ref()).map(|l| l.p99);
    for size in &mut report.sizes {
        size.p99_ratio_to_smallest = smallest.zip(size.latency_ms.as_ref()).map(|(s, l)| l.p99 / s.max(1e-9));
    }
    if let Some(largest) = report.sizes.last() {
        let p99 = largest.latency_ms.as_ref().map_or(f64::INFINITY, |l| l.p99);
        let ratio = largest.p99_ratio_to_smallest;
        let size = largest.held.size();
        report.ratios.push(Ratio::at_most(format!("p99 ms at {size}"), p99, 100.0));
        if let Some(ratio) = ratio {
            report.ratios.push(Ratio::at_most(format!("p99 at {size} over p99 at the smallest"), ratio, 2.0));
        }
    }
}
