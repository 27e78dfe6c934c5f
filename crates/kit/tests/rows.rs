//! Rows of several tables in one round trip (`doxwatch_kit::rows`), against a real store: tables
//! that refer to each other are written together, more values than one trip binds go in several,
//! and a row the store refuses fails the call. Rows a transaction holds are written at its commit.

use doxwatch_kit::{
    db::{Db, Ts},
    on_pool, on_tx,
    rows::{Rows, Value, hold, insert_all},
    testing::TestDatabase,
};
use uuid::Uuid;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: doxwatch_kit::db::Migrations =
    doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

const CASE: &[&str] = &[
    "id",
    "kind",
    "received_at",
    "channel",
    "summary",
    "reported_urls",
    "complainant",
    "disclosed_data",
    "alleged_harm",
    "created_by",
    "create_time",
    "update_time",
    "team",
    "assigned_officer",
];
const VERSION: &[&str] = &["case_id", "version", "recorded_at"];
const SUBJECT: &[&str] = &["case_id", "version", "position", "display_name", "contact", "category", "hong_kong_nexus"];
const TERM: &[&str] = &["case_id", "version", "position", "digest", "kind"];

/// A case with `subjects` data subjects and `terms` index rows for each, every table referring to
/// the one before it; `orphan` adds an index row of a subject that is not there.
fn case_rows(id: Uuid, subjects: i32, terms: u8, orphan: bool) -> Vec<Rows<'static>> {
    let at = Ts(time::OffsetDateTime::now_utc());
    let now = || Value::Time(at);
    let text = Value::Text;
    let mut case = Rows::new("cases", CASE);
    case.push(vec![
        Value::Uuid(id),
        Value::SmallInt(1),
        now(),
        Value::SmallInt(1),
        text("sealed summary"),
        text("[]"),
        Value::OptionalText(None),
        text("[]"),
        text("[]"),
        text("officer.chan"),
        now(),
        now(),
        text("team-a"),
        text(""),
    ]);
    let mut version = Rows::new("case_subject_versions", VERSION);
    version.push(vec![Value::Uuid(id), Value::Int(1), now()]);
    let mut subject = Rows::new("case_subjects", SUBJECT);
    let mut term = Rows::new("case_subject_terms", TERM);
    for position in 0..subjects {
        subject.push(vec![
            Value::Uuid(id),
            Value::Int(1),
            Value::Int(position),
            text("sealed name"),
            Value::OptionalText(Some("sealed contact")),
            Value::SmallInt(1),
            Value::SmallInt(1),
        ]);
        for t in 0..terms {
            term.push(vec![
                Value::Uuid(id),
                Value::Int(1),
                Value::Int(position),
                Value::Bytes(&DIGESTS[t as usize]),
                Value::SmallInt(0),
            ]);
        }
    }
    if orphan {
        term.push(vec![
            Value::Uuid(id),
            Value::Int(1),
            Value::Int(subjects),
            Value::Bytes(&DIGESTS[0]),
            Value::SmallInt(0),
        ]);
    }
    vec![case, version, subject, term]
}

static DIGESTS: [[u8; 32]; 4] = [[1; 32], [2; 32], [3; 32], [4; 32]];

async fn count(db: &Db, table: &str, id: Uuid) -> i64 {
    on_pool!(db.read(), p => {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {} = $1", if table == "cases" { "id" } else { "case_id" }))
            .bind(id)
            .fetch_one(p)
            .await
            .expect("a count")
    })
}

async fn rows_in_one_trip(db: TestDatabase) {
    let store = Db::connect(db.url(), 5, MIGRATIONS).await.expect("store");

    // A few rows of four tables, each referring to the one before it.
    let small = Uuid::now_v7();
    let mut tx = store.begin().await.expect("a transaction");
    insert_all(&mut tx, &case_rows(small, 2, 3, false)).await.expect("written");
    tx.commit().await.expect("committed");
    let counts = [count(&store, "cases", small).await, count(&store, "case_subjects", small).await];
    assert_eq!(counts, [1, 2]);
    assert_eq!(count(&store, "case_subject_terms", small).await, 6);

    // More values than one trip binds (1,500 subjects of 7 values, 6,000 index rows of 5).
    let large = Uuid::now_v7();
    let mut tx = store.begin().await.expect("a transaction");
    insert_all(&mut tx, &case_rows(large, 1_500, 4, false)).await.expect("written");
    tx.commit().await.expect("committed");
    assert_eq!(count(&store, "case_subjects", large).await, 1_500);
    assert_eq!(count(&store, "case_subject_terms", large).await, 6_000);

    // An index row whose subject is not there: the call fails, and its transaction keeps nothing.
    let refused = Uuid::now_v7();
    let mut tx = store.begin().await.expect("a transaction");
    let failed = insert_all(&mut tx, &case_rows(refused, 2, 1, true)).await;
    assert!(failed.is_err(), "a row without its subject was written");
    drop(tx);
    assert_eq!(count(&store, "cases", refused).await, 0, "the refused call's case was kept");
}

/// Rows held by a transaction: seen by nobody before its commit, written at it (two cases' rows
/// joined table by table), dropped with a rollback, and a commit whose held rows are refused keeps
/// nothing.
async fn rows_held_until_commit(db: TestDatabase) {
    let store = Db::connect(db.url(), 5, MIGRATIONS).await.expect("store");
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = store.begin().await.expect("a transaction");
    hold(&mut tx, case_rows(first, 2, 3, false));
    hold(&mut tx, case_rows(second, 1, 2, false));
    let inside: i64 = on_tx!(&mut tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE id IN ($1, $2)").bind(first).bind(second).fetch_one(c).await.expect("a count")
    });
    assert_eq!(inside, 0, "held rows are not written before the commit");
    tx.commit().await.expect("committed");
    assert_eq!([count(&store, "cases", first).await, count(&store, "cases", second).await], [1, 1]);
    assert_eq!([count(&store, "case_subjects", first).await, count(&store, "case_subjects", second).await], [2, 1]);
    assert_eq!(count(&store, "case_subject_terms", first).await + count(&store, "case_subject_terms", second).await, 8);

    let dropped = Uuid::now_v7();
    let mut tx = store.begin().await.expect("a transaction");
    hold(&mut tx, case_rows(dropped, 1, 1, false));
    tx.rollback().await.expect("rolled back");
    assert_eq!(count(&store, "cases", dropped).await, 0, "a rolled-back transaction's held rows were written");

    let (good, orphan) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = store.begin().await.expect("a transaction");
    hold(&mut tx, case_rows(good, 1, 1, false));
    hold(&mut tx, case_rows(orphan, 1, 1, true));
    assert!(tx.commit().await.is_err(), "a commit with a held row without its subject succeeded");
    assert_eq!(count(&store, "cases", good).await, 0, "the refused commit kept rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_held_until_commit() {
    rows_held_until_commit(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_held_until_commit() {
    match TestDatabase::postgres().await {
        Some(db) => rows_held_until_commit(db).await,
        None => eprintln!("DATABASE_URL is not set: PostgreSQL run skipped"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_in_one_trip() {
    rows_in_one_trip(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_in_one_trip() {
    match TestDatabase::postgres().await {
        Some(db) => rows_in_one_trip(db).await,
        None => eprintln!("DATABASE_URL is not set: PostgreSQL run skipped"),
    }
}
