//! The kit's figures read back from its sums equal, exactly, the sums of the points themselves
//! ("business at or before T, recorded before R"), for random points around the edges of every
//! unit the sums are kept by (a second, a minute, an hour, a day, a month, a year), written in
//! several transactions with some of them folded and some still pending, at cuts on and next to
//! those edges. On SQLite and on PostgreSQL.

use std::{cell::RefCell, collections::BTreeMap};

use doxwatch_kit::{
    db::{Db, Migrations},
    on_pool,
    rollup::{
        Points,
        store::{Reading, Tables},
    },
    testing::TestDatabase,
};
use proptest::{prelude::*, test_runner::TestRunner};
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

static TABLES: Tables<1> =
    Tables { pending: "test_pending", points: "test_points", sums: "test_grains", scope: ["scope"] };

/// Moments on and next to the edges of every unit, around the new year of 2020 (a year's, a
/// month's and a day's end at once) and of a mid-month afternoon long before.
fn moments() -> Vec<OffsetDateTime> {
    let edges = [
        datetime!(2020-01-01 0:00 UTC),
        datetime!(2019-12-31 23:59 UTC),
        datetime!(2019-12-31 23:00 UTC),
        datetime!(2019-12-31 0:00 UTC),
        datetime!(2019-12-01 0:00 UTC),
        datetime!(2020-01-01 0:01 UTC),
        datetime!(2020-01-01 1:00 UTC),
        datetime!(2020-01-02 0:00 UTC),
        datetime!(2020-02-01 0:00 UTC),
        datetime!(2018-06-15 14:30 UTC),
    ];
    let steps = [
        Duration::ZERO,
        Duration::microseconds(-1),
        Duration::microseconds(1),
        Duration::milliseconds(500),
        Duration::seconds(-1),
        Duration::seconds(1),
        Duration::seconds(-30),
        Duration::minutes(-1),
        Duration::minutes(7),
    ];
    edges.iter().flat_map(|e| steps.iter().map(move |s| *e + *s)).collect()
}

/// (business, record, scope, measure, value, n).
type Point = (OffsetDateTime, OffsetDateTime, Uuid, i64, i64, i64);

fn point() -> impl Strategy<Value = Point> {
    let at = prop::sample::select(moments());
    // Half the points share one record time (as one write's do), so that folds add to points kept.
    let record = prop_oneof![prop::sample::select(moments()), Just(datetime!(2020-01-01 0:00 UTC))];
    let scope = prop::sample::select(vec![Uuid::nil(), Uuid::from_u128(7)]);
    (at, record, scope, 1i64..3, 0i64..2, prop_oneof![-2i64..0, 1i64..3])
}

/// Writes: each a few points, then a fold of some of what is pending (none, a few, all).
fn writes() -> impl Strategy<Value = Vec<(Vec<Point>, usize)>> {
    prop::collection::vec(
        (prop::collection::vec(point(), 1..6), prop_oneof![Just(0usize), 1usize..4, Just(1_000)]),
        1..8,
    )
}

/// Cuts: as at, and recorded before (or everything).
fn cuts() -> impl Strategy<Value = Vec<(OffsetDateTime, Option<OffsetDateTime>)>> {
    let at = prop::sample::select(moments());
    prop::collection::vec((at.clone(), prop::option::weighted(0.85, at)), 40)
}

async fn open(test_db: &TestDatabase) -> Db {
    let db = Db::connect(test_db.url(), 4, MIGRATIONS).await.expect("the store");
    let (time, id, int) =
        if test_db.backend() == "postgres" { ("TIMESTAMPTZ", "UUID", "BIGINT") } else { ("TEXT", "BLOB", "INTEGER") };
    let points = |name: &str, key: &str| {
        format!(
            "CREATE TABLE {name} (business_time {time} NOT NULL, record_time {time} NOT NULL, scope {id} NOT NULL, \
             measure {int} NOT NULL, value {int} NOT NULL, n {int} NOT NULL{key})"
        )
    };
    let grains = format!(
        "CREATE TABLE test_grains (grain {int} NOT NULL, lead {int} NOT NULL, trail {int} NOT NULL, scope {id} NOT NULL, \
         measure {int} NOT NULL, value {int} NOT NULL, n {int} NOT NULL, PRIMARY KEY (grain, lead, trail, scope, measure, value))"
    );
    let folded = points("test_points", ", PRIMARY KEY (business_time, record_time, scope, measure, value)");
    for sql in [points("test_pending", ""), folded, grains] {
        on_pool!(db.write(), p => { sqlx::query(&sql).execute(p).await.expect("a test table"); });
    }
    db
}

/// Everything written so far, and the figures straight from it.
fn direct(all: &[Point], as_of: OffsetDateTime, before: Option<OffsetDateTime>) -> Vec<(Uuid, i64, i64, i64)> {
    let mut sums: BTreeMap<(Uuid, i64, i64), i64> = BTreeMap::new();
    for (b, r, scope, m, v, n) in all {
        if *b <= as_of && before.is_none_or(|before| *r < before) {
            *sums.entry((*scope, *m, *v)).or_default() += n;
        }
    }
    sums.into_iter().filter(|(_, n)| *n != 0).map(|((s, m, v), n)| (s, m, v, n)).collect()
}

async fn check(
    db: &Db,
    all: &mut Vec<Point>,
    writes: &[(Vec<Point>, usize)],
    cuts: &[(OffsetDateTime, Option<OffsetDateTime>)],
) -> Result<(), TestCaseError> {
    for (points, fold) in writes {
        let mut tx = db.begin().await.expect("a transaction");
        for (b, r, scope, m, v, n) in points {
            let mut p: Points<(i64, i64)> = Points::new();
            p.insert((*r, *b, (*m, *v)), *n);
            TABLES.add(&mut tx, vec![([*scope], p)]).await.expect("points added");
        }
        tx.commit().await.expect("committed");
        all.extend(points.iter().copied());
        let mut tx = db.begin().await.expect("a transaction");
        TABLES.fold(&mut tx, *fold).await.expect("a fold");
        tx.commit().await.expect("committed");
    }
    let mut tx = db.begin_read().await.expect("a read");
    for (as_of, before) in cuts {
        // The reading the store chooses, then each reading.
        for reading in [None, Some(Reading::Before), Some(Reading::Since)] {
            let sums = match reading {
                None => TABLES.sums(&mut tx, *as_of, *before).await,
                Some(reading) => TABLES.sums_by(&mut tx, *as_of, *before, reading).await,
            };
            let mut served: Vec<_> = sums.expect("the sums").into_iter().map(|([s], m, v, n)| (s, m, v, n)).collect();
            served.sort();
            prop_assert_eq!(
                served,
                direct(all, *as_of, *before),
                "as at {}, recorded before {:?}, read {:?}",
                as_of,
                before,
                reading
            );
        }
    }
    tx.commit().await.expect("the read ends");
    Ok(())
}

fn sums_equal_the_points_on(test_db: TestDatabase) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(open(&test_db));
    let all = RefCell::new(Vec::new());
    let mut runner = TestRunner::new(ProptestConfig { cases: 48, ..ProptestConfig::default() });
    // The store keeps what every case wrote: later cases fold and read over earlier ones too.
    let outcome = runner.run(&(writes(), cuts()), |(w, c)| runtime.block_on(check(&db, &mut all.borrow_mut(), &w, &c)));
    if let Err(e) = outcome {
        panic!("{} on {}", e, test_db.backend());
    }
    // Everything folded, the figures still the same.
    runtime.block_on(TABLES.fold_all(&db)).expect("everything folded");
    let mut runner = TestRunner::new(ProptestConfig { cases: 8, ..ProptestConfig::default() });
    let outcome = runner.run(&cuts(), |c| runtime.block_on(check(&db, &mut all.borrow_mut(), &[], &c)));
    if let Err(e) = outcome {
        panic!("{} on {}, all folded", e, test_db.backend());
    }
    runtime.block_on(db.close());
}

/// Intake's own tables, for its migration that adds the sums whenever recorded.
static CASES: Tables<0> =
    Tables { pending: "case_figure_pending", points: "case_figure_points", sums: "case_figure_grains", scope: [] };

/// Intake's migration 0011 gives a store folded before it the same figures read either way: its
/// sums whenever recorded equal those the fold keeps.
async fn sums_ever_migration_on(test_db: TestDatabase) {
    let db = open(&test_db).await;
    let moments = moments();
    let mut tx = db.begin().await.expect("a transaction");
    let mut points: Points<(i64, i64)> = Points::new();
    for (i, b) in moments.iter().enumerate() {
        for (j, r) in moments.iter().enumerate().step_by(7) {
            let key = ((i % 2) as i64, (j % 3) as i64);
            *points.entry((*r, *b, key)).or_default() += 1 + ((i * j) % 3) as i64;
        }
    }
    CASES.add(&mut tx, vec![([], points)]).await.expect("points added");
    tx.commit().await.expect("committed");
    CASES.fold_all(&db).await.expect("everything folded");
    let cuts: Vec<(OffsetDateTime, Option<OffsetDateTime>)> = moments
        .iter()
        .step_by(5)
        .flat_map(|t| [(*t, None), (*t, Some(*t)), (*t, Some(datetime!(2020-01-01 0:00 UTC)))])
        .collect();
    let read = |reading| {
        let db = db.clone();
        let cuts = cuts.clone();
        async move {
            let mut tx = db.begin_read().await.expect("a read");
            let mut all = Vec::new();
            for (as_of, before) in cuts {
                let mut sums = CASES.sums_by(&mut tx, as_of, before, reading).await.expect("the sums");
                sums.sort();
                all.push(sums);
            }
            tx.commit().await.expect("the read ends");
            all
        }
    };
    let expected = read(Reading::Before).await;
    assert!(expected.iter().any(|sums| !sums.is_empty()), "the cuts see figures");
    // The store as the migration finds it: no sums whenever recorded.
    on_pool!(db.write(), p => {
        sqlx::query("DELETE FROM case_figure_grains WHERE grain % 10 = 6").execute(p).await.expect("deleted");
    });
    let migration = if test_db.backend() == "postgres" {
        include_str!("../../../services/intake/migrations/postgres/0011_case_figure_sums_ever.sql")
    } else {
        include_str!("../../../services/intake/migrations/sqlite/0011_case_figure_sums_ever.sql")
    };
    on_pool!(db.write(), p => { sqlx::raw_sql(migration).execute(p).await.expect("the migration runs"); });
    assert_eq!(
        read(Reading::Since).await,
        expected,
        "the migrated sums give the same figures on {}",
        test_db.backend()
    );
    db.close().await;
}

/// Intake's migration 0012 takes away the grains with a microsecond on either side, which the fold
/// no longer writes and no read takes: whatever they hold, the figures stay the same.
async fn exact_grains_migration_on(test_db: TestDatabase) {
    let db = open(&test_db).await;
    let moments = moments();
    let mut tx = db.begin().await.expect("a transaction");
    let mut points: Points<(i64, i64)> = Points::new();
    for (i, b) in moments.iter().enumerate() {
        let r = moments[(i * 5) % moments.len()];
        *points.entry((r, *b, ((i % 2) as i64, 0))).or_default() += 1;
    }
    CASES.add(&mut tx, vec![([], points)]).await.expect("points added");
    tx.commit().await.expect("committed");
    CASES.fold_all(&db).await.expect("everything folded");
    let read = || {
        let db = db.clone();
        let moments = moments.clone();
        async move {
            let mut tx = db.begin_read().await.expect("a read");
            let mut all = Vec::new();
            for t in moments.iter().step_by(3) {
                for reading in [Reading::Before, Reading::Since] {
                    let mut sums = CASES.sums_by(&mut tx, *t, Some(*t), reading).await.expect("the sums");
                    sums.sort();
                    all.push(sums);
                }
            }
            tx.commit().await.expect("the read ends");
            all
        }
    };
    let expected = read().await;
    assert!(expected.iter().any(|sums| !sums.is_empty()), "the cuts see figures");
    let exact = "SELECT COUNT(*) FROM case_figure_grains WHERE grain / 10 = 5 OR grain % 10 = 5";
    on_pool!(db.write(), p => {
        assert_eq!(sqlx::query_scalar::<_, i64>(exact).fetch_one(p).await.expect("counted"), 0, "the fold writes none");
        // As a store folded before the migration holds them (with counts no read may take).
        for grain in [5i64, 15, 25, 35, 45, 50, 51, 52, 53, 54, 56] {
            sqlx::query("INSERT INTO case_figure_grains (grain, lead, trail, measure, value, n) SELECT $1, lead, trail, measure, value, 1000 FROM case_figure_grains WHERE grain = 0")
                .bind(grain)
                .execute(p)
                .await
                .expect("an old grain's rows");
        }
    });
    assert_eq!(read().await, expected, "no read takes them on {}", test_db.backend());
    let migration = if test_db.backend() == "postgres" {
        include_str!("../../../services/intake/migrations/postgres/0012_case_figure_grains_exact_from_points.sql")
    } else {
        include_str!("../../../services/intake/migrations/sqlite/0012_case_figure_grains_exact_from_points.sql")
    };
    on_pool!(db.write(), p => {
        sqlx::raw_sql(migration).execute(p).await.expect("the migration runs");
        assert_eq!(sqlx::query_scalar::<_, i64>(exact).fetch_one(p).await.expect("counted"), 0, "taken away");
    });
    assert_eq!(read().await, expected, "the same figures after the migration on {}", test_db.backend());
    db.close().await;
}

#[test]
fn exact_grains_migration_sqlite() {
    tokio::runtime::Runtime::new().expect("a runtime").block_on(exact_grains_migration_on(TestDatabase::sqlite()));
}

#[test]
fn exact_grains_migration_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(TestDatabase::postgres()) {
        Some(db) => runtime.block_on(exact_grains_migration_on(db)),
        None => eprintln!("DATABASE_URL is not set: the PostgreSQL run is skipped"),
    }
}

#[test]
fn sums_ever_migration_sqlite() {
    tokio::runtime::Runtime::new().expect("a runtime").block_on(sums_ever_migration_on(TestDatabase::sqlite()));
}

#[test]
fn sums_ever_migration_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(TestDatabase::postgres()) {
        Some(db) => runtime.block_on(sums_ever_migration_on(db)),
        None => eprintln!("DATABASE_URL is not set: the PostgreSQL run is skipped"),
    }
}

#[test]
fn sums_equal_the_points_sqlite() {
    sums_equal_the_points_on(TestDatabase::sqlite());
}

#[test]
fn sums_equal_the_points_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(TestDatabase::postgres()) {
        Some(db) => sums_equal_the_points_on(db),
        None => eprintln!("DATABASE_URL is not set: the PostgreSQL run is skipped"),
    }
}
