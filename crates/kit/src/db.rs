//! The store every service opens from a URL: PostgreSQL in production, SQLite as the embedded
//! default. Two concrete pools rather than `sqlx::Any`, so that UUIDs and times keep their native
//! types; the `on_pool!` and `on_tx!` macros run one query text against whichever backend is open.

use std::{path::Path, str::FromStr, time::Duration};

use crate::config::ExposeSecret;

use sqlx::{
    Database, Decode, Encode, Postgres, Sqlite, Type,
    encode::IsNull,
    error::BoxDynError,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use time::{OffsetDateTime, UtcOffset, format_description::FormatItem, macros::format_description};

/// A pool of one backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// A transaction of one backend, and the writes it holds back until its commit.
pub struct Tx {
    /// The backend's transaction, for the statements one query text cannot serve on both.
    pub conn: TxConn,
    /// What the transaction holds back until its commit (see [`Held`]).
    pub(crate) held: Held,
}

/// The backend's transaction.
pub enum TxConn {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

/// What a transaction holds back until it commits: the audit records it appended, the reference
/// numbers it took, the answers it stored for request ids, the effects it queued, the figures'
/// points it added and the rows a service held ([`crate::rows::hold`]).
///
/// A transaction that does these many times (a group of requests committed together) would
/// otherwise read and update the audit log's head and a counter once per record, and make a
/// statement per row. Held, it reads each head once (locking it on PostgreSQL, as before), keeps
/// the chain, the numbers and the rows in memory, and at commit writes each table's rows in a
/// few multi-row statements and each head once. A transaction rolled back or dropped drops them
/// with everything else it wrote. The kit's own reads of these tables inside a transaction
/// ([`crate::idempotency`], the audit checkpoint, the figures' reads and folds) see what is held,
/// as they saw the rows before; a service's own reads do not see the rows it held.
#[derive(Default)]
pub(crate) struct Held {
    pub audit: Option<crate::audit::HeldAudit>,
    pub counters: Vec<crate::reference::HeldCounter>,
    pub answers: Vec<crate::idempotency::HeldAnswer>,
    pub effects: Vec<crate::outbox::HeldEffect>,
    pub points: Vec<crate::rollup::held::HeldPoints>,
    pub rows: Vec<crate::rows::Rows<'static>>,
}

/// Runs `$body` with `$p` bound to the concrete pool.
#[macro_export]
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::db::Pool::Postgres($p) => $body,
            $crate::db::Pool::Sqlite($p) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the transaction's connection.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut ($tx).conn {
            $crate::db::TxConn::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxConn::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// The two sets of migrations of a service, one per backend. The tables the kit owns (the outbox,
/// the stored answers, the audit log, the data keys) come with the kit's own migrations, run
/// beside them.
#[derive(Clone, Copy)]
pub struct Migrations {
    pub postgres: &'static Migrator,
    pub sqlite: &'static Migrator,
    /// Whether the service writes effects for its peers; one that writes none gets no outbox.
    pub outbox: bool,
}

/// The kit's migrations of the outbox: the one that makes it, and those that change it.
const OUTBOX_MIGRATIONS: &[i64] = &[1_000_001, 1_000_005];

static KIT_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
pub(crate) static KIT_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A service's migrations with the kit's, in version order (the kit's are numbered from 1,000,000
/// on, after any service's). Migrations a service once had and now leaves to the kit (its own
/// copy of the outbox table) stay applied in older stores, so they are not required to be present.
fn with_kit_tables(service: &Migrator, kit: &Migrator, outbox: bool) -> Migrator {
    let kit = kit.migrations.iter().filter(|m| outbox || !OUTBOX_MIGRATIONS.contains(&m.version));
    let mut migrations: Vec<sqlx::migrate::Migration> = service.migrations.iter().chain(kit).cloned().collect();
    migrations.sort_by_key(|m| m.version);
    let mut migrator = Migrator { migrations: std::borrow::Cow::Owned(migrations), ..Migrator::DEFAULT };
    migrator.set_ignore_missing(true);
    migrator
}

/// A service's store: a pool for reads and a pool for writes. On PostgreSQL they are the same
/// pool; SQLite allows one writer at a time, so writes go through a single connection (no
/// `SQLITE_BUSY` between writers) while reads run beside it under WAL.
#[derive(Clone, Debug)]
pub struct Db {
    read: Pool,
    write: Pool,
    /// The keys personal data in this store is sealed with ([`Db::with_keyring`]).
    keyring: crate::sealing::Keyring,
    /// Whether the store has an outbox ([`Migrations::outbox`]).
    outbox: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (expected postgres:// or sqlite:)")]
    UnsupportedUrl,
    #[error("cannot create the SQLite database's directory or make its files private")]
    CreateDir(#[source] std::io::Error),
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("cannot open the store's data keys")]
    Keys(#[from] crate::sealing::SealError),
}

impl Db {
    /// A service's store as its configuration names it: connected, migrated, and with the data
    /// keys its personal data is sealed with, opened with the service's encryption key.
    pub async fn open(config: &crate::config::ServiceConfig, migrations: Migrations) -> Result<Self, DbError> {
        let kek = config.security.encryption_key.load()?;
        let db =
            Self::connect(config.database_url.expose_secret(), config.database_max_connections, migrations).await?;
        let keyring = crate::sealing::Keyring::open_with(&db, &kek, config.security.key_activation).await?;
        Ok(db.with_keyring(keyring))
    }

    /// Opens the store at `url`, creating a SQLite file (and its directory) if missing, and runs
    /// the service's migrations. Several replicas may do this at once on one PostgreSQL database:
    /// the migrator holds an advisory lock while it works.
    pub async fn connect(url: &str, max_connections: u32, migrations: Migrations) -> Result<Self, DbError> {
        let db = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(DbError::Connect)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(DbError::Connect)?;
            with_kit_tables(migrations.postgres, &KIT_POSTGRES, migrations.outbox)
                .run(&pool)
                .await
                .map_err(DbError::Migrate)?;
            let pool = Pool::Postgres(pool);
            Self {
                read: pool.clone(),
                write: pool,
                keyring: crate::sealing::Keyring::none(),
                outbox: migrations.outbox,
            }
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(DbError::Connect)?
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // WAL lets reads run beside the writer; FULL syncs the WAL at every commit, so a
                // write acknowledged to a caller survives a crash or power loss.
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            if !is_memory(options.get_filename()) {
                make_private(options.get_filename()).map_err(DbError::CreateDir)?;
            }
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone())
                .await
                .map_err(DbError::Connect)?;
            with_kit_tables(migrations.sqlite, &KIT_SQLITE, migrations.outbox)
                .run(&write)
                .await
                .map_err(DbError::Migrate)?;
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.read_only(true))
                .await
                .map_err(DbError::Connect)?;
            Self {
                read: Pool::Sqlite(read),
                write: Pool::Sqlite(write),
                keyring: crate::sealing::Keyring::none(),
                outbox: migrations.outbox,
            }
        } else {
            return Err(DbError::UnsupportedUrl);
        };
        Ok(db)
    }

    /// The store with the keys its personal data is sealed with: a service opens them
    /// ([`crate::sealing::Keyring::open`]) right after connecting, before it shares the store.
    pub fn with_keyring(mut self, keyring: crate::sealing::Keyring) -> Self {
        self.keyring = keyring;
        self
    }

    /// Whether the store keeps an outbox: a service that writes no effects has none, and reports
    /// an empty one.
    pub fn keeps_outbox(&self) -> bool {
        self.outbox
    }

    /// The keys personal data in this store is sealed with.
    pub fn keyring(&self) -> &crate::sealing::Keyring {
        &self.keyring
    }

    /// The pool for reads.
    pub fn read(&self) -> &Pool {
        &self.read
    }

    /// The pool for writes outside a transaction.
    pub fn write(&self) -> &Pool {
        &self.write
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.write, Pool::Postgres(_))
    }

    /// Starts a read-only transaction, so that a read made of several queries sees one snapshot.
    pub async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        begin_detached(&self.read, false).await
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, taking the write lock at
    /// once, so that a transaction that reads before it writes cannot fail half way.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        begin_detached(&self.write, true).await
    }

    /// Whether the store answers, and on SQLite whether its write lock can be taken now: what
    /// health reports. A lock held from outside, or a wedged writer, fails this within `within`.
    pub async fn probe(&self, within: Duration) -> Result<(), ProbeError> {
        let check = async {
            match &self.write {
                Pool::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
                Pool::Sqlite(_) => {
                    let tx = self.begin().await?;
                    tx.rollback().await
                }
            }
        };
        match tokio::time::timeout(within, check).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ProbeError::Failed(e)),
            Err(_) => Err(ProbeError::TimedOut(within)),
        }
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        on_pool!(&self.read, p => p.close().await);
        on_pool!(&self.write, p => p.close().await);
    }
}

/// Makes a SQLite store private to the service: missing directories are created 0700, a new file
/// 0600 (SQLite gives its WAL and shared-memory files the mode of the database file), and an
/// existing file, WAL and shared-memory file are set to 0600. Directories that already exist are
/// left as they are: the store may live in a shared one.
fn make_private(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.as_os_str().to_owned();
                path.push(suffix);
                match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn is_memory(path: &Path) -> bool {
    path.as_os_str().is_empty() || path.to_str().is_some_and(|p| p.contains(":memory:"))
}

/// Starts a transaction on a task of its own. sqlx's `begin` is not safe to cancel: a caller
/// dropped between sending `BEGIN` and learning that it succeeded (a client's deadline, a reset
/// stream) leaves the connection inside a transaction that nothing ends, and with SQLite's one
/// writer that wedges every later write. On its own task the `BEGIN` always completes and
/// becomes a `Transaction`; if the caller has gone, that transaction is dropped and rolled back.
async fn begin_detached(pool: &Pool, immediate: bool) -> Result<Tx, sqlx::Error> {
    let started = match pool.clone() {
        Pool::Postgres(p) => tokio::spawn(async move { p.begin().await.map(TxConn::Postgres).map(Tx::new) }),
        Pool::Sqlite(p) => tokio::spawn(async move {
            if immediate { p.begin_with("BEGIN IMMEDIATE").await } else { p.begin().await }
                .map(TxConn::Sqlite)
                .map(Tx::new)
        }),
    };
    started.await.map_err(|_| sqlx::Error::WorkerCrashed)?
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("the store refused the probe")]
    Failed(#[source] sqlx::Error),
    #[error("the store did not answer within {0:?}")]
    TimedOut(Duration),
}

impl Tx {
    fn new(conn: TxConn) -> Self {
        Self { conn, held: Held::default() }
    }

    /// Writes what the transaction holds back, then commits, on a task of its own for the reason
    /// [`begin_detached`] gives: a commit that has been sent finishes (and its connection returns
    /// to the pool clean) even if the caller has gone; a retry with the same request id then finds
    /// the first answer. If the held writes fail, nothing is committed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committing = tokio::spawn(async move {
            self.write_held().await?;
            match self.conn {
                TxConn::Postgres(t) => t.commit().await,
                TxConn::Sqlite(t) => t.commit().await,
            }
        });
        committing.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Rolls back on a task of its own, like [`Tx::commit`]; what was held is dropped.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let rolling_back = match self.conn {
            TxConn::Postgres(t) => tokio::spawn(t.rollback()),
            TxConn::Sqlite(t) => tokio::spawn(t.rollback()),
        };
        rolling_back.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Writes what the transaction holds back (see [`Held`]) into it now, in a few statements
    /// per table: for a write that must read or refer to rows it held before it commits.
    pub async fn write_held(&mut self) -> Result<(), sqlx::Error> {
        let held = std::mem::take(&mut self.held);
        // First: what else is held may come from writes that follow these rows.
        crate::rows::insert_all(self, &held.rows).await?;
        crate::rollup::held::write_held(self, held.points).await?;
        crate::outbox::write_held(self, held.effects).await?;
        crate::idempotency::write_held(self, held.answers).await?;
        crate::reference::write_held(self, held.counters).await?;
        if let Some(audit) = held.audit {
            crate::audit::write_held(self, audit).await?;
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, TxConn::Postgres(_))
    }
}

/// A point in time as both backends store it: `TIMESTAMPTZ` on PostgreSQL, and on SQLite a
/// fixed-width UTC text (`2019-11-08T04:00:00.000000Z`) whose text order is time order, so that
/// comparisons and `ORDER BY` in SQL are right on both. Microsecond precision, as PostgreSQL keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub OffsetDateTime);

const SQLITE_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

impl Ts {
    /// The latest moment a store can hold; used where "no upper bound" is meant.
    pub fn max() -> Self {
        Ts(time::macros::datetime!(9999-12-31 23:59:59.999999 UTC))
    }

    pub fn sqlite_text(&self) -> String {
        // Formatting a UTC date within 0000..=9999 with this description cannot fail.
        self.0
            .to_offset(UtcOffset::UTC)
            .format(SQLITE_FORMAT)
            .unwrap_or_else(|_| String::from("9999-12-31T23:59:59.999999Z"))
    }
}

impl From<OffsetDateTime> for Ts {
    fn from(t: OffsetDateTime) -> Self {
        Ts(t)
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode(self.sqlite_text(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: <Sqlite as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
        let t = time::PrimitiveDateTime::parse(text, SQLITE_FORMAT)?;
        Ok(Ts(t.assume_utc()))
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &<Postgres as Database>::TypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut <Postgres as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: <Postgres as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts(<OffsetDateTime as Decode<'r, Postgres>>::decode(value)?))
    }
}

/// Appends `(…)` to `q` with one bound parameter per value, for an `IN` list; callers bound the
/// values to a few thousand (the backends' limits on parameters).
pub fn push_list<'a, DB, T>(q: &mut sqlx::QueryBuilder<'a, DB>, values: impl IntoIterator<Item = T>)
where
    DB: Database,
    T: 'a + Encode<'a, DB> + Type<DB>,
{
    q.push("(");
    let mut list = q.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    list.push_unseparated(")");
}

/// Whether an error is a unique-key violation, which concurrent writers of the same key expect.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Whether the store refused for want of a connection or of its lock rather than for anything
/// in the request, so that the same call may succeed later: the server's answer then says
/// UNAVAILABLE, which clients retry, and not INTERNAL.
pub fn is_store_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                // Connection exceptions (08), the server shutting down or starting (57P01-57P03),
                // too many connections (53300), and 55000, which PostgreSQL gives a new
                // connection to a database that does not accept connections (the services'
                // queries never misuse an object in a way that would raise it otherwise).
                code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "55000")
            } else {
                // SQLite (extended codes): the database stayed busy or locked past the busy timeout.
                matches!(&*code, "5" | "6" | "261" | "262" | "517" | "773")
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sqlite_text_orders_as_time_does() {
        let a = Ts(datetime!(2019-11-08 12:00:00.5 +08:00));
        let b = Ts(datetime!(2019-11-08 04:00:00.123456 UTC));
        let c = Ts(datetime!(2019-11-08 04:00:00.5 UTC));
        assert_eq!(a.sqlite_text(), "2019-11-08T04:00:00.500000Z");
        assert!(b.sqlite_text() < c.sqlite_text());
        assert_eq!(a.sqlite_text(), c.sqlite_text());
    }

    #[tokio::test]
    async fn a_sqlite_store_is_private_to_its_service() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("stores/intake.db");
        static NONE: Migrator = Migrator::DEFAULT;
        let empty = Migrations { postgres: &NONE, sqlite: &NONE, outbox: true };
        let db = Db::connect(&format!("sqlite:{}", file.display()), 2, empty).await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&base.path().join("stores")), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&base.path().join("stores/intake.db-wal")), 0o600, "the WAL takes the file's mode");
        db.close().await;
        // A store made world-readable is made private again when it opens.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = Db::connect(&format!("sqlite:{}", file.display()), 2, empty).await.unwrap();
        assert_eq!(mode(&file), 0o600);
        db.close().await;
    }

    /// A store busy past its timeout is a passing failure the caller may retry (UNAVAILABLE);
    /// a broken query is not.
    #[tokio::test]
    async fn a_busy_sqlite_store_is_unavailable_and_a_bad_query_is_not() {
        use sqlx::{Connection, Executor, sqlite::SqliteConnectOptions};
        let base = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new().filename(base.path().join("s.db")).create_if_missing(true);
        let mut holder = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        holder.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
        holder.execute("BEGIN IMMEDIATE").await.unwrap();
        let mut other =
            sqlx::SqliteConnection::connect_with(&options.clone().busy_timeout(Duration::ZERO)).await.unwrap();
        let busy = other.execute("BEGIN IMMEDIATE").await.unwrap_err();
        assert!(is_store_unavailable(&busy), "{busy:?}");
        let bad = other.execute("SELECT nothing FROM nowhere").await.unwrap_err();
        assert!(!is_store_unavailable(&bad), "{bad:?}");
        assert!(is_store_unavailable(&sqlx::Error::PoolTimedOut));
    }
}
