//! The fault harness: intake, link-tracking and liaison each run as their own `doxwatch serve`
//! process, on SQLite and (when `DATABASE_URL` is set) on PostgreSQL, while clients write cases
//! and notices with `request_id`s. Every cycle SIGKILLs intake at a random moment (liaison every
//! second cycle, link-tracking every third, now and then keeping it away for seconds), starts them
//! again, and retries what was not acknowledged with the same `request_id`. At the end it checks
//! the stores through the APIs (see `check.rs`, `notices.rs`) and prints its counts.
//!
//! `DOXWATCH_FAULT_CYCLES=N` runs N cycles per backend (20 by default); `DOXWATCH_FAULT_SEED`
//! repeats a run whose seed a failure printed.

mod check;
mod notices;
mod process;
mod workload;

use std::{
    sync::{Arc, Mutex, atomic::AtomicBool},
    time::{Duration, Instant},
};

use doxwatch_kit::testing::{Backend, TestDatabase};
use process::{Officer, Pki, Service};
use workload::{Dice, Writers, shared_url};

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
    liaison_kills: u32,
    slowest_resume: Duration,
}

/// The three services, each its own process with its own store, and a client of each.
struct Suite {
    intake: Service,
    links: Service,
    liaison: Service,
    intake_api: Officer,
    links_api: Officer,
    liaison_api: Officer,
}

impl Suite {
    async fn start(pki: &Pki, dbs: &[TestDatabase; 3], logs: &std::path::Path) -> Self {
        let mut links = Service::new("links", &dbs[1], pki, logs);
        let mut intake = Service::new("intake", &dbs[0], pki, logs).with("LINKS_URL", links.url());
        let mut liaison = Service::new("liaison", &dbs[2], pki, logs).with("LINKS_URL", links.url());
        links.start(pki).await;
        intake.start(pki).await;
        liaison.start(pki).await;
        let (intake_api, links_api) = (intake.connect(pki).await, links.connect(pki).await);
        let liaison_api = liaison.connect(pki).await;
        Self { intake, links, liaison, intake_api, links_api, liaison_api }
    }

    /// Kills intake, and in some cycles link-tracking and liaison, at random moments; starts them
    /// again (link-tracking now and then seconds later, while intake takes cases, long enough
    /// for intake's relay to back off from it). Returns when all are up again.
    async fn crash_and_restart(&mut self, pki: &Pki, cycle: u32, dice: &mut Dice, run: &mut Run) {
        tokio::time::sleep(dice.millis(100, 1200)).await;
        self.intake.kill();
        run.intake_kills += 1;
        if cycle.is_multiple_of(2) {
            tokio::time::sleep(dice.millis(0, 200)).await;
            self.liaison.kill();
            run.liaison_kills += 1;
        }
        if cycle % 3 == 1 {
            tokio::time::sleep(dice.millis(0, 300)).await;
            self.links.kill();
            run.links_kills += 1;
        }
        tokio::time::sleep(dice.millis(0, 500)).await;
        self.intake.start(pki).await;
        if !self.liaison.is_running() {
            self.liaison.start(pki).await;
        }
        if !self.links.is_running() {
            if cycle % 6 == 4 {
                tokio::time::sleep(dice.millis(2500, 4000)).await;
            }
            self.links.start(pki).await;
        }
    }

    /// The link every case of `cycle` cites, and one of those cases, for liaison to write about.
    async fn shared_link(&self, writers: &Writers, cycle: u32) -> Option<(doxwatch_proto::links::Link, String)> {
        let case = {
            let ledger = writers.ledger.lock().expect("not poisoned");
            let write =
                ledger.writes.iter().find(|w| w.cycle == cycle && ledger.acknowledged.contains_key(&w.request_id))?;
            ledger.acknowledged[&write.request_id].clone()
        };
        let link =
            check::links_of(&self.links_api, &case).await.into_iter().find(|l| l.reported_url == shared_url(cycle))?;
        Some((link, case))
    }
}

async fn harness(backend: Backend) {
    let (Some(a), Some(b), Some(c)) =
        (TestDatabase::on(backend).await, TestDatabase::on(backend).await, TestDatabase::on(backend).await)
    else {
        eprintln!("DATABASE_URL is not set: the PostgreSQL run of the fault harness is skipped");
        return;
    };
    let dbs = [a, b, c];
    let (cycles, seed) = (cycles(), seed());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = Pki::make(dir.path());
    let mut suite = Suite::start(&pki, &dbs, dir.path()).await;
    let writers = Writers::new();
    let letters = Arc::new(Mutex::new(notices::Correspondence::default()));
    let mut dice = Dice::new(seed);
    let mut run = Run::default();
    let mut next_notice = None;
    let started = Instant::now();
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let running = writers.run(WRITERS, &suite.intake_api, cycle, &mut dice, &stop);
        // Liaison writes about the last cycle's shared link while this cycle's cases are written.
        let pauses = [dice.millis(0, 800), dice.millis(0, 500), dice.millis(0, 500)];
        let corresponding = next_notice.take().map(|notice| {
            tokio::spawn(notices::correspond(suite.liaison_api.clone(), cycle, notice, pauses, letters.clone()))
        });
        // The kills land at random moments of the writing, in the middle of calls and deliveries.
        suite.crash_and_restart(&pki, cycle, &mut dice, &mut run).await;
        let up = Instant::now();
        tokio::time::sleep(dice.millis(100, 400)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for writer in running {
            writer.await.expect("a writer");
        }
        writers.settle(&suite.intake_api).await;
        // Resuming is measured on intake, whose effects were pending when it was killed; liaison's
        // client may still be pausing between its calls.
        run.slowest_resume = run.slowest_resume.max(drained(&[&suite.intake_api], up).await);
        if let Some(task) = corresponding {
            task.await.expect("liaison's client");
        }
        drained(&[&suite.liaison_api], Instant::now()).await;
        next_notice = suite.shared_link(&writers, cycle).await;
    }
    let elapsed = started.elapsed();
    // The writers are done: what they recorded is taken out, to be read across the checks' calls.
    let ledger = std::mem::take(&mut *writers.ledger.lock().expect("not poisoned"));
    let mut counts = check::check(&suite.intake_api, &suite.links_api, &ledger).await;
    let letters = std::mem::take(&mut *letters.lock().expect("not poisoned"));
    let reports = notices::check(&suite.links_api, &suite.liaison_api, &letters.answered, &mut counts.problems).await;
    let summary = format!(
        "fault harness ({}, seed {seed}): {cycles} cycles in {:.0?} ({} intake kills, {} link-tracking kills, \
         {} liaison kills); {} acknowledged writes checked, {} unacknowledged checked ({} present once), \
         {} replays answered alike, {} notices served and answered; {} effects checked ({} case registrations, \
         {} platform reports); lost {}, duplicated {}; slowest resume {:.1?}; failed attempts {:?}, liaison {:?}",
        backend_name(backend),
        elapsed,
        run.intake_kills,
        run.links_kills,
        run.liaison_kills,
        counts.acknowledged_checked,
        counts.unacknowledged_checked,
        counts.unacknowledged_present,
        ledger.replays,
        letters.answered.len(),
        counts.effects_checked + reports,
        counts.effects_checked,
        reports,
        counts.lost,
        counts.duplicated,
        run.slowest_resume,
        ledger.failures,
        letters.failures,
    );
    println!("{summary}");
    // Kept beside the build too, so a run of the whole workspace (whose output cargo holds back
    // from a passing test) can still show the counts: CI prints them after the tests.
    let kept =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fault-harness-{}.txt", backend_name(backend)));
    if let Err(e) = std::fs::write(&kept, format!("{summary}\n")) {
        eprintln!("cannot keep the harness's counts in {}: {e}", kept.display());
    }
    assert!(ledger.refusals.is_empty(), "answers no retry changes (seed {seed}): {:#?}", ledger.refusals);
    assert!(letters.refusals.is_empty(), "liaison's answers no retry changes (seed {seed}): {:#?}", letters.refusals);
    assert!(counts.problems.is_empty(), "the stores disagree with the clients (seed {seed}): {:#?}", counts.problems);
    assert!(counts.acknowledged_checked > 0 && counts.effects_checked > 0, "nothing was checked");
    assert!(cycles < 2 || reports > 0, "no notice was checked");
    assert!(
        run.slowest_resume <= RESUME_TARGET,
        "effects resumed {:?} after the services were up again (target {RESUME_TARGET:?})",
        run.slowest_resume
    );
    the_check_can_fail(&writers, &suite, &ledger, &letters.answered).await;
}

/// Waits until none of `services` owes an effect; returns how long after `up` that was.
async fn drained(services: &[&Officer], up: Instant) -> Duration {
    for service in services {
        while check::pending(service).await != Some(0) {
            assert!(up.elapsed() < Duration::from_secs(120), "effects still pending two minutes on");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    up.elapsed()
}

/// The check is shown a fault of each kind it looks for, through the same stores: a case written
/// twice (a client that retried without its `request_id`) and an acknowledgement of a case that
/// is not there.
async fn the_check_can_fail(
    writers: &Writers,
    suite: &Suite,
    ledger: &workload::Ledger,
    answered: &[notices::Answered],
) {
    let (intake, links) = (&suite.intake_api, &suite.links_api);
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
    drained(&[intake], Instant::now()).await;
    let counts = check::check(intake, links, &forged).await;
    assert_eq!((counts.lost, counts.duplicated), (1, 1), "the check misses faults: {:#?}", counts.problems);

    // A notice the client believes answered about a link no platform reported on.
    let case = &ledger.acknowledged[&write.request_id];
    let unreported = check::links_of(links, case).await.into_iter().find(|l| l.reported_url != shared_url(write.cycle));
    let mut claimed = answered.to_vec();
    claimed.push(notices::Answered { notice: "notices/never-answered".into(), link: unreported.expect("a link").name });
    let mut problems = Vec::new();
    notices::check(links, &suite.liaison_api, &claimed, &mut problems).await;
    assert!(problems.iter().any(|p| p.contains("recorded 0 times")), "the check misses a lost report: {problems:#?}");
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
