//! The migrations that bring stored durations to the figures' resolution compute, on SQLite and on
//! PostgreSQL, what `rollup::duration_grain` computes for new ones: the same SQL, checked against
//! the function on both backends, and found in each of those migrations.

use doxwatch_kit::{
    db::{Db, Migrations},
    on_pool,
    rollup::{DURATION_GRAIN_SQL, duration_grain},
    testing::TestDatabase,
};

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

/// Durations on and next to each bound, both signs, and the extremes.
fn durations() -> Vec<i64> {
    let (s, m, h, d) = (1_000_000i64, 60_000_000i64, 3_600_000_000i64, 86_400_000_000i64);
    let mut all = vec![0, 1, 999_999, i64::MAX, i64::MIN + 1];
    for bound in [s, m, h, d, 100 * d, 365 * d] {
        for near in [bound - 1, bound, bound + 1, bound + 59 * s + 7, 3 * bound + 12_345] {
            all.extend([near, -near]);
        }
    }
    all
}

#[tokio::test]
async fn the_sql_form_is_the_function_on_every_backend() {
    let sql = format!("SELECT {DURATION_GRAIN_SQL} FROM (SELECT CAST($1 AS BIGINT) AS value) v");
    for test_db in TestDatabase::all().await {
        let db = Db::connect(test_db.url(), 1, MIGRATIONS).await.expect("a store");
        for value in durations() {
            let grained: i64 = on_pool!(db.read(), p => {
                sqlx::query_scalar(&sql).bind(value).fetch_one(p).await.expect("the SQL form")
            });
            assert_eq!(grained, duration_grain(value), "{value} on {}", test_db.backend());
        }
        db.close().await;
    }
}

#[test]
fn every_migration_of_stored_durations_uses_it() {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let expected = words(DURATION_GRAIN_SQL);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../services");
    for file in [
        "links/migrations/postgres/0014_duration_grains.sql",
        "links/migrations/sqlite/0014_duration_grains.sql",
        "referral/migrations/postgres/0009_duration_grains.sql",
        "referral/migrations/sqlite/0009_duration_grains.sql",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).expect(file);
        let found = words(&text).matches(&expected).count();
        assert_eq!(found, 2, "{file}: the pending points' and the folded points' durations");
    }
}
