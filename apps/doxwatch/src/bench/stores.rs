//! The stores of a run: SQLite files in the run's directory, or fresh databases on the PostgreSQL
//! server `--database-url` names (one per service and one per baseline, dropped at the end), so
//! that a service and its raw baseline write to the same disk or the same server.

use std::path::{Path, PathBuf};

use sqlx::{Connection, Executor};

use crate::output::CliError;

pub enum Stores {
    Sqlite { dir: PathBuf },
    Postgres { admin_url: String, prefix: String, made: std::sync::Mutex<Vec<String>> },
}

impl Stores {
    pub async fn new(dir: &Path, database_url: Option<&str>) -> Result<Self, CliError> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Stores::Sqlite { dir: dir.to_owned() }),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                // Connect once now, so that a wrong URL is said before any service starts.
                let conn = sqlx::PgConnection::connect(url)
                    .await
                    .map_err(|e| CliError::Usage(format!("--database-url: cannot connect: {e}")))?;
                let _ = conn.close().await;
                let prefix = format!("doxwatch_bench_{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
                Ok(Stores::Postgres { admin_url: url.to_owned(), prefix, made: Default::default() })
            }
            Some(url) if url.starts_with("sqlite:") => Err(CliError::Usage(
                "--database-url: SQLite is the default (stores in --work-dir); give a postgres:// URL or none".into(),
            )),
            Some(_) => Err(CliError::Usage("--database-url must be a postgres:// URL".into())),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Stores::Sqlite { .. } => "sqlite",
            Stores::Postgres { .. } => "postgres",
        }
    }

    /// The URL of a fresh store named `name` (a service's, or a baseline's).
    pub async fn url_for(&self, name: &str) -> Result<String, CliError> {
        match self {
            Stores::Sqlite { dir } => Ok(format!("sqlite://{}", dir.join(format!("{name}.db")).display())),
            Stores::Postgres { admin_url, prefix, made } => {
                let database = format!("{prefix}_{name}");
                let mut admin = sqlx::PgConnection::connect(admin_url).await.map_err(|e| CliError::chain(&e))?;
                admin
                    .execute(format!("CREATE DATABASE {database}").as_str())
                    .await
                    .map_err(|e| CliError::Other(format!("cannot create the database {database}: {e}")))?;
                let _ = admin.close().await;
                if let Ok(mut made) = made.lock() {
                    made.push(database);
                }
                self.url_of(name)
            }
        }
    }

    /// The URL of the store named `name`, made before.
    fn url_of(&self, name: &str) -> Result<String, CliError> {
        match self {
            Stores::Sqlite { dir } => Ok(format!("sqlite://{}", dir.join(format!("{name}.db")).display())),
            Stores::Postgres { admin_url, prefix, .. } => {
                let mut url =
                    url::Url::parse(admin_url).map_err(|e| CliError::Usage(format!("--database-url: {e}")))?;
                url.set_path(&format!("{prefix}_{name}"));
                Ok(url.to_string())
            }
        }
    }

    /// Whether the table `table` of the store `name` holds any row now (without counting them: a
    /// count of millions of pending points, every quarter of a second, would slow their fold).
    pub async fn has_rows(&self, name: &str, table: &str) -> Result<bool, CliError> {
        let url = self.url_of(name)?;
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let counted = match self {
            Stores::Sqlite { .. } => {
                let mut c = sqlx::SqliteConnection::connect(&url).await.map_err(|e| CliError::chain(&e))?;
                let n = sqlx::query_scalar(&sql).fetch_one(&mut c).await;
                let _ = c.close().await;
                n
            }
            Stores::Postgres { .. } => {
                let mut c = sqlx::PgConnection::connect(&url).await.map_err(|e| CliError::chain(&e))?;
                let n = sqlx::query_scalar(&sql).fetch_one(&mut c).await;
                let _ = c.close().await;
                n
            }
        };
        counted.map_err(|e| CliError::chain(&e))
    }

    /// How many bytes the store `name` takes on disk now: its SQLite file and write-ahead log, or
    /// its PostgreSQL database (`pg_database_size`). `None` if it cannot be read.
    pub async fn bytes(&self, name: &str) -> Option<u64> {
        match self {
            Stores::Sqlite { dir } => {
                let file = |suffix: &str| std::fs::metadata(dir.join(format!("{name}.db{suffix}"))).map(|m| m.len());
                Some(file("").ok()? + file("-wal").unwrap_or(0))
            }
            Stores::Postgres { admin_url, prefix, .. } => {
                let mut admin = sqlx::PgConnection::connect(admin_url).await.ok()?;
                let bytes: Option<i64> = sqlx::query_scalar("SELECT pg_database_size($1)")
                    .bind(format!("{prefix}_{name}"))
                    .fetch_one(&mut admin)
                    .await
                    .ok();
                let _ = admin.close().await;
                bytes.and_then(|b| u64::try_from(b).ok())
            }
        }
    }

    /// Drops the PostgreSQL databases the run made (SQLite files go with the run's directory).
    pub async fn drop_all(&self) {
        let Stores::Postgres { admin_url, made, .. } = self else { return };
        let names = made.lock().map(|mut m| std::mem::take(&mut *m)).unwrap_or_default();
        let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await else { return };
        for name in names {
            let forced = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
            // FORCE refuses to end an autovacuum worker (it belongs to no role), which a database
            // just written to often has. A plain drop makes autovacuum leave and waits for it.
            let dropped = match forced {
                Ok(_) => Ok(()),
                Err(_) => admin.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await.map(|_| ()),
            };
            if let Err(e) = dropped {
                eprintln!("warning: cannot drop the benchmark's database {name}: {e}");
            }
        }
        let _ = admin.close().await;
    }
}
