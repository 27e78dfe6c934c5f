//! The transactional outbox: an effect on a peer is written in the same local transaction as the
//! change that causes it, and a relay delivers it at least once, in order per key, with the message
//! id as the peer's `request_id`, so that the peer's idempotency store applies it exactly once.
//! A peer that is down delays an effect; a peer that refuses one leaves it as a rejected effect.
//! An effect is stored as the gRPC method to call and the encoded request, which already carries
//! the message id as its `request_id`, so the relay delivers every effect the same way. Effects of
//! a method whose effect is the same applied twice may be sent several to a call, without a
//! `request_id` (see [`Mergeable`]).

mod deliver;
mod finished;
mod relay;
mod service;

use std::collections::HashMap;

use opentelemetry::global;
use time::OffsetDateTime;
use uuid::Uuid;

pub use deliver::{LegacyEffect, Peers, RawBytes, upgrade_legacy};
pub use relay::{Deliver, DeliveryOutcome, Mergeable, Relay, RelaySettings, replica_name};
pub use service::OutboxApi;

use crate::{
    db::{Db, Ts, Tx},
    on_pool, on_tx,
    sealing::Keyring,
};

/// The field an effect's payload is sealed as: requests to peers carry case details, notes and
/// outcomes, so they are kept sealed until the relay sends them.
const PAYLOAD: &str = "outbox.payload";
/// What a sealed payload starts with; a plain protobuf request never does.
const SEALED: &[u8] = b"DW1";

/// `payload` sealed for message `id`.
pub(crate) fn seal_payload(keys: &Keyring, id: Uuid, payload: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
    keys.seal_bytes(PAYLOAD, &id.to_string(), payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The request of a stored message: opened if sealed, as it is if stored before sealing began.
pub(crate) fn open_payload(keys: &Keyring, id: Uuid, stored: &[u8]) -> Result<Vec<u8>, crate::sealing::SealError> {
    if stored.starts_with(SEALED) { keys.open_bytes(PAYLOAD, &id.to_string(), stored) } else { Ok(stored.to_vec()) }
}

/// An effect to deliver to a peer.
#[derive(Debug, Clone)]
pub struct Effect {
    /// The message id, which the request carries as its `request_id`.
    pub id: Uuid,
    /// The peer service, e.g. "links".
    pub peer: &'static str,
    /// The peer's gRPC method path, e.g. "/doxwatch.links.v1.LinksService/RegisterLinks".
    pub method: &'static str,
    /// Effects with the same key are delivered in the order they were written.
    pub key: String,
    /// The encoded request.
    pub payload: Vec<u8>,
}

impl Effect {
    /// An effect calling `method` of `peer`; `request` is given the message id to send as the
    /// request's `request_id`, so that the peer applies the effect once however often it arrives.
    pub fn new<M: prost::Message>(
        peer: &'static str,
        method: &'static str,
        key: String,
        request: impl FnOnce(String) -> M,
    ) -> Self {
        let id = Uuid::now_v7();
        let payload = request(id.to_string()).encode_to_vec();
        Self { id, peer, method, key, payload }
    }
}

/// A message as the relay hands it to a deliverer.
#[derive(Debug, Clone)]
pub struct Message {
    pub seq: i64,
    pub id: Uuid,
    pub peer: String,
    pub method: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub attempts: i32,
    trace_context: HashMap<String, String>,
}

impl Message {
    fn parent_context(&self) -> opentelemetry::Context {
        global::get_text_map_propagator(|p| p.extract(&self.trace_context))
    }
}

/// Writes `effect` to the outbox inside `tx`, its request sealed with `keys`; it is delivered
/// once `tx` commits. Returns the message id. The current trace context goes with it, so the
/// delivery joins the same trace.
pub async fn enqueue(tx: &mut Tx, keys: &Keyring, effect: Effect) -> Result<Uuid, sqlx::Error> {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let id = effect.id;
    let mut carrier: HashMap<String, String> = HashMap::new();
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    let trace_context = serde_json::to_string(&carrier).unwrap_or_else(|_| "{}".to_owned());
    let now = Ts(OffsetDateTime::now_utc());
    let payload = seal_payload(keys, id, &effect.payload)?;
    // Held by the transaction and written at its commit with the others it queued, in order.
    tx.held.effects.push(HeldEffect {
        id,
        peer: effect.peer,
        method: effect.method,
        key: effect.key,
        payload,
        trace_context,
        now,
    });
    Ok(id)
}

/// An effect a transaction has queued and not yet written.
pub(crate) struct HeldEffect {
    id: Uuid,
    peer: &'static str,
    method: &'static str,
    key: String,
    payload: Vec<u8>,
    trace_context: String,
    now: Ts,
}

/// How many effects one statement writes (9 values each).
const EFFECTS_PER_INSERT: usize = 256;

/// Writes the effects `held` into `tx` in the order they were queued, a statement per
/// [`EFFECTS_PER_INSERT`].
pub(crate) async fn write_held(tx: &mut Tx, held: Vec<HeldEffect>) -> Result<(), sqlx::Error> {
    for chunk in held.chunks(EFFECTS_PER_INSERT) {
        on_tx!(tx, c => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO outbox (id, peer, method, ordering_key, payload, trace_context, state, attempts, \
                 next_attempt_at, create_time) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.id)
                    .push_bind(e.peer)
                    .push_bind(e.method)
                    .push_bind(&e.key)
                    .push_bind(&e.payload)
                    .push_bind(&e.trace_context)
                    // Pending, never tried.
                    .push("1")
                    .push("0")
                    .push_bind(e.now)
                    .push_bind(e.now);
            });
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

/// Whether an effect with this key is still waiting to be delivered.
pub async fn is_pending(db: &Db, key: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = on_pool!(db.read(), p => {
        sqlx::query_as("SELECT seq FROM outbox WHERE ordering_key = $1 AND state = 1 LIMIT 1")
            .bind(key)
            .fetch_optional(p)
            .await?
    });
    Ok(row.is_some())
}

/// The outbox's state as GetOutboxStatus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub pending: i64,
    pub delivered: i64,
    pub rejected: i64,
    pub oldest_pending: Option<OffsetDateTime>,
}

/// Each state is counted by itself, so that the `(state, seq)` index can answer it without reading
/// the messages and their payloads; all four figures come from one statement, so they agree.
pub async fn status(db: &Db) -> Result<Status, sqlx::Error> {
    if !db.keeps_outbox() {
        return Ok(Status { pending: 0, delivered: 0, rejected: 0, oldest_pending: None });
    }
    let (pending, delivered, rejected, oldest): (i64, i64, i64, Option<Ts>) = on_pool!(db.read(), p => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE state = 1), (SELECT COUNT(*) FROM outbox WHERE state = 2), \
             (SELECT COUNT(*) FROM outbox WHERE state = 3), \
             (SELECT create_time FROM outbox WHERE state = 1 ORDER BY seq LIMIT 1)",
        )
        .fetch_one(p)
        .await?
    });
    Ok(Status { pending, delivered, rejected, oldest_pending: oldest.map(|t| t.0) })
}
