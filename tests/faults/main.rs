//! The fault harness: intake and link-tracking each run as their own `doxwatch serve` process,
//! on SQLite and (when `DATABASE_URL` is set) on PostgreSQL, while clients write cases with
//! `request_id`s. Every cycle SIGKILLs intake at a random moment (and link-tracking every third,
//! now and then keeping it away for seconds),
//! starts them again, and retries what was not acknowledged with the same `request_id`. At the
//! end it checks the stores through the APIs (see `check.rs`) and prints its counts.
//!
//! `DOXWATCH_FAULT_CYCLES=N` runs N cycles per backend (20 by default); `DOXWATCH_FAULT_SEED`
//! repeats a run whose seed a failure printed.

mod check;
mod process;
mod workload;

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use doxwatch_kit::testing::{Backend, TestDatabase};
use process::{Pki, Service};
use workload::{Dice, Writers};

/// Writers calling intake at once.
const WRITERS: u32 = 3;
/// How soon after both services are up again every pending effect must be delivered.
const RESUME_TARGET: Duration = Duration::from_secs(5);

fn cycles() -> u32 {
    std::env::var("DOXWATCH_FAULT_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

fn seed() -> u64 {
    std::env::var("DOXWATCH_FAULT_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    })
}

/// What one run saw, beyond the checks' counts.
#[derive(Default)]
struct Run {
    intake_kills: u32,
    links_kills: u32,
    slowest_resume: Duration,
}

async fn harness(backend: Backend) {
    let (Some(intake_db), Some(links_db)) = (TestDatabase::on(backend).await, TestDatabase::on(backend).await) else {
        eprintln!("DATABASE_URL is not set: the PostgreSQL run of the fault harness is skipped");
        return;
    };
    let (cycles, seed) = (cycles(), seed());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = Pki::make(dir.path());
    let mut links = Service::new("links", &links_db, &pki, dir.path());
    let mut intake = Service::new("intake", &intake_db, &pki, dir.path()).with("LINKS_URL", links.url());
    links.start(&pki).await;
    intake.start(&pki).await;
    let (intake_api, links_api) = (intake.connect(&pki).await, links.connect(&pki).await);
    let writers = Writers::new();
    let mut dice = Dice::new(seed);
    let mut run = Run::default();
    let started = Instant::now();
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let running = writers.run(WRITERS, &intake_api, cycle, &mut dice, &stop);
        // The kill lands at a random moment of the writing, in the middle of calls and deliveries.
        tokio::time::sleep(dice.millis(100, 1200)).await;
        intake.kill();
        run.intake_kills += 1;
        if cycle % 3 == 1 {
            tokio::time::sleep(dice.millis(0, 300)).await;
            links.kill();
            run.links_kills += 1;
        }
        tokio::time::sleep(dice.millis(0, 500)).await;
        intake.start(&pki).await;
        if !links.is_running() {
            // Now and then link-tracking stays away for seconds while intake takes cases, long
            // enough for intake's relay to back off from it: the effects must still go soon after
            // it is back.
            if cycle % 6 == 4 {
                tokio::time::sleep(dice.millis(2500, 4000)).await;
            }
            links.start(&pki).await;
        }
        let up = Instant::now();
        tokio::time::sleep(dice.millis(100, 400)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for writer in running {
            writer.await.expect("a writer");
        }
        writers.settle(&intake_api).await;
        run.slowest_resume = run.slowest_resume.max(drained(&intake_api, up).await);
    }
    let elapsed = started.elapsed();
    let ledger = writers.ledger.lock().expect("not poisoned");
    let counts = check::check(&intake_api, &links_api, &ledger).await;
    println!(
        "fault harness ({}, seed {seed}): {cycles} cycles in {:.0?} ({} intake kills, {} link-tracking kills); \
         {} acknowledged writes checked, {} unacknowledged checked ({} present once), {} replays answered alike; \
         {} effects checked; lost {}, duplicated {}; slowest resume {:.1?}; failed attempts {:?}",
        backend_name(backend),
        elapsed,
        run.intake_kills,
        run.links_kills,
        counts.acknowledged_checked,
        counts.unacknowledged_checked,
        counts.unacknowledged_present,
        ledger.replays,
        counts.effects_checked,
        counts.lost,
        counts.duplicated,
        run.slowest_resume,
        ledger.failures,
    );
    assert!(ledger.refusals.is_empty(), "answers no retry changes (seed {seed}): {:#?}", ledger.refusals);
    assert!(counts.problems.is_empty(), "the stores disagree with the clients (seed {seed}): {:#?}", counts.problems);
    assert!(counts.acknowledged_checked > 0 && counts.effects_checked > 0, "nothing was checked");
    assert!(
        run.slowest_resume <= RESUME_TARGET,
        "effects resumed {:?} after the services were up again (target {RESUME_TARGET:?})",
        run.slowest_resume
    );
    the_check_can_fail(&writers, &intake_api, &links_api, &ledger).await;
}

/// Waits until intake owes nothing; returns how long after `up` that was.
async fn drained(intake: &process::Officer, up: Instant) -> Duration {
    loop {
        if check::pending(intake).await == Some(0) {
            return up.elapsed();
        }
        assert!(up.elapsed() < Duration::from_secs(120), "intake's effects still pending two minutes on");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The check is shown a fault of each kind it looks for, through the same stores: a case written
/// twice (a client that retried without its `request_id`) and an acknowledgement of a case that
/// is not there.
async fn the_check_can_fail(
    writers: &Writers,
    intake: &process::Officer,
    links: &process::Officer,
    ledger: &workload::Ledger,
) {
    let write = ledger.writes.iter().find(|w| ledger.acknowledged.contains_key(&w.request_id)).expect("a write");
    writers.duplicate_without_request_id(intake, write).await;
    let mut forged = workload::Ledger::default();
    forged.writes = ledger.writes.clone();
    forged.acknowledged = ledger.acknowledged.clone();
    forged.abandoned = ledger.abandoned.clone();
    let mut ghost = write.clone();
    ghost.tag = "fault-never-written".to_owned();
    ghost.request_id = "fault-harness-ghost".to_owned();
    forged.acknowledged.insert(ghost.request_id.clone(), "cases/ghost".to_owned());
    forged.writes.push(ghost);
    drained(intake, Instant::now()).await;
    let counts = check::check(intake, links, &forged).await;
    assert_eq!((counts.lost, counts.duplicated), (1, 1), "the check misses faults: {:#?}", counts.problems);
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_harness_sqlite() {
    harness(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_harness_postgres() {
    harness(Backend::Postgres).await;
}
