//! An open-model load: calls leave at a fixed offered rate whatever the service does, and each
//! call's latency is measured from the moment it was meant to leave, so time spent queued (in
//! the client, behind the in-flight limit, or in the server) is counted, not hidden. A thread of
//! its own paces the sends (the runtime's timer ticks in whole milliseconds, too coarse at
//! thousands of calls a second); the calls themselves run on the runtime, many at once over the
//! few HTTP/2 connections the caller hands them.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Semaphore;
use tonic::Status;

/// The longest latency the histograms hold, in microseconds (an hour); longer ones count as it.
const HIGHEST_MICROS: u64 = 3_600_000_000;
/// How long calls still in flight when the last one has left may take to finish.
const DRAIN: Duration = Duration::from_secs(120);

/// What to offer.
#[derive(Debug, Clone)]
pub struct Load {
    pub label: String,
    /// Calls per second.
    pub rate: f64,
    pub duration: Duration,
    /// Calls in flight at most; a call due while this many are out waits, its wait counted.
    pub in_flight: usize,
    pub connections: usize,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of microseconds; `None` when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        Some(Self { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), p99_9: ms(0.999), max: histogram.max() as f64 / 1000.0 })
    }
}

/// An empty histogram of microseconds, from 1 µs to an hour at three significant digits.
pub fn histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (low ≥ 1, high ≥ 2 × low, 3 digits): no input.
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid constant bounds")
}

/// Records `elapsed` in a histogram of microseconds.
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(HIGHEST_MICROS).clamp(1, HIGHEST_MICROS);
    histogram.saturating_record(micros);
}

/// What one load did.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub label: String,
    /// Calls per second offered.
    pub offered_rate: f64,
    pub in_flight_limit: usize,
    pub connections: usize,
    /// From the first call's intended send to the last answer.
    pub seconds: f64,
    pub sent: u64,
    pub ok: u64,
    /// Successful calls per second over `seconds`.
    pub achieved_rate: f64,
    /// Of the successful calls, from intended send to answer; `None` when none succeeded.
    pub latency_ms: Option<Percentiles>,
    /// How late the client itself sent, 99th percentile (its own pacing and in-flight wait): a
    /// share of `latency_ms` that is the client's, not the service's.
    pub send_lag_p99_ms: f64,
    /// Failed calls by gRPC code (and `unfinished` for calls still out when the drain ended).
    pub errors: BTreeMap<String, u64>,
}

struct Tally {
    latency: Mutex<Histogram<u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    ok: AtomicU64,
    /// Microseconds from the start to the latest answer.
    last_answer: AtomicU64,
}

/// Offers `load`, calling `call(i)` for the i-th call (0, 1, 2, …), and measures the answers.
pub async fn run<F, Fut>(load: &Load, call: F) -> Phase
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Status>> + Send + 'static,
{
    let total = (load.rate * load.duration.as_secs_f64()).round().clamp(1.0, 1e12) as u64;
    let interval = 1.0 / load.rate;
    let in_flight = load.in_flight.clamp(1, Semaphore::MAX_PERMITS);
    let tally = Arc::new(Tally {
        latency: Mutex::new(histogram()),
        errors: Mutex::default(),
        ok: AtomicU64::new(0),
        last_answer: AtomicU64::new(0),
    });
    let permits = Arc::new(Semaphore::new(in_flight));
    let runtime = tokio::runtime::Handle::current();
    let start = Instant::now() + Duration::from_millis(20);
    let (call, pacer_tally, pacer_permits) = (Arc::new(call), tally.clone(), permits.clone());
    let pacer = std::thread::spawn(move || {
        let mut lag = histogram();
        for i in 0..total {
            let intended = start + Duration::from_secs_f64(i as f64 * interval);
            if let Some(wait) = intended.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let Ok(permit) = runtime.block_on(pacer_permits.clone().acquire_owned()) else { break };
            record(&mut lag, Instant::now().saturating_duration_since(intended));
            let (call, tally) = (call.clone(), pacer_tally.clone());
            runtime.spawn(async move {
                let answer = call(i).await;
                let now = Instant::now();
                match answer {
                    Ok(()) => {
                        if let Ok(mut latency) = tally.latency.lock() {
                            record(&mut latency, now.saturating_duration_since(intended));
                        }
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(status) => {
                        if let Ok(mut errors) = tally.errors.lock() {
                            *errors.entry(format!("{:?}", status.code())).or_default() += 1;
                        }
                    }
                }
                let since_start = u64::try_from(now.saturating_duration_since(start).as_micros()).unwrap_or(u64::MAX);
                tally.last_answer.fetch_max(since_start, Ordering::Relaxed);
                drop(permit);
            });
        }
        lag
    });
    let lag =
        tokio::task::spawn_blocking(move || pacer.join()).await.ok().and_then(Result::ok).unwrap_or_else(histogram);
    // Every permit back means every call has answered.
    let all = u32::try_from(in_flight).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(DRAIN, permits.acquire_many(all)).await.is_ok_and(|p| p.is_ok());
    let mut errors = tally.errors.lock().map(|e| e.clone()).unwrap_or_default();
    if !drained {
        errors.insert("unfinished".into(), (in_flight - permits.available_permits()) as u64);
    }
    let ok = tally.ok.load(Ordering::Relaxed);
    let seconds = (tally.last_answer.load(Ordering::Relaxed) as f64 / 1e6).max(load.duration.as_secs_f64().min(1e-3));
    let latency = tally.latency.lock().ok().and_then(|h| Percentiles::of(&h));
    Phase {
        label: load.label.clone(),
        offered_rate: load.rate,
        in_flight_limit: in_flight,
        connections: load.connections,
        seconds,
        sent: total,
        ok,
        achieved_rate: ok as f64 / seconds,
        latency_ms: latency,
        send_lag_p99_ms: lag.value_at_quantile(0.99) as f64 / 1000.0,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every call is accounted for: the successes timed, the failures counted by their code.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_counted_by_code_and_successes_timed() {
        let load =
            Load { label: "test".into(), rate: 300.0, duration: Duration::from_secs(1), in_flight: 8, connections: 1 };
        let phase = run(&load, |i| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            match i % 3 {
                0 => Err(Status::unavailable("down")),
                1 if i % 5 == 1 => Err(Status::resource_exhausted("busy")),
                _ => Ok(()),
            }
        })
        .await;
        let unavailable = (0..300).filter(|i| i % 3 == 0).count() as u64;
        let exhausted = (0..300).filter(|i| i % 3 == 1 && i % 5 == 1).count() as u64;
        assert_eq!(phase.sent, 300);
        assert_eq!(phase.errors.get("Unavailable"), Some(&unavailable));
        assert_eq!(phase.errors.get("ResourceExhausted"), Some(&exhausted));
        assert_eq!(phase.ok, 300 - unavailable - exhausted);
        let latency = phase.latency_ms.as_ref().expect("timed successes");
        assert!(latency.p50 >= 2.0, "each call slept 2 ms: {latency:?}");
        assert!(phase.achieved_rate > 0.0 && phase.seconds >= 0.9, "{phase:?}");
    }
}
