//! What a transaction holds back until its commit (audit records, reference numbers, stored
//! answers, queued effects), against a real store: the transaction sees it at once, no one else
//! sees it before the commit, the commit writes all of it in order, and a transaction rolled back,
//! or whose held writes fail, leaves nothing.

use doxwatch_kit::{
    audit::{self, Access},
    db::{Db, Tx},
    idempotency::{self, RequestKey},
    on_pool,
    outbox::{self, Effect},
    reference,
    testing::TestDatabase,
};
use doxwatch_proto::ops::AuditCheckpoint;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: doxwatch_kit::db::Migrations =
    doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

/// What the store holds, read outside every write transaction.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    counters: Vec<(String, i32, i64)>,
    /// Each record's sequence, its previous hash and its hash, in order.
    records: Vec<(i64, Vec<u8>, Vec<u8>)>,
    head: (i64, Vec<u8>),
    /// Sequences recorded for the resource `shared`.
    shared: Vec<i64>,
    /// Effect ids in the order they will be delivered.
    effects: Vec<uuid::Uuid>,
    /// Request ids with an answer written.
    answered: Vec<String>,
}

async fn stored(db: &Db) -> Stored {
    on_pool!(db.read(), p => {
        let counters = sqlx::query_as("SELECT series, year, last_number FROM reference_counters ORDER BY series, year")
            .fetch_all(p)
            .await
            .expect("the counters");
        let records = sqlx::query_as("SELECT seq, prev_hash, hash FROM audit_records ORDER BY seq")
            .fetch_all(p)
            .await
            .expect("the records");
        let head = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(p).await.expect("the head");
        let shared = sqlx::query_scalar("SELECT seq FROM audit_resources WHERE resource = 'shared' ORDER BY seq")
            .fetch_all(p)
            .await
            .expect("the resources");
        let effects = sqlx::query_scalar("SELECT id FROM outbox ORDER BY seq").fetch_all(p).await.expect("the outbox");
        let answered = sqlx::query_scalar(
            "SELECT request_id FROM idempotency_keys WHERE length(response) > 0 ORDER BY request_id",
        )
        .fetch_all(p)
        .await
        .expect("the answers");
        Stored { counters, records, head, shared, effects, answered }
    })
}

fn key(request_id: &str) -> RequestKey {
    RequestKey::new("/test.Held/Write", request_id, &AuditCheckpoint::default()).expect("a request id")
}

fn answer(count: i64) -> AuditCheckpoint {
    AuditCheckpoint { record_count: count, ..Default::default() }
}

/// The writes of one request of a group: a number, an audit record naming its item and `shared`,
/// an effect, and an answer to its request id.
async fn write_one(db: &Db, tx: &mut Tx, year: i32, request_id: &str) -> (i64, i64, uuid::Uuid) {
    let key = key(request_id);
    let first: Option<AuditCheckpoint> =
        idempotency::replay_or_claim(tx, db.keyring(), Some(&key)).await.expect("the request id is claimed");
    assert!(first.is_none(), "{request_id} was answered before");
    let number = reference::next_number(tx, "items", year).await.expect("a number");
    let seq = audit::record(tx, Access::Write, &[format!("items/{year}/{number}"), "shared".to_owned()], &["name"])
        .await
        .expect("an audit record");
    let effect = Effect::new("links", "/test.Peer/Take", format!("items/{number}"), |_| answer(number));
    let id = outbox::enqueue(tx, db.keyring(), effect).await.expect("an effect");
    idempotency::remember(tx, db.keyring(), &key, &answer(number)).await.expect("the answer");
    (number, seq, id)
}

async fn held_until_commit(db: TestDatabase) {
    let store =
        doxwatch_kit::testing::with_fresh_keys(Db::connect(db.url(), 5, MIGRATIONS).await.expect("store")).await;
    let empty = stored(&store).await;
    assert!(empty.records.is_empty() && empty.effects.is_empty(), "{empty:?}");

    // Rolled back: nothing of it is written.
    let mut tx = store.begin().await.expect("a transaction");
    write_one(&store, &mut tx, 2019, "gone").await;
    tx.rollback().await.expect("rolled back");
    assert_eq!(stored(&store).await, empty, "a rolled-back transaction left rows");

    // Five requests in one transaction, over two years.
    let mut tx = store.begin().await.expect("a transaction");
    let mut written = Vec::new();
    for (n, year) in [2019, 2019, 2020, 2019, 2020].into_iter().enumerate() {
        written.push(write_one(&store, &mut tx, year, &format!("r{n}")).await);
    }
    let numbers: Vec<i64> = written.iter().map(|w| w.0).collect();
    assert_eq!(numbers, [1, 2, 1, 3, 2], "each year numbered on from its own last number");
    let sequences: Vec<i64> = written.iter().map(|w| w.1).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    // The transaction sees what it holds.
    assert_eq!(reference::last_number(&mut tx, "items", 2019).await.expect("read"), Some(3));
    assert_eq!(reference::last_number(&mut tx, "items", 2021).await.expect("read"), None);
    let replayed: Option<AuditCheckpoint> =
        idempotency::replay(&mut tx, store.keyring(), &key("r2")).await.expect("the answer is read");
    assert_eq!(replayed, Some(answer(1)), "the transaction reads the answer it stored");
    // No one else sees it yet.
    assert_eq!(stored(&store).await, empty, "rows were written before the commit");
    tx.commit().await.expect("committed");

    let after = stored(&store).await;
    assert_eq!(after.counters, [("items".to_owned(), 2019, 3), ("items".to_owned(), 2020, 2)]);
    assert_eq!(after.records.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    for pair in after.records.windows(2) {
        assert_eq!(pair[1].1, pair[0].2, "record {} does not chain to the one before", pair[1].0);
    }
    let last = after.records.last().expect("a record");
    assert_eq!(after.head, (5, last.2.clone()), "the head is the last record");
    assert_eq!(after.shared, [1, 2, 3, 4, 5], "every record's resources are kept");
    assert_eq!(after.effects, written.iter().map(|w| w.2).collect::<Vec<_>>(), "effects in the order queued");
    // Stored under the request id alone: these requests have no authenticated caller.
    assert_eq!(after.answered, ["r0", "r1", "r2", "r3", "r4"]);
    let mut tx = store.begin().await.expect("a transaction");
    let again: Option<AuditCheckpoint> =
        idempotency::replay(&mut tx, store.keyring(), &key("r3")).await.expect("the answer is read");
    assert_eq!(again, Some(answer(3)), "a retry is answered as the first request was");
    tx.rollback().await.expect("rolled back");

    // A second transaction chains on from the first's head and numbers on from its counters.
    let mut tx = store.begin().await.expect("a transaction");
    let (number, seq, _) = write_one(&store, &mut tx, 2019, "r5").await;
    assert_eq!((number, seq), (4, 6));
    tx.commit().await.expect("committed");
    let more = stored(&store).await;
    assert_eq!(more.records[5].1, after.head.1, "the next transaction chains on from the head");

    // Held writes that fail at the commit: the commit fails, and nothing of the transaction is kept.
    let mut tx = store.begin().await.expect("a transaction");
    write_one(&store, &mut tx, 2019, "r6").await;
    let taken = *more.effects.first().expect("an effect");
    let clash = Effect { id: taken, ..Effect::new("links", "/test.Peer/Take", "clash".to_owned(), |_| answer(0)) };
    outbox::enqueue(&mut tx, store.keyring(), clash).await.expect("held until the commit");
    let refused = tx.commit().await;
    assert!(refused.as_ref().is_err_and(doxwatch_kit::db::is_unique_violation), "{refused:?}");
    assert_eq!(stored(&store).await, more, "a failed commit left rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_held_until_commit() {
    held_until_commit(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_held_until_commit() {
    match TestDatabase::postgres().await {
        Some(db) => held_until_commit(db).await,
        None => eprintln!("DATABASE_URL is not set: PostgreSQL run skipped"),
    }
}
