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
//!   without gaps.
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

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use doxwatch_proto::ops::{self as pb, AuditAccess, AuditCheckpoint, AuditRecord, audit_service_server::AuditService};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::{
    db::{Db, Ts, Tx},
    error::{Error, FieldViolations},
    on_pool, on_tx, page, timestamp,
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
const CHECKPOINT_DOMAIN: &[u8] = b"doxwatch-audit-checkpoint-v1\0";

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

fn micros(t: OffsetDateTime) -> i64 {
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
    append(tx, &entry).await
}

/// Appends `entry` after the log's head, and moves the head to it.
async fn append(tx: &mut Tx, entry: &Entry) -> Result<i64, sqlx::Error> {
    // On PostgreSQL the row lock orders concurrent appends; SQLite has one writer.
    let head_query = if tx.is_postgres() {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    let (last, previous): (i64, Vec<u8>) = on_tx!(tx, c => sqlx::query_as(head_query).fetch_one(c).await?);
    let seq = last + 1;
    let hash = entry.hash(seq, &previous);
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO audit_records (seq, recorded_at, identity, officer, method, access, resources, fields, \
             purpose, peer, outcome, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(seq)
        .bind(Ts(entry.recorded_at))
        .bind(&entry.identity)
        .bind(&entry.officer)
        .bind(&entry.method)
        .bind(entry.access as i16)
        .bind(entry.resources.join("\n"))
        .bind(entry.fields.join("\n"))
        .bind(&entry.purpose)
        .bind(&entry.peer)
        .bind(&entry.outcome)
        .bind(&previous)
        .bind(hash.as_slice())
        .execute(&mut *c)
        .await?;
        for resource in &entry.resources {
            sqlx::query("INSERT INTO audit_resources (resource, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(resource)
                .bind(seq)
                .execute(&mut *c)
                .await?;
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(hash.as_slice())
            .execute(&mut *c)
            .await?;
    });
    Ok(seq)
}

/// The key a service signs its checkpoints with: Ed25519, PKCS#8 PEM in a file of its own.
pub struct Signer {
    key: Ed25519KeyPair,
    key_id: String,
}

impl Signer {
    /// Reads the key in `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the audit signing key {}: {e}", path.display()))?;
        Self::from_pem(&pem).map_err(|e| format!("the audit signing key {} is not usable: {e}", path.display()))
    }

    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| e.to_string())?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pair.serialize_der())
            .map_err(|_| "not an Ed25519 key".to_owned())?;
        let key_id = key_id(key.public_key().as_ref());
        Ok(Self { key, key_id })
    }

    /// A new key: its PKCS#8 PEM, and its public key as a PEM `PUBLIC KEY` for auditors.
    pub fn generate() -> Result<(String, String), String> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
        Ok((pair.serialize_pem(), pair.public_key_pem()))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    fn sign(&self, service: &str, count: i64, head: &[u8], signed_at: OffsetDateTime) -> AuditCheckpoint {
        let signature = self.key.sign(&checkpoint_message(service, count, head, signed_at));
        AuditCheckpoint {
            service: service.to_owned(),
            record_count: count,
            head_hash: head.to_vec(),
            sign_time: Some(timestamp::to_proto(signed_at)),
            key_id: self.key_id.clone(),
            signature: signature.as_ref().to_vec(),
        }
    }
}

/// The id of an Ed25519 public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// The raw Ed25519 public key in a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) text.
pub fn public_key_from_pem(pem: &str) -> Result<Vec<u8>, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|_| "not a PEM text".to_owned())?;
    if pem.label != "PUBLIC KEY" {
        return Err(format!("expected a PUBLIC KEY, found {}", pem.label));
    }
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&pem.contents)
        .map_err(|_| "not a SubjectPublicKeyInfo".to_owned())?;
    let key = spki.subject_public_key.data.to_vec();
    if key.len() != 32 {
        return Err("not an Ed25519 public key".to_owned());
    }
    Ok(key)
}

fn checkpoint_message(service: &str, count: i64, head: &[u8], signed_at: OffsetDateTime) -> Vec<u8> {
    let mut message = CHECKPOINT_DOMAIN.to_vec();
    message.extend((service.len() as u32).to_be_bytes());
    message.extend(service.as_bytes());
    message.extend(count.to_be_bytes());
    message.extend(head);
    message.extend(micros(signed_at).to_be_bytes());
    message
}

/// A service's audit log: its store, its signing key and its name.
#[derive(Clone)]
pub struct AuditLog {
    db: Db,
    signer: Arc<Signer>,
    service: &'static str,
}

impl AuditLog {
    pub fn new(db: Db, signer: Signer, service: &'static str) -> Self {
        Self { db, signer: Arc::new(signer), service }
    }

    /// Records a call the server stack refused, with `outcome` the refusal's reason.
    pub async fn denied(&self, context: Context, outcome: &str) -> Result<(), sqlx::Error> {
        let entry = Entry::new(context, Access::Denied, Vec::new(), Vec::new(), outcome);
        let mut tx = self.db.begin().await?;
        append(&mut tx, &entry).await?;
        tx.commit().await
    }

    /// A checkpoint of the log as it is now: the latest one if no record came since, else a new
    /// one, signed and kept.
    pub async fn checkpoint(&self) -> Result<AuditCheckpoint, Error> {
        let mut tx = self.db.begin().await?;
        let head_query = if tx.is_postgres() {
            "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
        } else {
            "SELECT seq, hash FROM audit_head WHERE id = 1"
        };
        let (count, head): (i64, Vec<u8>) = on_tx!(&mut tx, c => sqlx::query_as(head_query).fetch_one(c).await?);
        let latest: Option<CheckpointRow> = on_tx!(&mut tx, c => {
            sqlx::query_as(
                "SELECT record_count, head_hash, signed_at, key_id, signature FROM audit_checkpoints \
                 ORDER BY record_count DESC LIMIT 1",
            )
            .fetch_optional(c)
            .await?
        });
        if let Some(latest) = latest.filter(|l| l.0 == count && l.3 == self.signer.key_id) {
            tx.rollback().await?;
            return Ok(latest.into_proto(self.service));
        }
        let checkpoint = self.signer.sign(self.service, count, &head, timestamp::now());
        on_tx!(&mut tx, c => {
            sqlx::query(
                "INSERT INTO audit_checkpoints (record_count, head_hash, signed_at, key_id, signature) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (record_count) DO NOTHING",
            )
            .bind(count)
            .bind(&head)
            .bind(Ts(checkpoint.sign_time.as_ref().and_then(|t| timestamp::from_proto(t).ok()).unwrap_or_else(timestamp::now)))
            .bind(&checkpoint.key_id)
            .bind(&checkpoint.signature)
            .execute(c)
            .await?;
        });
        tx.commit().await?;
        Ok(checkpoint)
    }

    /// Signs a checkpoint every `every` while records come in, until the task is dropped.
    pub async fn run_checkpoints(self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = self.checkpoint().await {
                tracing::warn!(error = %crate::error::CauseChain(&e), "cannot sign an audit checkpoint; will try again");
            }
        }
    }
}

type CheckpointRow = (i64, Vec<u8>, Ts, String, Vec<u8>);

trait IntoCheckpoint {
    fn into_proto(self, service: &str) -> AuditCheckpoint;
}

impl IntoCheckpoint for CheckpointRow {
    fn into_proto(self, service: &str) -> AuditCheckpoint {
        AuditCheckpoint {
            service: service.to_owned(),
            record_count: self.0,
            head_hash: self.1,
            sign_time: Some(timestamp::to_proto(self.2.0)),
            key_id: self.3,
            signature: self.4,
        }
    }
}

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: i64,
    pub checkpoints: usize,
    pub head: [u8; 32],
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("record {0} is missing: the log goes on at record {1}")]
    Missing(i64, i64),
    #[error("record {0} is out of place: record {1} was expected")]
    OutOfOrder(i64, i64),
    #[error("record {0} was changed: its hash is not that of its contents")]
    Changed(i64),
    #[error("record {0} does not follow record {1}: its previous hash is not that record's hash")]
    Unchained(i64, i64),
    #[error("record {0} cannot be read as a record")]
    Unreadable(i64),
    #[error("the checkpoint at {0} records is not signed by the given key (key id {1})")]
    BadSignature(i64, String),
    #[error("the checkpoint at {0} records is of service {1:?}, not {2:?}")]
    WrongService(i64, String, String),
    #[error(
        "the log at record {0} is not what the checkpoint signed: records up to it were changed, removed or replaced"
    )]
    CheckpointMismatch(i64),
    #[error("the log ends at record {0}, but a checkpoint counted {1} records: records were removed")]
    Truncated(i64, i64),
}

/// Checks a service's log record by record against a public key and the signed checkpoints.
pub struct Verifier {
    /// Checkpoints by record count, each signature already checked.
    checkpoints: BTreeMap<i64, AuditCheckpoint>,
    previous: [u8; 32],
    next: i64,
}

impl Verifier {
    /// A verifier of `service`'s log; every checkpoint (those the service lists and any the auditor
    /// kept) must be signed with `public_key`.
    pub fn new(
        public_key: &[u8],
        service: &str,
        checkpoints: impl IntoIterator<Item = AuditCheckpoint>,
    ) -> Result<Self, Broken> {
        let mut kept: BTreeMap<i64, AuditCheckpoint> = BTreeMap::new();
        for checkpoint in checkpoints {
            if checkpoint.service != service {
                return Err(Broken::WrongService(checkpoint.record_count, checkpoint.service, service.to_owned()));
            }
            let signed_at = checkpoint.sign_time.as_ref().and_then(|t| timestamp::from_proto(t).ok());
            let valid = signed_at.is_some_and(|t| {
                let message = checkpoint_message(service, checkpoint.record_count, &checkpoint.head_hash, t);
                UnparsedPublicKey::new(&ED25519, public_key).verify(&message, &checkpoint.signature).is_ok()
            });
            if !valid {
                return Err(Broken::BadSignature(checkpoint.record_count, checkpoint.key_id));
            }
            if checkpoint.record_count == 0 && checkpoint.head_hash != GENESIS {
                return Err(Broken::CheckpointMismatch(0));
            }
            if let Some(other) = kept.get(&checkpoint.record_count)
                && other.head_hash != checkpoint.head_hash
            {
                // Two signed heads for one count: the log was rewritten between them.
                return Err(Broken::CheckpointMismatch(checkpoint.record_count));
            }
            kept.insert(checkpoint.record_count, checkpoint);
        }
        Ok(Self { checkpoints: kept, previous: GENESIS, next: 1 })
    }

    /// Checks the next record of the log.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), Broken> {
        let seq = record.sequence;
        if seq > self.next {
            return Err(Broken::Missing(self.next, seq));
        }
        if seq < self.next {
            return Err(Broken::OutOfOrder(seq, self.next));
        }
        if record.previous_hash != self.previous {
            return Err(Broken::Unchained(seq, seq - 1));
        }
        let entry = Entry::from_record(record).ok_or(Broken::Unreadable(seq))?;
        let hash = entry.hash(seq, &self.previous);
        if record.hash != hash {
            return Err(Broken::Changed(seq));
        }
        if let Some(checkpoint) = self.checkpoints.get(&seq)
            && checkpoint.head_hash != hash
        {
            return Err(Broken::CheckpointMismatch(seq));
        }
        self.previous = hash;
        self.next = seq + 1;
        Ok(())
    }

    /// The end of the log: every checkpoint must have been met.
    pub fn finish(self) -> Result<Verified, Broken> {
        let records = self.next - 1;
        if let Some((&count, _)) = self.checkpoints.range(records + 1..).next() {
            return Err(Broken::Truncated(records, count));
        }
        Ok(Verified { records, checkpoints: self.checkpoints.len(), head: self.previous })
    }
}

/// Why a service's log could not be verified: it could not be read, or it is broken.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the audit log: {0}")]
    Read(#[from] Status),
    #[error(transparent)]
    Broken(#[from] Broken),
}

/// Reads `service`'s whole log through `client` (its checkpoints first, then every record) and
/// verifies it against `public_key` and the checkpoints the auditor `kept`.
pub async fn verify_remote<T>(
    client: &mut pb::audit_service_client::AuditServiceClient<T>,
    public_key: &[u8],
    service: &str,
    kept: Vec<AuditCheckpoint>,
) -> Result<Verified, VerifyError>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut checkpoints = kept;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_checkpoints(pb::ListAuditCheckpointsRequest { page_size: MAX_PAGE_SIZE as i32, page_token })
            .await?
            .into_inner();
        checkpoints.extend(page.checkpoints);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut verifier = Verifier::new(public_key, service, checkpoints)?;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_records(pb::ListAuditRecordsRequest {
                page_size: MAX_PAGE_SIZE as i32,
                page_token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for record in &page.records {
            verifier.push(record)?;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(verifier.finish()?)
}

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

/// `doxwatch.ops.v1.AuditService`, served by every service for its own log.
#[derive(Clone)]
pub struct AuditApi {
    log: AuditLog,
}

impl AuditApi {
    pub fn new(log: AuditLog) -> Self {
        Self { log }
    }
}

#[derive(serde::Serialize)]
struct RecordFilter<'a> {
    officer: &'a str,
    resource: &'a str,
    after: Option<(i64, i32)>,
    before: Option<(i64, i32)>,
    access: i32,
    flagged: bool,
}

/// Resources one read must give for it to be flagged as a bulk read.
pub const BULK_READ: usize = 50;

/// A record's flags for a supervisor's review.
fn flags_of(access: AuditAccess, resources: usize, outcome: &str) -> Vec<String> {
    let mut flags = Vec::new();
    if outcome == BREAK_GLASS {
        flags.push("BREAK_GLASS".to_owned());
    }
    if outcome == REDACTED {
        flags.push("OUTSIDE_TEAM".to_owned());
    }
    if access == AuditAccess::Read && resources >= BULK_READ {
        flags.push("BULK_READ".to_owned());
    }
    flags
}

type RecordRow = (i64, Ts, String, String, String, i16, String, String, String, String, String, Vec<u8>, Vec<u8>);

fn record_from_row(row: RecordRow) -> AuditRecord {
    let lines = |s: String| if s.is_empty() { Vec::new() } else { s.split('\n').map(str::to_owned).collect() };
    let access = match Access::from_code(row.5) {
        Some(Access::Read) => AuditAccess::Read,
        Some(Access::Write) => AuditAccess::Write,
        Some(Access::Denied) => AuditAccess::Denied,
        None => AuditAccess::Unspecified,
    };
    let resources = lines(row.6);
    let flags = flags_of(access, resources.len(), &row.10);
    AuditRecord {
        sequence: row.0,
        record_time: Some(timestamp::to_proto(row.1.0)),
        identity: row.2,
        officer_id: row.3,
        method: row.4,
        access: access as i32,
        resources,
        fields: lines(row.7),
        purpose: row.8,
        peer_address: row.9,
        outcome: row.10,
        previous_hash: row.11,
        hash: row.12,
        flags,
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let after_time = crate::validate::optional_time(&mut v, "recorded_after", req.recorded_after.as_ref());
        let before_time = crate::validate::optional_time(&mut v, "recorded_before", req.recorded_before.as_ref());
        let access = match AuditAccess::try_from(req.access) {
            Ok(AuditAccess::Unspecified) => None,
            Ok(a) => Some(a as i32 as i16),
            Err(_) => {
                v.add("access", format!("{} is not an AuditAccess", req.access));
                None
            }
        };
        for (field, value) in [("officer_id", &req.officer_id), ("resource", &req.resource)] {
            if value.len() > 256 {
                v.add(field, "must be at most 256 characters");
            }
        }
        let filter = RecordFilter {
            officer: &req.officer_id,
            resource: &req.resource,
            after: page::instant(req.recorded_after.as_ref()),
            before: page::instant(req.recorded_before.as_ref()),
            access: req.access,
            flagged: req.flagged,
        };
        let fingerprint = page::filter_fingerprint(&filter);
        let cursor = v.check("page_token", page::decode_token::<i64>(&req.page_token, &fingerprint)).flatten();
        let Some(limit) = limit.filter(|_| v.is_empty()) else {
            return Err(crate::error::invalid_argument(&v));
        };
        let officer = Some(req.officer_id.as_str()).filter(|s| !s.is_empty());
        let resource = Some(req.resource.as_str()).filter(|s| !s.is_empty());
        let rows: Vec<RecordRow> = on_pool!(self.log.db.read(), p => {
            sqlx::query_as(
                "SELECT seq, recorded_at, identity, officer, method, access, resources, fields, purpose, peer, \
                 outcome, prev_hash, hash FROM audit_records \
                 WHERE seq > $1 AND ($2 IS NULL OR officer = $2) \
                 AND ($3 IS NULL OR seq IN (SELECT seq FROM audit_resources WHERE resource = $3)) \
                 AND ($4 IS NULL OR recorded_at >= $4) AND ($5 IS NULL OR recorded_at < $5) \
                 AND ($6 IS NULL OR access = $6) \
                 AND ($8 = 0 OR outcome IN ('BREAK_GLASS', 'REDACTED') \
                      OR (access = 1 AND (SELECT COUNT(*) FROM audit_resources r WHERE r.seq = audit_records.seq) >= $9)) \
                 ORDER BY seq LIMIT $7",
            )
            .bind(cursor.unwrap_or(0))
            .bind(officer)
            .bind(resource)
            .bind(after_time.map(Ts))
            .bind(before_time.map(Ts))
            .bind(access)
            .bind(i64::from(limit) + 1)
            .bind(i32::from(req.flagged))
            .bind(BULK_READ as i64)
            .fetch_all(p)
            .await
            .map_err(|e| Status::from(Error::from(e)))?
        });
        let more = rows.len() > limit as usize;
        let records: Vec<AuditRecord> = rows.into_iter().take(limit as usize).map(record_from_row).collect();
        let next_page_token = match records.last() {
            Some(last) if more => page::encode_token(&fingerprint, &last.sequence),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListAuditRecordsResponse { records, next_page_token }))
    }

    async fn list_audit_checkpoints(
        &self,
        request: Request<pb::ListAuditCheckpointsRequest>,
    ) -> Result<Response<pb::ListAuditCheckpointsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&"checkpoints");
        let cursor = v.check("page_token", page::decode_token::<i64>(&req.page_token, &fingerprint)).flatten();
        let Some(limit) = limit.filter(|_| v.is_empty()) else {
            return Err(crate::error::invalid_argument(&v));
        };
        let rows: Vec<CheckpointRow> = on_pool!(self.log.db.read(), p => {
            sqlx::query_as(
                "SELECT record_count, head_hash, signed_at, key_id, signature FROM audit_checkpoints \
                 WHERE record_count > $1 ORDER BY record_count LIMIT $2",
            )
            .bind(cursor.unwrap_or(-1))
            .bind(i64::from(limit) + 1)
            .fetch_all(p)
            .await
            .map_err(|e| Status::from(Error::from(e)))?
        });
        let more = rows.len() > limit as usize;
        let checkpoints: Vec<AuditCheckpoint> =
            rows.into_iter().take(limit as usize).map(|r| r.into_proto(self.log.service)).collect();
        let next_page_token = match checkpoints.last() {
            Some(last) if more => page::encode_token(&fingerprint, &last.record_count),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListAuditCheckpointsResponse { checkpoints, next_page_token }))
    }

    async fn sign_audit_checkpoint(
        &self,
        _request: Request<pb::SignAuditCheckpointRequest>,
    ) -> Result<Response<AuditCheckpoint>, Status> {
        Ok(Response::new(self.log.checkpoint().await?))
    }
}

#[cfg(test)]
mod tests {
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
