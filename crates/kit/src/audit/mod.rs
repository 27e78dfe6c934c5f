//! The audit log every service keeps of access to personal data: who (certificate identity and
//! officer), what (RPC, resources, personal-data fields), when, why (the purpose the caller
//! stated), from where (peer address) and with what outcome.
//!
//! - A read or write of personal data is recorded by the handler with [`record`], inside the
//!   transaction that makes the access: if the record cannot be written, the access fails with it.
//! - A call the server stack refuses is recorded by [`AuditLog::denied`] in a transaction of its
//!   own (the refused caller is rate limited like any other, which bounds these writes).
//! - Each record carries the hash of the one before it ([`Entry::hash`]); one row, `audit_head`,
//!   holds the latest sequence and hash, and appending locks it, so records chain in commit order
//!   without gaps. A transaction reads the head once, chains its records in memory and writes
//!   them, and the head, at its commit.
//! - At intervals, and when an auditor asks, the service signs a checkpoint (record count and head
//!   hash) with an Ed25519 key read from a file, never from the database ([`Signer`]).
//! - [`Verifier`] checks a log page by page: the chain, every checkpoint's signature and head, and
//!   an older checkpoint the auditor kept (which proves the log only grew since).
//!
//! The hash of record `n` is SHA-256 over `doxwatch-audit-v1\0`, the previous hash, `n` (8 bytes,
//! big-endian), the record time in microseconds since the epoch (8 bytes, big-endian, signed),
//! then identity, officer and method (each a 4-byte big-endian length and its UTF-8 bytes), the
//! access (1 byte: 1 read, 2 write, 3 denied), resources and fields (each a 4-byte count and its
//! strings as before), and purpose, peer address and outcome. A checkpoint signs
//! `doxwatch-audit-checkpoint-v1\0`, the service name (length-prefixed), the record count (8
//! bytes), the head hash and the signing time in microseconds (8 bytes).

mod checkpoint;
mod service;
mod verify;

pub use checkpoint::{AuditLog, Signer, key_id, public_key_from_pem};
pub use service::{AuditApi, BULK_READ, OUTSIDE_TEAM_PER_DAY};
pub use verify::{Broken, Verified, Verifier, VerifyError, verify_remote};

use doxwatch_proto::ops::{AuditAccess, AuditRecord};
use sha2::{Digest, Sha256};
use sqlx::QueryBuilder;
use time::OffsetDateTime;

use crate::{
    db::{Ts, Tx},
    on_tx, timestamp,
};

/// The metadata entry in which an officer's client states why it reads personal data.
pub const PURPOSE_HEADER: &str = "x-doxwatch-purpose";
/// The longest purpose accepted.
pub const MAX_PURPOSE_LEN: usize = 200;
/// The metadata entry in which an officer breaks the glass: reads the personal data of a case
/// outside their team, for the purpose stated, recorded for a supervisor's review.
pub const BREAK_GLASS_HEADER: &str = "x-doxwatch-break-glass";
/// The outcome of a read through broken glass, as its audit record gives it.
pub const BREAK_GLASS: &str = "BREAK_GLASS";
/// The outcome of a read that withheld the personal data (the case is another team's).
pub const REDACTED: &str = "REDACTED";
/// The outcome of a retried call answered from the stored first answer.
pub const REPLAYED: &str = "REPLAYED";
/// The outcome of a read of a resource that is not there.
pub const NOT_FOUND: &str = "NOT_FOUND";
/// The previous hash of the first record, and the head of an empty log.
pub const GENESIS: [u8; 32] = [0; 32];

const RECORD_DOMAIN: &[u8] = b"doxwatch-audit-v1\0";
pub(crate) const CHECKPOINT_DOMAIN: &[u8] = b"doxwatch-audit-checkpoint-v1\0";

/// Who is calling, for the records a call writes; the server stack sets it for every admitted call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The certificate identity (`spiffe://doxwatch/...`), or `internal` for background work.
    pub identity: String,
    /// The officer the token names; empty for a service or agency.
    pub officer: String,
    /// The RPC's path.
    pub method: String,
    pub purpose: String,
    pub peer: String,
}

impl Context {
    /// The service's own work outside any call (a relay, a sweep).
    pub fn internal() -> Self {
        Self { identity: "internal".into(), ..Self::default() }
    }
}

tokio::task_local! {
    static CONTEXT: Context;
}

/// The context of the call the current task serves.
pub fn current() -> Context {
    CONTEXT.try_with(Context::clone).unwrap_or_else(|_| Context::internal())
}

/// Runs `future` with `context` as the call's audit context.
pub async fn scoped<F: std::future::Future>(context: Context, future: F) -> F::Output {
    CONTEXT.scope(context, future).await
}

/// The purpose a call stated, if it sent a usable one; `Err` says what is wrong with it.
pub fn stated_purpose(headers: &http::HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get(PURPOSE_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| format!("{PURPOSE_HEADER} must be printable ASCII"))?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_PURPOSE_LEN {
        return Err(format!("{PURPOSE_HEADER} must be at most {MAX_PURPOSE_LEN} characters"));
    }
    Ok(Some(text.to_owned()))
}

/// What a record says was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read = 1,
    Write = 2,
    Denied = 3,
}

impl Access {
    fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(Access::Read),
            2 => Some(Access::Write),
            3 => Some(Access::Denied),
            _ => None,
        }
    }
}

/// One record, before the log gives it its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub recorded_at: OffsetDateTime,
    pub identity: String,
    pub officer: String,
    pub method: String,
    pub access: Access,
    pub resources: Vec<String>,
    pub fields: Vec<String>,
    pub purpose: String,
    pub peer: String,
    pub outcome: String,
}

impl Entry {
    fn new(context: Context, access: Access, resources: Vec<String>, fields: Vec<String>, outcome: &str) -> Self {
        Self {
            recorded_at: timestamp::now(),
            identity: context.identity,
            officer: context.officer,
            method: context.method,
            access,
            resources,
            fields,
            purpose: context.purpose,
            peer: context.peer,
            outcome: outcome.to_owned(),
        }
    }

    /// The record's hash at place `seq` after a record with hash `previous`.
    pub fn hash(&self, seq: i64, previous: &[u8]) -> [u8; 32] {
        fn text(h: &mut Sha256, s: &str) {
            h.update((s.len() as u32).to_be_bytes());
            h.update(s.as_bytes());
        }
        fn list(h: &mut Sha256, items: &[String]) {
            h.update((items.len() as u32).to_be_bytes());
            for item in items {
                text(h, item);
            }
        }
        let mut h = Sha256::new();
        h.update(RECORD_DOMAIN);
        h.update(previous);
        h.update(seq.to_be_bytes());
        h.update(micros(self.recorded_at).to_be_bytes());
        text(&mut h, &self.identity);
        text(&mut h, &self.officer);
        text(&mut h, &self.method);
        h.update([self.access as u8]);
        list(&mut h, &self.resources);
        list(&mut h, &self.fields);
        text(&mut h, &self.purpose);
        text(&mut h, &self.peer);
        text(&mut h, &self.outcome);
        h.finalize().into()
    }

    /// The entry a listed record was made from; `None` for a record no service writes.
    pub fn from_record(record: &AuditRecord) -> Option<Self> {
        let recorded_at = timestamp::from_proto(record.record_time.as_ref()?).ok()?;
        let access = match AuditAccess::try_from(record.access).ok()? {
            AuditAccess::Read => Access::Read,
            AuditAccess::Write => Access::Write,
            AuditAccess::Denied => Access::Denied,
            AuditAccess::Unspecified => return None,
        };
        Some(Self {
            recorded_at,
            identity: record.identity.clone(),
            officer: record.officer_id.clone(),
            method: record.method.clone(),
            access,
            resources: record.resources.clone(),
            fields: record.fields.clone(),
            purpose: record.purpose.clone(),
            peer: record.peer_address.clone(),
            outcome: record.outcome.clone(),
        })
    }
}

pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// Records, in the caller's transaction, that the current call read or wrote the personal-data
/// `fields` of `resources`. Call it last in the transaction: it holds the log's head until commit.
pub async fn record(tx: &mut Tx, access: Access, resources: &[String], fields: &[&str]) -> Result<i64, sqlx::Error> {
    record_as(tx, access, resources, fields, "OK").await
}

/// [`record`], with an outcome other than `OK`: [`BREAK_GLASS`], [`REDACTED`], [`REPLAYED`],
/// [`NOT_FOUND`].
pub async fn record_as(
    tx: &mut Tx,
    access: Access,
    resources: &[String],
    fields: &[&str],
    outcome: &str,
) -> Result<i64, sqlx::Error> {
    let entry =
        Entry::new(current(), access, resources.to_vec(), fields.iter().map(|f| (*f).to_owned()).collect(), outcome);
    append(tx, entry).await
}

/// The records a transaction has appended and not yet written, and the head after them.
pub(crate) struct HeldAudit {
    seq: i64,
    hash: Vec<u8>,
    records: Vec<HeldRecord>,
}

struct HeldRecord {
    seq: i64,
    entry: Entry,
    previous: Vec<u8>,
    hash: Vec<u8>,
}

/// How many records one statement writes (13 values each, well inside either backend's limit on
/// parameters).
const RECORDS_PER_INSERT: usize = 256;

/// How many resource rows one statement writes.
const RESOURCES_PER_INSERT: usize = 2048;

/// The log's head as `tx` sees it: the last record it holds, or the stored head, read once and
/// locked on PostgreSQL (SQLite has one writer).
async fn head(tx: &mut Tx) -> Result<(i64, Vec<u8>), sqlx::Error> {
    if let Some(held) = &tx.held.audit {
        return Ok((held.seq, held.hash.clone()));
    }
    let head_query = if tx.is_postgres() {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    Ok(on_tx!(tx, c => sqlx::query_as(head_query).fetch_one(c).await?))
}

/// Appends `entry` after the log's head, and moves the head to it. The record is held by the
/// transaction and written at its commit with the others it appended ([`write_held`]), so a
/// transaction that appends many reads and writes the head once.
pub(crate) async fn append(tx: &mut Tx, entry: Entry) -> Result<i64, sqlx::Error> {
    let (last, previous) = head(tx).await?;
    let seq = last + 1;
    let hash = entry.hash(seq, &previous).to_vec();
    let held = tx.held.audit.get_or_insert_with(|| HeldAudit { seq, hash: Vec::new(), records: Vec::new() });
    held.seq = seq;
    held.hash.clone_from(&hash);
    held.records.push(HeldRecord { seq, entry, previous, hash });
    Ok(seq)
}

/// Writes the records `held` into `tx`, a few statements for all of them, and moves the head.
pub(crate) async fn write_held(tx: &mut Tx, held: HeldAudit) -> Result<(), sqlx::Error> {
    for chunk in held.records.chunks(RECORDS_PER_INSERT) {
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "INSERT INTO audit_records (seq, recorded_at, identity, officer, method, access, resources, fields, \
                 purpose, peer, outcome, prev_hash, hash) ",
            );
            q.push_values(chunk, |mut row, r| {
                let e = &r.entry;
                row.push_bind(r.seq)
                    .push_bind(Ts(e.recorded_at))
                    .push_bind(&e.identity)
                    .push_bind(&e.officer)
                    .push_bind(&e.method)
                    .push_bind(e.access as i16)
                    .push_bind(e.resources.join("\n"))
                    .push_bind(e.fields.join("\n"))
                    .push_bind(&e.purpose)
                    .push_bind(&e.peer)
                    .push_bind(&e.outcome)
                    .push_bind(&r.previous)
                    .push_bind(&r.hash);
            });
            q.build().execute(c).await?;
        });
    }
    let resources: Vec<(&str, i64)> =
        held.records.iter().flat_map(|r| r.entry.resources.iter().map(move |name| (name.as_str(), r.seq))).collect();
    for chunk in resources.chunks(RESOURCES_PER_INSERT) {
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new("INSERT INTO audit_resources (resource, seq) ");
            q.push_values(chunk, |mut row, (name, seq)| {
                row.push_bind(*name).push_bind(*seq);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(c).await?;
        });
    }
    on_tx!(tx, c => {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(held.seq)
            .bind(&held.hash)
            .execute(c)
            .await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use doxwatch_proto::ops::AuditCheckpoint;

    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            recorded_at: timestamp::now(),
            identity: "spiffe://doxwatch/officer/chan.tm".into(),
            officer: "chan.tm".into(),
            method: "/doxwatch.intake.v1.IntakeService/GetCase".into(),
            access: Access::Read,
            resources: vec![format!("cases/{n}")],
            fields: vec!["data_subjects".into()],
            purpose: "review".into(),
            peer: "127.0.0.1:1".into(),
            outcome: "OK".into(),
        }
    }

    fn log(n: usize) -> Vec<AuditRecord> {
        let mut previous = GENESIS;
        (1..=n)
            .map(|i| {
                let e = entry(i);
                let hash = e.hash(i as i64, &previous);
                let record = AuditRecord {
                    sequence: i as i64,
                    record_time: Some(timestamp::to_proto(e.recorded_at)),
                    identity: e.identity,
                    officer_id: e.officer,
                    method: e.method,
                    access: AuditAccess::Read as i32,
                    resources: e.resources,
                    fields: e.fields,
                    purpose: e.purpose,
                    peer_address: e.peer,
                    outcome: e.outcome,
                    previous_hash: previous.to_vec(),
                    hash: hash.to_vec(),
                    flags: Vec::new(),
                };
                previous = hash;
                record
            })
            .collect()
    }

    fn verify(signer: &Signer, records: &[AuditRecord], checkpoints: Vec<AuditCheckpoint>) -> Result<Verified, Broken> {
        let mut verifier = Verifier::new(signer.public_key(), "intake", checkpoints)?;
        for r in records {
            verifier.push(r)?;
        }
        verifier.finish()
    }

    fn signer() -> Signer {
        let (pem, public) = Signer::generate().unwrap();
        let signer = Signer::from_pem(&pem).unwrap();
        assert_eq!(public_key_from_pem(&public).unwrap(), signer.public_key());
        signer
    }

    #[test]
    fn an_intact_log_verifies_and_each_kind_of_tampering_is_named() {
        let signer = signer();
        let records = log(5);
        let at3 = signer.sign("intake", 3, &records[2].hash, timestamp::now());
        let at5 = signer.sign("intake", 5, &records[4].hash, timestamp::now());
        let ok = verify(&signer, &records, vec![at3.clone(), at5.clone()]).unwrap();
        assert_eq!((ok.records, ok.checkpoints), (5, 2));

        let mut changed = records.clone();
        changed[1].purpose = "curiosity".into();
        assert_eq!(verify(&signer, &changed, vec![]), Err(Broken::Changed(2)));

        let mut removed = records.clone();
        removed.remove(2);
        assert_eq!(verify(&signer, &removed, vec![]), Err(Broken::Missing(3, 4)));

        // Rewriting a record and every hash after it passes the chain, not a checkpoint.
        let mut rewritten = log(5);
        rewritten[0].purpose = "curiosity".into();
        let mut previous = GENESIS;
        for r in rewritten.iter_mut() {
            r.previous_hash = previous.to_vec();
            let hash = Entry::from_record(r).unwrap().hash(r.sequence, &previous);
            r.hash = hash.to_vec();
            previous = hash;
        }
        assert_eq!(verify(&signer, &rewritten, vec![at3.clone()]), Err(Broken::CheckpointMismatch(3)));

        assert_eq!(verify(&signer, &records[..4], vec![at5.clone()]), Err(Broken::Truncated(4, 5)));

        let mut forged = at5.clone();
        forged.record_count = 4;
        assert!(matches!(verify(&signer, &records, vec![forged]), Err(Broken::BadSignature(4, _))));
        let other = self::signer();
        assert!(matches!(verify(&other, &records, vec![at5]), Err(Broken::BadSignature(5, _))));
    }
}
