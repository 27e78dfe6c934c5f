//! The raw baselines: what the store alone does on the same disk or server in the same run. On
//! SQLite with the settings every service opens its store with (`kit::db`: WAL, synchronous FULL,
//! foreign keys, one writer); on PostgreSQL on the same server, as shipped (fsync and
//! synchronous_commit as the server has them).

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use sqlx::{
    Connection, Executor, QueryBuilder,
    postgres::{PgConnection, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous},
};

use super::{report::Throughput, stores::Stores};
use crate::output::CliError;

/// The SQLite options of `kit::db::Db::connect`, for a file of the run.
fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, CliError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| CliError::chain(&e))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full))
}

fn db_error(e: sqlx::Error) -> CliError {
    CliError::Other(format!("the baseline's store: {e}"))
}

/// One-row insert-and-commit transactions for `duration`: on SQLite by its one writer (as a
/// service writes), on PostgreSQL by `clients` connections at once.
pub async fn commit_loop(stores: &Stores, duration: Duration, clients: usize) -> Result<Throughput, CliError> {
    let url = stores.url_for("baseline_commits").await?;
    const TABLE: &str = "CREATE TABLE commits (id TEXT PRIMARY KEY, payload TEXT NOT NULL, create_time TEXT NOT NULL)";
    const INSERT: &str = "INSERT INTO commits (id, payload, create_time) VALUES ($1, $2, $3)";
    let payload = "x".repeat(200);
    match stores {
        Stores::Sqlite { .. } => {
            let mut conn = SqliteConnection::connect_with(&sqlite_options(&url)?).await.map_err(db_error)?;
            conn.execute(TABLE).await.map_err(db_error)?;
            let started = Instant::now();
            let mut count = 0u64;
            while started.elapsed() < duration {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
                let id = uuid::Uuid::now_v7().to_string();
                sqlx::query(INSERT)
                    .bind(id)
                    .bind(&payload)
                    .bind("2019-11-08T04:00:00.000000Z")
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                count += 1;
            }
            let label = "one-row insert+commit, 1 writer (SQLite WAL, synchronous FULL)";
            Ok(Throughput::new(label, true, count, started.elapsed().as_secs_f64(), "rows"))
        }
        Stores::Postgres { .. } => {
            let pool = PgPoolOptions::new().max_connections(clients as u32).connect(&url).await.map_err(db_error)?;
            pool.execute(TABLE).await.map_err(db_error)?;
            let started = Instant::now();
            let workers: Vec<_> = (0..clients)
                .map(|_| {
                    let (pool, payload) = (pool.clone(), payload.clone());
                    tokio::spawn(async move {
                        let mut count = 0u64;
                        while started.elapsed() < duration {
                            let mut tx = pool.begin().await?;
                            let id = uuid::Uuid::now_v7().to_string();
                            sqlx::query(INSERT).bind(id).bind(&payload).bind("2019-11-08").execute(&mut *tx).await?;
                            tx.commit().await?;
                            count += 1;
                        }
                        Ok::<u64, sqlx::Error>(count)
                    })
                })
                .collect();
            let mut count = 0u64;
            for worker in workers {
                count += worker.await.map_err(|e| CliError::Other(e.to_string()))?.map_err(db_error)?;
            }
            let seconds = started.elapsed().as_secs_f64();
            pool.close().await;
            let label = format!("one-row insert+commit, {clients} clients (PostgreSQL)");
            Ok(Throughput::new(label, true, count, seconds, "rows"))
        }
    }
}

/// One row of the links table's shape.
pub struct LinkRow {
    pub reported_url: String,
    pub canonical_url: String,
    /// Which of the platforms (0..50) it is on.
    pub platform: usize,
}

const LINKS_TABLE: &[&str] = &[
    "CREATE TABLE links (id {uuid} PRIMARY KEY, reported_url TEXT NOT NULL, canonical_url TEXT NOT NULL UNIQUE, \
     platform_id {uuid} NOT NULL, channel_id {uuid}, message_id TEXT, create_time {time} NOT NULL)",
    "CREATE INDEX links_platform ON links (platform_id, id)",
    "CREATE INDEX links_channel ON links (channel_id, id)",
];

/// The rows into a table of the links table's shape (its columns, unique canonical URL and
/// indexes): on SQLite in multi-row INSERTs, one transaction per 10,000 rows; on PostgreSQL by
/// one COPY.
pub async fn link_rows(stores: &Stores, rows: &[LinkRow]) -> Result<Throughput, CliError> {
    let url = stores.url_for("baseline_links").await?;
    let platforms: Vec<uuid::Uuid> = (0..50).map(|_| uuid::Uuid::now_v7()).collect();
    let now = "2019-11-08T04:00:00.000000Z";
    match stores {
        Stores::Sqlite { .. } => {
            let mut conn = SqliteConnection::connect_with(&sqlite_options(&url)?).await.map_err(db_error)?;
            for statement in LINKS_TABLE {
                conn.execute(statement.replace("{uuid}", "BLOB").replace("{time}", "TEXT").as_str())
                    .await
                    .map_err(db_error)?;
            }
            let started = Instant::now();
            for transaction in rows.chunks(10_000) {
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
                for statement in transaction.chunks(500) {
                    let mut insert = QueryBuilder::new(
                        "INSERT INTO links (id, reported_url, canonical_url, platform_id, create_time) ",
                    );
                    insert.push_values(statement, |mut b, row| {
                        b.push_bind(uuid::Uuid::now_v7())
                            .push_bind(&row.reported_url)
                            .push_bind(&row.canonical_url)
                            .push_bind(platforms[row.platform % platforms.len()])
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *tx).await.map_err(db_error)?;
                }
                tx.commit().await.map_err(db_error)?;
            }
            let seconds = started.elapsed().as_secs_f64();
            let label = "batched INSERT into a links-shaped table (SQLite)";
            Ok(Throughput::new(label, true, rows.len() as u64, seconds, "rows"))
        }
        Stores::Postgres { .. } => {
            let mut conn = PgConnection::connect(&url).await.map_err(db_error)?;
            for statement in LINKS_TABLE {
                conn.execute(statement.replace("{uuid}", "UUID").replace("{time}", "TIMESTAMPTZ").as_str())
                    .await
                    .map_err(db_error)?;
            }
            let started = Instant::now();
            let mut copy = conn
                .copy_in_raw("COPY links (id, reported_url, canonical_url, platform_id, create_time) FROM STDIN")
                .await
                .map_err(db_error)?;
            let mut buffer = String::with_capacity(1 << 20);
            for row in rows {
                // Text format: tab-separated; canonical URLs hold no tab, newline or backslash
                // unescaped (they are percent-encoded), but reported ones are escaped to be sure.
                let escape = |s: &str| s.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n");
                buffer += &format!(
                    "{}\t{}\t{}\t{}\t{now}\n",
                    uuid::Uuid::now_v7(),
                    escape(&row.reported_url),
                    escape(&row.canonical_url),
                    platforms[row.platform % platforms.len()]
                );
                if buffer.len() >= 1 << 20 {
                    copy.send(std::mem::take(&mut buffer).into_bytes()).await.map_err(db_error)?;
                }
            }
            if !buffer.is_empty() {
                copy.send(buffer.into_bytes()).await.map_err(db_error)?;
            }
            let copied = copy.finish().await.map_err(db_error)?;
            let seconds = started.elapsed().as_secs_f64();
            let _ = conn.close().await;
            Ok(Throughput::new("COPY into a links-shaped table (PostgreSQL)", true, copied, seconds, "rows"))
        }
    }
}
