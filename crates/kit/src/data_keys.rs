//! A store's data keys while its service runs: the KeyService, and the re-sealing sweep. After a
//! rotation every sealed value of a store is sealed again under the active key, and values stored
//! before sealing began are sealed for the first time. Each service names its sealed columns
//! ([`SealedColumn`]); the kit adds its own (stored answers, outbox requests). A value is replaced
//! only if it is still what the sweep read, so a change made meanwhile is never overwritten; the
//! next sweep takes it up if it needs it.

use std::sync::{Arc, Mutex};

use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{db::Db, on_pool, sealing::Keyring};

/// One column of a record's id.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    Uuid(&'static str),
    /// A SMALLINT.
    I16(&'static str),
    /// An INTEGER.
    I32(&'static str),
    Text(&'static str),
}

/// How a column holds its sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `dw1.k…` text ([`Keyring::seal_text`]).
    Text,
    /// `DW1…` bytes ([`Keyring::seal_bytes`]); empty values are not yet written and left alone.
    Bytes,
}

/// A column whose values are sealed as `field`, each bound to the record its `record` columns
/// name (their values joined with `/`, as the store sealed them). The record's columns must
/// identify its row.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub field: &'static str,
    pub record: &'static [Part],
    pub form: Form,
}

/// The kit's own sealed columns, in every store.
pub const KIT_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "idempotency_keys",
        column: "response",
        field: "idempotency_keys.response",
        record: &[Part::Text("request_id")],
        form: Form::Bytes,
    },
    SealedColumn {
        table: "outbox",
        column: "payload",
        field: "outbox.payload",
        record: &[Part::Uuid("id")],
        form: Form::Bytes,
    },
];

/// Rows read at a time.
const BATCH: i64 = 500;

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub finished_at: Option<OffsetDateTime>,
    /// Values sealed again under the active key.
    pub resealed: i64,
    /// Values under an older key that were left: changed under the sweep, or not opening.
    pub remaining: i64,
}

#[derive(Debug, Clone)]
enum Value {
    Uuid(Uuid),
    I16(i16),
    I32(i32),
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Uuid(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stored {
    Text(String),
    Bytes(Vec<u8>),
}

fn part_name(part: &Part) -> &'static str {
    match part {
        Part::Uuid(c) | Part::I16(c) | Part::I32(c) | Part::Text(c) => c,
    }
}

/// Sealed values a service keeps outside its store's columns (link-tracking's evidence files),
/// swept with them.
#[async_trait::async_trait]
pub trait SealedFiles: Send + Sync + 'static {
    /// Seals again under the active key every file that is not; returns how many it sealed again
    /// and how many it had to leave (changed under the sweep, or not opening).
    async fn reseal(&self) -> Result<(i64, i64), String>;
}

/// The sweep of one store's columns (and the service's sealed files), with its last report for
/// the key status.
#[derive(Clone)]
pub struct Resealer {
    db: Db,
    columns: Vec<SealedColumn>,
    files: Option<Arc<dyn SealedFiles>>,
    last: Arc<Mutex<SweepReport>>,
}

impl Resealer {
    /// A sweep of `columns` and the kit's own.
    pub fn new(db: Db, columns: &[SealedColumn]) -> Self {
        let mut all = columns.to_vec();
        all.extend(KIT_COLUMNS.iter().filter(|c| c.table != "outbox" || db.keeps_outbox()).copied());
        Self { db, columns: all, files: None, last: Arc::default() }
    }

    /// The same sweep, with `files` swept after the columns.
    pub fn with_files(mut self, files: Arc<dyn SealedFiles>) -> Self {
        self.files = Some(files);
        self
    }

    pub fn last_report(&self) -> SweepReport {
        self.last.lock().map(|r| *r).unwrap_or_default()
    }

    /// Seals every value not sealed under the active key again under it.
    pub async fn sweep(&self) -> Result<SweepReport, sqlx::Error> {
        let mut report = SweepReport::default();
        for column in &self.columns {
            let (resealed, remaining) = self.sweep_column(column).await?;
            report.resealed += resealed;
            report.remaining += remaining;
        }
        if let Some(files) = &self.files {
            match files.reseal().await {
                Ok((resealed, remaining)) => {
                    report.resealed += resealed;
                    report.remaining += remaining;
                }
                Err(e) => tracing::warn!(error = %e, "re-sealing the sealed files failed; will retry"),
            }
        }
        report.finished_at = Some(OffsetDateTime::now_utc());
        if let Ok(mut last) = self.last.lock() {
            *last = report;
        }
        Ok(report)
    }

    async fn sweep_column(&self, c: &SealedColumn) -> Result<(i64, i64), sqlx::Error> {
        let keys = self.db.keyring();
        let names: Vec<&str> = c.record.iter().map(part_name).collect();
        let select = format!(
            "SELECT {}, {} FROM {} WHERE {} IS NOT NULL ORDER BY {} LIMIT $1 OFFSET $2",
            names.join(", "),
            c.column,
            c.table,
            c.column,
            names.join(", ")
        );
        let matching: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n} = ${}", i + 3)).collect();
        let update =
            format!("UPDATE {} SET {} = $1 WHERE {} = $2 AND {}", c.table, c.column, c.column, matching.join(" AND "));
        let (mut resealed, mut remaining, mut offset) = (0i64, 0i64, 0i64);
        loop {
            let rows: Vec<(Vec<Value>, Stored)> = on_pool!(self.db.read(), p => {
                let rows = sqlx::query(&select).bind(BATCH).bind(offset).fetch_all(p).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut values = Vec::with_capacity(c.record.len());
                    for (i, part) in c.record.iter().enumerate() {
                        values.push(match part {
                            Part::Uuid(_) => Value::Uuid(row.try_get(i)?),
                            Part::I16(_) => Value::I16(row.try_get(i)?),
                            Part::I32(_) => Value::I32(row.try_get(i)?),
                            Part::Text(_) => Value::Text(row.try_get(i)?),
                        });
                    }
                    let at = c.record.len();
                    let stored = match c.form {
                        Form::Text => Stored::Text(row.try_get(at)?),
                        Form::Bytes => Stored::Bytes(row.try_get(at)?),
                    };
                    out.push((values, stored));
                }
                out
            });
            let read = rows.len() as i64;
            for (values, stored) in rows {
                let record: Vec<String> = values.iter().map(Value::to_string).collect();
                let record = record.join("/");
                let fresh = match resealed_value(keys, c, &record, &stored) {
                    Ok(None) => continue,
                    Ok(Some(fresh)) => fresh,
                    Err(e) => {
                        tracing::warn!(table = c.table, column = c.column, error = %crate::error::CauseChain(&e),
                            "a sealed value does not open; left as it is");
                        remaining += 1;
                        continue;
                    }
                };
                let changed = on_pool!(self.db.write(), p => {
                    let mut q = sqlx::query(&update);
                    q = match &fresh {
                        Stored::Text(v) => q.bind(v.clone()),
                        Stored::Bytes(v) => q.bind(v.clone()),
                    };
                    q = match &stored {
                        Stored::Text(v) => q.bind(v.clone()),
                        Stored::Bytes(v) => q.bind(v.clone()),
                    };
                    for v in &values {
                        q = match v {
                            Value::Uuid(v) => q.bind(*v),
                            Value::I16(v) => q.bind(*v),
                            Value::I32(v) => q.bind(*v),
                            Value::Text(v) => q.bind(v.clone()),
                        };
                    }
                    q.execute(p).await?.rows_affected()
                });
                if changed == 1 { resealed += 1 } else { remaining += 1 }
            }
            if read < BATCH {
                break;
            }
            offset += read;
        }
        if resealed > 0 || remaining > 0 {
            tracing::info!(
                table = c.table,
                column = c.column,
                resealed,
                remaining,
                "sealed values under the active key"
            );
        }
        Ok((resealed, remaining))
    }
}

/// `stored` sealed under the active key, or `None` if it already is (or holds nothing yet).
fn resealed_value(
    keys: &Keyring,
    c: &SealedColumn,
    record: &str,
    stored: &Stored,
) -> Result<Option<Stored>, crate::sealing::SealError> {
    match stored {
        Stored::Text(v) => {
            if keys.is_current(v)? {
                return Ok(None);
            }
            let plain = keys.open_text(c.field, record, v)?;
            Ok(Some(Stored::Text(keys.seal_text(c.field, record, &plain)?)))
        }
        Stored::Bytes(v) => {
            if v.is_empty() || keys.is_current_bytes(v)? {
                return Ok(None);
            }
            // Before sealing began, values were plain protobuf, which never starts "DW1".
            let plain = if v.starts_with(crate::sealing::BINARY_PREFIX) {
                keys.open_bytes(c.field, record, v)?
            } else {
                v.clone()
            };
            Ok(Some(Stored::Bytes(keys.seal_bytes(c.field, record, &plain)?)))
        }
    }
}

/// Keeps a store's keys current while its service runs: reloads the keys other replicas added
/// (well within the activation delay), and sweeps the store at start and whenever the active key
/// changes. Runs until it is dropped; each value it replaces is replaced whole or not at all.
pub async fn maintain(resealer: Resealer) {
    let keys = resealer.db.keyring().clone();
    let mut swept_for = None;
    loop {
        if let Err(e) = keys.reload(&resealer.db).await {
            tracing::warn!(error = %crate::error::CauseChain(&e), "reading the store's data keys failed");
        }
        let active = keys.active_key().ok();
        if active.is_some() && active != swept_for {
            match resealer.sweep().await {
                Ok(_) => swept_for = active,
                Err(e) => {
                    tracing::warn!(error = %crate::error::CauseChain(&e), "the re-sealing sweep failed; will retry")
                }
            }
        }
        tokio::time::sleep(keys.reload_interval()).await;
    }
}

/// `doxwatch.ops.v1.KeyService`: a service's own data keys.
#[derive(Clone)]
pub struct KeyApi {
    service: &'static str,
    resealer: Resealer,
}

impl KeyApi {
    pub fn new(service: &'static str, resealer: Resealer) -> Self {
        Self { service, resealer }
    }

    fn status(&self) -> Result<doxwatch_proto::ops::DataKeyStatus, crate::error::Error> {
        use crate::timestamp::to_proto;
        let keys = self.resealer.db.keyring().status().map_err(crate::error::Error::internal)?;
        let last = self.resealer.last_report();
        Ok(doxwatch_proto::ops::DataKeyStatus {
            service: self.service.to_owned(),
            keys: keys
                .into_iter()
                .map(|k| doxwatch_proto::ops::DataKey {
                    id: k.id,
                    create_time: Some(to_proto(k.create_time)),
                    active_from: Some(to_proto(k.active_from)),
                    active: k.active,
                })
                .collect(),
            last_sweep_time: last.finished_at.map(to_proto),
            last_sweep_resealed: last.resealed,
            last_sweep_remaining: last.remaining,
        })
    }
}

#[tonic::async_trait]
impl doxwatch_proto::ops::key_service_server::KeyService for KeyApi {
    async fn rotate_data_key(
        &self,
        _request: tonic::Request<doxwatch_proto::ops::RotateDataKeyRequest>,
    ) -> Result<tonic::Response<doxwatch_proto::ops::DataKeyStatus>, tonic::Status> {
        use crate::error::Error;
        let db = &self.resealer.db;
        let added = db.keyring().rotate(db).await.map_err(Error::internal)?;
        // The rotation is kept in the audit log, with the purpose the operator stated.
        let mut tx = db.begin().await.map_err(Error::from)?;
        crate::audit::record(&mut tx, crate::audit::Access::Write, &[format!("dataKeys/{}", added.id)], &["data_keys"])
            .await
            .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        tracing::info!(key = added.id, active_from = %added.active_from, "a data key was added");
        Ok(tonic::Response::new(self.status()?))
    }

    async fn get_data_key_status(
        &self,
        _request: tonic::Request<doxwatch_proto::ops::GetDataKeyStatusRequest>,
    ) -> Result<tonic::Response<doxwatch_proto::ops::DataKeyStatus>, tonic::Status> {
        Ok(tonic::Response::new(self.status()?))
    }
}
