//! Request ids (AIP-155): the first response to a `request_id` is stored in the same transaction
//! as the change it reports, so a retry replays it and never applies the change twice. The same id
//! with a different payload is refused. A request id belongs to its caller: it is stored with the
//! caller's key, so one caller can neither replay nor block another's. Stored answers hold personal
//! data (a created case comes back whole), so they are sealed with the store's keys, bound to
//! their request id, and deleted after their retention.

use prost::Message;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::{
    db::{Ts, Tx},
    on_tx,
};

/// The longest `request_id` accepted.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request's id with the hash of what it asked for.
#[derive(Debug, Clone)]
pub struct RequestKey {
    request_id: String,
    /// `<caller> <request_id>`, as stored.
    stored: String,
    hash: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("request_id {0:?} was already used for a different request")]
    Reused(String),
    #[error("cannot read or write the request id store")]
    Store(#[from] sqlx::Error),
    #[error("the stored response cannot be decoded")]
    Decode(#[from] prost::DecodeError),
    #[error("the stored response cannot be sealed or opened")]
    Sealed(#[from] crate::sealing::SealError),
    /// The request id is claimed by an earlier request of the same transaction (a group commit's)
    /// that has not answered yet: like a key taken by another writer, run again on its own.
    #[error("request_id {0:?} is being answered by an earlier request of this transaction")]
    Unanswered(String),
}

/// The sealed column, as its values' associated data names it.
const RESPONSE: &str = "idempotency_keys.response";

impl RequestKey {
    /// `None` when the client sent no `request_id`. `request` must be the request with its
    /// `request_id` cleared, so that the hash is of the payload alone.
    pub fn new<M: Message>(method: &str, request_id: &str, request: &M) -> Option<Self> {
        if request_id.is_empty() {
            return None;
        }
        let mut hasher = Sha256::new();
        hasher.update(method.as_bytes());
        hasher.update([0]);
        hasher.update(request.encode_to_vec());
        let stored = match crate::auth::current_caller() {
            Some(caller) => format!("{caller} {request_id}"),
            None => request_id.to_owned(),
        };
        Some(Self { request_id: request_id.to_owned(), stored, hash: hasher.finalize().to_vec() })
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// The response first given to this request id, if there was one.
pub async fn replay<R: Message + Default>(
    tx: &mut Tx,
    keys: &crate::sealing::Keyring,
    key: &RequestKey,
) -> Result<Option<R>, IdempotencyError> {
    if tx.held.answers.iter().any(|a| a.stored == key.stored) {
        let held = std::mem::take(&mut tx.held.answers);
        write_held(tx, held).await?;
    }
    let row: Option<(Vec<u8>, Vec<u8>)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT request_hash, response FROM idempotency_keys WHERE request_id = $1")
            .bind(&key.stored)
            .fetch_optional(c)
            .await?
    });
    match row {
        None => Ok(None),
        Some((hash, _)) if hash != key.hash => Err(IdempotencyError::Reused(key.request_id.clone())),
        // A claim whose answer is not written yet: only its own transaction sees it.
        Some((_, response)) if response.is_empty() => Err(IdempotencyError::Unanswered(key.request_id.clone())),
        Some((_, response)) => {
            // Answers stored before sealing began are plain protobuf, which never starts "DW1".
            let response = if response.starts_with(b"DW1") {
                keys.open_bytes(RESPONSE, &key.stored, &response)?
            } else {
                response
            };
            Ok(Some(R::decode(response.as_slice())?))
        }
    }
}

/// The first answer to `key`, if there was one (giving it again is audited as a read); if not,
/// claims `key` for this transaction. `None` without a key.
pub async fn replay_or_claim<R: Message + Default>(
    tx: &mut Tx,
    keys: &crate::sealing::Keyring,
    key: Option<&RequestKey>,
) -> Result<Option<R>, IdempotencyError> {
    let Some(key) = key else { return Ok(None) };
    // A new request id, the common case, is claimed in one statement; one claimed before is
    // answered from its row. On PostgreSQL a claim made by a concurrent attempt that has not
    // ended holds this statement until it does, as [`claim`] says.
    if claim_if_new(tx, key).await? {
        return Ok(None);
    }
    if let Some(first) = replay(tx, keys, key).await? {
        audit_replay(tx, key).await?;
        return Ok(Some(first));
    }
    // Its row went between the two statements (its retention ended): a new request after all.
    claim(tx, key).await?;
    Ok(None)
}

/// Claims `key` unless a row holds it already; whether it claimed.
async fn claim_if_new(tx: &mut Tx, key: &RequestKey) -> Result<bool, sqlx::Error> {
    let now = Ts(OffsetDateTime::now_utc());
    let claimed = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO idempotency_keys (request_id, request_hash, response, recorded_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(&key.stored)
        .bind(&key.hash)
        .bind(Vec::<u8>::new())
        .bind(now)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(claimed == 1)
}

/// Claims the request id for this transaction before its change is made. On PostgreSQL a
/// concurrent retry of the same request blocks here until the first attempt ends: if it commits,
/// the retry fails with a unique violation, runs again and replays the first answer; if it rolls
/// back, the retry makes the change itself. (SQLite has one writer, so attempts never overlap.)
pub async fn claim(tx: &mut Tx, key: &RequestKey) -> Result<(), sqlx::Error> {
    let now = Ts(OffsetDateTime::now_utc());
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO idempotency_keys (request_id, request_hash, response, recorded_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.stored)
        .bind(&key.hash)
        .bind(Vec::<u8>::new())
        .bind(now)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Deletes, inside `tx`, the stored answers about `resource` (e.g. `cases/…`): those whose name
/// (field 1, as every resource message of the contracts has it) is the resource or one under it
/// (`cases/…/events/…`). After an erasure no retry may give back what was erased; answers about
/// other resources that merely mention it stay. Returns how many were deleted. Reads every stored
/// answer, which the retention period (`expire`) keeps few.
pub async fn forget_answers_naming(
    tx: &mut Tx,
    keys: &crate::sealing::Keyring,
    resource: &str,
) -> Result<u64, IdempotencyError> {
    let held = std::mem::take(&mut tx.held.answers);
    write_held(tx, held).await?;
    let rows: Vec<(String, Vec<u8>)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT request_id, response FROM idempotency_keys").fetch_all(c).await?
    });
    let needle = resource.as_bytes();
    let mut forgotten = 0;
    for (stored, response) in rows {
        if response.is_empty() {
            continue;
        }
        // Answers stored before sealing began are plain protobuf, which never starts "DW1".
        let answer = if response.starts_with(crate::sealing::BINARY_PREFIX) {
            keys.open_bytes(RESPONSE, &stored, &response)?
        } else {
            response
        };
        // Field 1, length-delimited: tag 0x0a, then the length as a one-byte varint (names are short).
        let name = match answer.as_slice() {
            [0x0a, len, rest @ ..] if *len < 0x80 => rest.get(..usize::from(*len)),
            _ => None,
        };
        let about = name.is_some_and(|n| n == needle || (n.starts_with(needle) && n.get(needle.len()) == Some(&b'/')));
        if about {
            forgotten += on_tx!(tx, c => {
                sqlx::query("DELETE FROM idempotency_keys WHERE request_id = $1").bind(&stored).execute(c).await?.rows_affected()
            });
        }
    }
    Ok(forgotten)
}

/// Records, in the replay's transaction, that the stored answer to `key` was given again: outcome
/// `REPLAYED`, resource `requests/<request_id>`.
pub async fn audit_replay(tx: &mut Tx, key: &RequestKey) -> Result<(), sqlx::Error> {
    let resource = format!("requests/{}", key.request_id());
    crate::audit::record_as(tx, crate::audit::Access::Read, &[resource], &["stored_answer"], crate::audit::REPLAYED)
        .await
        .map(|_| ())
}

/// Stores the response to give to a retry in the row [`claim`] made; call it in the transaction
/// that made the change.
pub async fn remember<R: Message>(
    tx: &mut Tx,
    keys: &crate::sealing::Keyring,
    key: &RequestKey,
    response: &R,
) -> Result<(), IdempotencyError> {
    let sealed = keys.seal_bytes(RESPONSE, &key.stored, &response.encode_to_vec())?;
    // Held by the transaction and written at its commit with the others it stored.
    tx.held.answers.push(HeldAnswer { stored: key.stored.clone(), sealed });
    Ok(())
}

/// An answer a transaction has stored for a request id it claimed, not yet written.
pub(crate) struct HeldAnswer {
    stored: String,
    sealed: Vec<u8>,
}

/// How many answers one statement writes.
const ANSWERS_PER_UPDATE: usize = 256;

/// Writes the answers `held` into the rows their claims made, a statement per
/// [`ANSWERS_PER_UPDATE`].
pub(crate) async fn write_held(tx: &mut Tx, held: Vec<HeldAnswer>) -> Result<(), sqlx::Error> {
    for chunk in held.chunks(ANSWERS_PER_UPDATE) {
        on_tx!(tx, c => {
            let mut q = sqlx::QueryBuilder::new("WITH answered (request_id, response) AS (");
            q.push_values(chunk, |mut row, a| {
                row.push_bind(&a.stored).push_bind(&a.sealed);
            });
            q.push(
                ") UPDATE idempotency_keys SET response = answered.response FROM answered \
                 WHERE idempotency_keys.request_id = answered.request_id",
            );
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

/// Deletes the answers kept for request ids older than `retention`, and the outbox's effects
/// delivered longer ago than that (their requests held what the answers hold); how many answers
/// were deleted. A retry after that is a new request.
pub async fn expire(db: &crate::db::Db, retention: std::time::Duration) -> Result<u64, sqlx::Error> {
    let cutoff = OffsetDateTime::now_utc() - retention;
    let deleted = crate::on_pool!(db.write(), p => {
        sqlx::query("DELETE FROM idempotency_keys WHERE recorded_at < $1").bind(Ts(cutoff)).execute(p).await?.rows_affected()
    });
    if db.keeps_outbox() {
        crate::on_pool!(db.write(), p => {
            sqlx::query("DELETE FROM outbox WHERE state = 2 AND done_time < $1").bind(Ts(cutoff)).execute(p).await?;
        });
    }
    Ok(deleted)
}

/// Runs [`expire`] every `every` until `stop` turns true.
pub async fn sweep(
    service: &'static str,
    db: crate::db::Db,
    retention: std::time::Duration,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match expire(&db, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(service, deleted = n, "request ids past their retention deleted"),
            Err(e) => tracing::warn!(service, error = %crate::error::CauseChain(&e), "cannot delete old request ids"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
