//! Group commit against a real store: requests that wait while the committer is busy are written
//! in one transaction, each sees the writes before it and is answered after the commit; a request
//! whose work fails fails alone, and the rest of its group is written without it; a request that
//! went away before its work began is not done.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use doxwatch_kit::{
    audit::{self, Access},
    db::{Db, Tx},
    group_commit::{GroupCommit, Prepared},
    on_pool, reference,
    testing::TestDatabase,
    transaction::StoreFailure,
};
use tokio::sync::watch;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: doxwatch_kit::db::Migrations =
    doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

const SERIES: &str = "items";

#[derive(Debug)]
enum ItemError {
    Store(sqlx::Error),
    Refused,
}

impl From<sqlx::Error> for ItemError {
    fn from(e: sqlx::Error) -> Self {
        ItemError::Store(e)
    }
}

impl StoreFailure for ItemError {
    fn is_unique_violation(&self) -> bool {
        matches!(self, ItemError::Store(e) if doxwatch_kit::db::is_unique_violation(e))
    }
}

/// What one run of an item's work saw: its number, and how many numbers were already committed.
#[derive(Debug, Clone, Copy)]
struct Seen {
    number: i64,
    committed: i64,
}

/// One request: numbered and audited in its transaction; `refuse` fails it after its writes;
/// `gate` holds it (and so the committer) until opened.
struct Item {
    runs: AtomicUsize,
    refuse: bool,
    gate: Option<watch::Receiver<bool>>,
}

impl Item {
    fn new(refuse: bool, gate: Option<watch::Receiver<bool>>) -> Arc<Self> {
        Arc::new(Self { runs: AtomicUsize::new(0), refuse, gate })
    }

    async fn work(&self, store: &Db, tx: &mut Tx) -> Result<Seen, ItemError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            let mut gate = gate.clone();
            gate.wait_for(|open| *open).await.map_err(|_| ItemError::Refused)?;
        }
        let number = reference::next_number(tx, SERIES, 2019).await?;
        audit::record(tx, Access::Write, &[format!("items/{number}")], &["name"]).await?;
        if self.refuse {
            return Err(ItemError::Refused);
        }
        Ok(Seen { number, committed: committed_number(store).await })
    }
}

/// The series' last number as committed, read outside every write transaction.
async fn committed_number(store: &Db) -> i64 {
    let last: Option<i64> = on_pool!(store.read(), p => {
        sqlx::query_scalar("SELECT last_number FROM reference_counters WHERE series = $1")
            .bind(SERIES)
            .fetch_optional(p)
            .await
            .expect("the counter")
    });
    last.unwrap_or(0)
}

async fn audit_records(store: &Db) -> i64 {
    on_pool!(store.read(), p => {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_records").fetch_one(p).await.expect("a count")
    })
}

fn submit(commits: &GroupCommit, store: &Db, item: &Arc<Item>) -> tokio::task::JoinHandle<Result<Seen, ItemError>> {
    let (commits, store, item) = (commits.clone(), store.clone(), item.clone());
    tokio::spawn(async move {
        commits
            .run(move |tx| {
                let (store, item) = (store.clone(), item.clone());
                Box::pin(async move { item.work(&store, tx).await })
            })
            .await
    })
}

/// Submits a request that holds the committer, and waits until its work has begun.
async fn hold(
    commits: &GroupCommit,
    store: &Db,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<Result<Seen, ItemError>>) {
    let (open, gate) = watch::channel(false);
    let held = Item::new(false, Some(gate));
    let running = submit(commits, store, &held);
    while held.runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (open, running)
}

async fn grouped_requests_commit_together_and_fail_alone(db: TestDatabase) {
    let store =
        doxwatch_kit::testing::with_fresh_keys(Db::connect(db.url(), 5, MIGRATIONS).await.expect("store")).await;
    // One committer, so that a held request holds every later one.
    let commits = GroupCommit::start_with(store.clone(), 8, 1);

    // Twenty requests wait while a first one holds the committer: they are written in groups.
    let (open, held) = hold(&commits, &store).await;
    let items: Vec<Arc<Item>> = (0..20).map(|_| Item::new(false, None)).collect();
    let waiting: Vec<_> = items.iter().map(|item| submit(&commits, &store, item)).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    open.send(true).expect("the gate");
    let mut seen = vec![held.await.expect("joined").expect("the held request is written")];
    for w in waiting {
        seen.push(w.await.expect("joined").expect("every request is written"));
    }
    let numbers: BTreeSet<i64> = seen.iter().map(|s| s.number).collect();
    assert_eq!(numbers, (1..=21).collect(), "each request has its own number, with no gap");
    assert!(items.iter().all(|i| i.runs.load(Ordering::SeqCst) == 1), "a request of a committed group ran once");
    // A request after the first of its group saw numbers not yet committed: its group's.
    let most_uncommitted = seen.iter().map(|s| s.number - s.committed).max().unwrap_or(0);
    assert!(most_uncommitted >= 2, "no request shared a transaction: {seen:?}");
    assert!(most_uncommitted <= 8, "a group held more than 8 requests: {seen:?}");
    assert_eq!(committed_number(&store).await, 21);
    assert_eq!(audit_records(&store).await, 21);

    // One request of a group fails after its writes: it alone fails, and nothing of it is kept.
    let (open, held) = hold(&commits, &store).await;
    // Handed over in turn, the refused one last, so that the others have run in the group first.
    let items: Vec<Arc<Item>> = (0..7).map(|n| Item::new(n == 6, None)).collect();
    let mut waiting = Vec::new();
    for item in &items {
        waiting.push(submit(&commits, &store, item));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    open.send(true).expect("the gate");
    let mut numbers = vec![held.await.expect("joined").expect("the held request is written").number];
    for (n, w) in waiting.into_iter().enumerate() {
        match w.await.expect("joined") {
            Ok(seen) => {
                assert_ne!(n, 6, "the refused request was written");
                numbers.push(seen.number);
            }
            Err(ItemError::Refused) => assert_eq!(n, 6, "request {n} failed with the refused one"),
            Err(e) => panic!("request {n} failed: {e:?}"),
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (22..=28).collect::<Vec<_>>(), "the refused request's number is not used up");
    let runs: Vec<usize> = items.iter().map(|i| i.runs.load(Ordering::SeqCst)).collect();
    assert!(runs.iter().all(|r| *r == 2), "the group was run again, each alone: {runs:?}");
    assert_eq!(committed_number(&store).await, 28);
    assert_eq!(audit_records(&store).await, 28, "the refused request left no audit record");

    // A request that went away while it waited is not done.
    let (open, held) = hold(&commits, &store).await;
    let gone = Item::new(false, None);
    let request = submit(&commits, &store, &gone);
    tokio::time::sleep(Duration::from_millis(100)).await;
    request.abort();
    let _ = request.await;
    let after = Item::new(false, None);
    let next = submit(&commits, &store, &after);
    open.send(true).expect("the gate");
    held.await.expect("joined").expect("the held request is written");
    assert_eq!(next.await.expect("joined").expect("the next request is written").number, 30);
    assert_eq!(gone.runs.load(Ordering::SeqCst), 0, "the work of a request that went away was done");
    assert_eq!(committed_number(&store).await, 30);

    // Two-phase work: a group prepares all its requests before it finishes any.
    let (open, held) = hold(&commits, &store).await;
    let phased: Vec<_> = (0..5).map(|_| submit_phased(&commits)).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    open.send(true).expect("the gate");
    held.await.expect("joined").expect("the held request is written");
    let mut finished = Vec::new();
    for p in phased {
        finished.push(p.await.expect("joined").expect("a two-phase request is written"));
    }
    let prepared: BTreeSet<i64> = finished.iter().map(|f| f.0).collect();
    let numbers: BTreeSet<i64> = finished.iter().map(|f| f.2).collect();
    assert_eq!(prepared, (1..=5).collect(), "{finished:?}");
    assert_eq!(numbers, (32..=36).collect(), "{finished:?}");
    assert!(finished.iter().all(|f| f.1 == 5), "a request finished before its group had prepared: {finished:?}");

    // Several committers at once (as on PostgreSQL): every request numbered once, none lost.
    let many = GroupCommit::start_with(store.clone(), 8, 4);
    let items: Vec<Arc<Item>> = (0..60).map(|_| Item::new(false, None)).collect();
    // (31 numbered and audited so far, and five two-phase requests numbered 32 to 36.)
    let running: Vec<_> = items.iter().map(|item| submit(&many, &store, item)).collect();
    let mut numbers = BTreeSet::new();
    for r in running {
        numbers.insert(r.await.expect("joined").expect("every request is written").number);
    }
    assert_eq!(numbers, (37..=96).collect());
    assert_eq!(committed_number(&store).await, 96);
    assert_eq!(audit_records(&store).await, 96);

    // Work that panics fails its own request, not the committer.
    let solo = GroupCommit::start_with(store.clone(), 8, 1);
    let panicked: Result<i64, ItemError> = solo
        .run(|_| {
            Box::pin(async {
                if SERIES.is_empty() {
                    return Ok(0);
                }
                panic!("a bug in the work")
            })
        })
        .await;
    assert!(matches!(panicked, Err(ItemError::Store(_))), "{panicked:?}");
    let after = Item::new(false, None);
    let next = tokio::time::timeout(Duration::from_secs(10), submit(&solo, &store, &after))
        .await
        .expect("the committer still serves")
        .expect("joined")
        .expect("the next request is written");
    assert_eq!(next.number, 97);
}

const PREPARED: &str = "prepared";

/// A two-phase request: `prepare` takes a number in the series `prepared`; `finish` reads that
/// series' last number as its transaction sees it, then numbers the request in the items' series
/// and audits it. Answers the three numbers.
fn submit_phased(commits: &GroupCommit) -> tokio::task::JoinHandle<Result<(i64, i64, i64), ItemError>> {
    let commits = commits.clone();
    tokio::spawn(async move {
        commits
            .run_phased(
                |tx| {
                    Box::pin(async move {
                        Ok::<_, ItemError>(Prepared::Go(reference::next_number(tx, PREPARED, 2019).await?))
                    })
                },
                |tx, prepared| {
                    Box::pin(async move {
                        let seen = reference::last_number(tx, PREPARED, 2019).await?.unwrap_or(0);
                        let number = reference::next_number(tx, SERIES, 2019).await?;
                        audit::record(tx, Access::Write, &[format!("items/{number}")], &["name"]).await?;
                        Ok((prepared, seen, number))
                    })
                },
            )
            .await
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_group_commit() {
    grouped_requests_commit_together_and_fail_alone(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_group_commit() {
    match TestDatabase::postgres().await {
        Some(db) => grouped_requests_commit_together_and_fail_alone(db).await,
        None => eprintln!("DATABASE_URL is not set: PostgreSQL run skipped"),
    }
}
