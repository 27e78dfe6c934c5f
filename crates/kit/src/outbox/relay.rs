//! The relay: claims due messages (safely when several replicas share a PostgreSQL database),
//! delivers them with a service-specific deliverer, and records the outcome. A message waits for
//! every earlier pending message with the same key, so effects on one thing arrive in order.
//! A claim is a short lease that the relay renews while it delivers, held under the replica's
//! name: a replica that restarts takes its own claims back at once, and another replica takes a
//! dead one's when their lease runs out.

mod merge;

pub use merge::Mergeable;

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use time::OffsetDateTime;
use tokio::{
    sync::{Notify, mpsc, watch},
    task::JoinSet,
};
use tonic::Code;
use tracing::Instrument;
use uuid::Uuid;

use super::{Message, finished::Finished};
use crate::{
    db::{Db, Pool, Ts},
    error::CauseChain,
    on_pool, on_tx,
};

/// Delivers a message to its peer. A service implements it with its peers' clients.
pub trait Deliver: Send + Sync + 'static {
    fn deliver<'a>(
        &'a self,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>>;
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// A passing failure (the peer is down, overloaded or slow): try again later.
    Retry(String),
    /// The peer refused the effect: keep it, show it, never retry it.
    Rejected(String),
}

impl DeliveryOutcome {
    /// Sorts a peer's answer. Codes that say the peer could not act now are retried without end;
    /// INTERNAL and UNKNOWN are retried up to `max_attempts`; every other code is a refusal.
    pub fn classify(result: Result<(), tonic::Status>, attempts: i32, max_attempts: i32) -> Self {
        let status = match result {
            Ok(()) => return DeliveryOutcome::Delivered,
            Err(status) => status,
        };
        let text = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Cancelled => {
                DeliveryOutcome::Retry(text)
            }
            Code::Internal | Code::Unknown if attempts + 1 < max_attempts => DeliveryOutcome::Retry(text),
            _ => DeliveryOutcome::Rejected(text),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RelaySettings {
    /// How often to look for due messages when nothing wakes the relay.
    pub poll_interval: Duration,
    /// Most deliveries in flight at once, each of another key.
    pub batch_size: i64,
    /// How long a claim lasts unless renewed. The relay renews its claims every third of it while
    /// it delivers, so a slow peer never has a message delivered twice at once; a replica that
    /// dies for good leaves its claims to other replicas after at most this long.
    pub lease: Duration,
    /// The first retry's delay; each further retry doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts after which an INTERNAL or UNKNOWN answer counts as a refusal.
    pub max_attempts: i32,
    /// How often a peer whose effects all wait out their backoff is tried with one of them, so
    /// that, once it is back, the rest go within about this long rather than a long backoff.
    pub probe_interval: Duration,
}

impl RelaySettings {
    pub fn from_config(config: &crate::config::OutboxConfig) -> Self {
        Self {
            poll_interval: config.poll_interval,
            max_backoff: config.max_backoff,
            lease: config.lease,
            batch_size: i64::from(config.in_flight),
            ..Self::default()
        }
    }
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            batch_size: 128,
            lease: Duration::from_secs(5),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_attempts: 20,
            probe_interval: Duration::from_secs(1),
        }
    }
}

/// The relay of one service replica.
pub struct Relay {
    db: Db,
    deliverer: Arc<dyn Deliver>,
    wake: Arc<Notify>,
    settings: RelaySettings,
    worker: String,
    legacy: &'static [super::LegacyEffect],
    merging: &'static [Mergeable],
    last_probe: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Relay {
    /// A relay under a name of its own, which no later start shares: its claims, should it die,
    /// pass to others when their lease runs out. A service names its relay with [`Relay::replica`].
    pub fn new(db: Db, deliverer: Arc<dyn Deliver>, settings: RelaySettings) -> Self {
        let worker = Uuid::now_v7().to_string();
        Self {
            db,
            deliverer,
            wake: Arc::new(Notify::new()),
            settings,
            worker,
            legacy: &[],
            merging: &[],
            last_probe: Default::default(),
        }
    }

    /// Names the relay after the replica it runs in, a name the replica keeps across restarts
    /// and no other live replica of the service has (see [`replica_name`]). At start the relay
    /// takes back every claim held under that name: they are a dead incarnation's, so the
    /// effects they hold are delivered at once rather than when their lease runs out.
    pub fn replica(mut self, name: String) -> Self {
        self.worker = name;
        self
    }

    /// Effects this service wrote in an earlier form, brought up to date before the first round.
    pub fn upgrading(mut self, legacy: &'static [super::LegacyEffect]) -> Self {
        self.legacy = legacy;
        self
    }

    /// Methods whose due effects are sent several at a time in one call (see [`Mergeable`]).
    pub fn merging(mut self, merging: &'static [Mergeable]) -> Self {
        self.merging = merging;
        self
    }

    /// A handle that wakes the relay at once, for a service to call after it commits an effect.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `stop` turns true. Errors of the store are logged and retried.
    ///
    /// Up to `batch_size` deliveries are in flight at once, each of another key (a message is due
    /// only once every earlier message of its key is done), and each is recorded as soon as it
    /// ends: a slow peer or a slow key holds back its own messages only, and a freed place is
    /// refilled without waiting for the others. The relay looks for due messages when deliveries
    /// end, when a commit wakes it ([`Relay::waker`]) and every `poll_interval`.
    ///
    /// The outcomes are written by one recorder, which takes every outcome that ended while it
    /// wrote the last ones and writes them in one transaction: one commit (and, on SQLite, one
    /// sync of the store's file) for all the deliveries that ended together, rather than one each
    /// on the writer the service's own requests wait for.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        Arc::new(self).run_shared(stop).await
    }

    async fn run_shared(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut upgraded = self.legacy.is_empty();
        let mut reclaimed = false;
        let capacity = usize::try_from(self.settings.batch_size).unwrap_or(1).max(1);
        // While due messages outnumber the free places, the relay claims again once this many are
        // free (one claim per few deliveries, not per one); otherwise as soon as one is.
        let refill = (capacity / 4).max(1);
        let mut saturated = false;
        // Each delivery is a task of its own, so that it goes on (and waits for its outcome to be
        // written, which may wait for the store's one SQLite writer) while the relay claims or
        // renews.
        let mut in_flight: JoinSet<()> = JoinSet::new();
        // The messages each delivery carries (merged ones carry several), and their sum.
        let mut carrying: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut carried = 0usize;
        // Unbounded in type only: each delivery in flight sends one outcome and waits for it to be
        // written, so the queue never holds more than the relay's places.
        let (finished, queue) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(self.clone().record_finished(queue, capacity));
        // At least every 10 ms: an interval of zero is not one.
        let mut renewal = tokio::time::interval((self.settings.lease / 3).max(Duration::from_millis(10)));
        renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut look = true;
        loop {
            if *stop.borrow() {
                break;
            }
            if !reclaimed {
                match self.take_back_own_claims().await {
                    Ok(n) => {
                        reclaimed = true;
                        if n > 0 {
                            tracing::info!(worker = %self.worker, claims = n, "claims of an earlier run taken back");
                        }
                    }
                    Err(e) => tracing::warn!(error = %CauseChain(&e), "cannot take back earlier claims; retrying"),
                }
            }
            if !upgraded {
                match super::upgrade_legacy(&self.db, self.legacy).await {
                    Ok(_) => upgraded = true,
                    Err(e) => {
                        tracing::warn!(error = %CauseChain(&e), "cannot bring earlier effects up to date; retrying")
                    }
                }
            }
            let free = capacity.saturating_sub(carried);
            if look && free > 0 {
                match self.due(free).await {
                    Ok(messages) => {
                        saturated = messages.len() == free;
                        if in_flight.is_empty() && !messages.is_empty() {
                            // The claims were just made: the first renewal is a third of a lease away.
                            renewal.reset();
                        }
                        for group in merge::group(messages, self.merging) {
                            let (relay, finished, n) = (self.clone(), finished.clone(), group.len());
                            let task = in_flight.spawn(async move { relay.deliver_group(group, &finished).await });
                            carrying.insert(task.id(), n);
                            carried += n;
                        }
                    }
                    Err(e) => tracing::warn!(error = %CauseChain(&e), "cannot claim outbox messages"),
                }
            }
            look = false;
            tokio::select! {
                Some(result) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                    let task = match &result {
                        Ok((id, ())) => *id,
                        Err(e) => e.id(),
                    };
                    carried = carried.saturating_sub(carrying.remove(&task).unwrap_or(0));
                    recorded(result.map(|_| ()));
                    look = !saturated || capacity.saturating_sub(carried) >= refill;
                }
                _ = renewal.tick(), if !in_flight.is_empty() => {
                    // A failed renewal only risks a second delivery, which the peer's request-id
                    // store absorbs; the deliveries go on.
                    if let Err(e) = self.renew().await {
                        tracing::warn!(error = %CauseChain(&e), "cannot renew the outbox claims");
                    }
                }
                _ = stop.changed() => {}
                _ = self.wake.notified() => look = true,
                _ = tokio::time::sleep(self.settings.poll_interval) => look = true,
            }
        }
        // Deliveries under way end and are recorded; nothing more is claimed.
        while let Some(result) = in_flight.join_next().await {
            recorded(result);
        }
        drop(finished);
        if let Err(e) = recorder.await {
            tracing::error!(error = %e, "the outbox recorder failed");
        }
    }

    /// Claims up to `limit` due messages, after making due those that probe a waiting peer.
    async fn due(&self, limit: usize) -> Result<Vec<Message>, sqlx::Error> {
        self.probe_waiting_peers().await?;
        self.claim(i64::try_from(limit).unwrap_or(i64::MAX)).await
    }

    /// A peer that was down leaves its effects waiting out a backoff that grows to
    /// `max_backoff`. Every `probe_interval`, the first effect of each peer none of whose effects
    /// is due soon is made due now: a real delivery that probes the peer. If it succeeds, the
    /// peer's other effects are made due at once (see [`Relay::record`]).
    async fn probe_waiting_peers(&self) -> Result<(), sqlx::Error> {
        let now = tokio::time::Instant::now();
        {
            let mut last = self.last_probe.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| now.duration_since(at) < self.settings.probe_interval) {
                return Ok(());
            }
            *last = Some(now);
        }
        let now = OffsetDateTime::now_utc();
        let soon = now + self.settings.probe_interval;
        let waiting: Vec<(String, i64)> = on_pool!(self.db.read(), p => {
            sqlx::query_as(
                "SELECT peer, MIN(seq) FROM outbox WHERE state = 1 GROUP BY peer HAVING MIN(next_attempt_at) > $1",
            )
            .bind(Ts(soon))
            .fetch_all(p)
            .await?
        });
        for (_peer, seq) in waiting {
            on_pool!(self.db.write(), p => {
                sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE seq = $2 AND state = 1")
                    .bind(Ts(now))
                    .bind(seq)
                    .execute(p)
                    .await?;
            });
        }
        Ok(())
    }

    /// Extends every claim this relay still holds by a lease from now.
    async fn renew(&self) -> Result<u64, sqlx::Error> {
        let until = OffsetDateTime::now_utc() + self.settings.lease;
        let renewed = on_pool!(self.db.write(), p => {
            sqlx::query("UPDATE outbox SET claimed_until = $1 WHERE claimed_by = $2 AND state = 1")
                .bind(Ts(until))
                .bind(&self.worker)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(renewed)
    }

    /// Frees the claims held under this relay's name, which only an earlier run of the same
    /// replica can have made: that run is dead, and its messages are due again now.
    async fn take_back_own_claims(&self) -> Result<u64, sqlx::Error> {
        let freed = on_pool!(self.db.write(), p => {
            sqlx::query("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1 AND state = 1")
                .bind(&self.worker)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(freed)
    }

    /// Delivers `message` and hands its outcome to the recorder; returns once it is written (or
    /// could not be: the claim then runs out and the message goes again).
    async fn deliver(&self, message: Message, finished: &mpsc::UnboundedSender<Finished>) {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let span = tracing::info_span!(
            "outbox.deliver",
            otel.kind = "producer",
            peer = %message.peer,
            method = %message.method,
            key = %message.key,
            message = %message.id,
            attempt = message.attempts + 1,
        );
        let _ = span.set_parent(message.parent_context());
        let mut message = message;
        match super::open_payload(self.db.keyring(), message.id, &message.payload) {
            Ok(payload) => message.payload = payload,
            Err(e) => {
                // Not a passing failure: no retry opens it. Kept, shown, never sent. (The span is
                // entered only around the log line: a guard held across an await would leave the
                // span on whichever worker thread the task resumed on.)
                span.in_scope(
                    || tracing::error!(error = %crate::error::CauseChain(&e), "a stored effect does not open"),
                );
                let outcome = DeliveryOutcome::Rejected(format!("the stored effect does not open: {e}"));
                return Finished::send(finished, &message, outcome).instrument(span).await;
            }
        }
        let result = self.deliverer.deliver(&message).instrument(span.clone()).await;
        let outcome = DeliveryOutcome::classify(result, message.attempts, self.settings.max_attempts);
        span.in_scope(|| merge::count_delivery(&message, &outcome));
        Finished::send(finished, &message, outcome).instrument(span).await
    }

    async fn claim(&self, limit: i64) -> Result<Vec<Message>, sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let until = now + self.settings.lease;
        // A message is due when its time has come, no live claim holds it, and no earlier message
        // with its key is still pending (so effects on one thing keep their order).
        let sql = claim_sql(matches!(self.db.write(), Pool::Postgres(_)));
        type Row = (i64, Uuid, String, String, String, Vec<u8>, String, i32);
        let mut rows: Vec<Row> = on_pool!(self.db.write(), p => {
            sqlx::query_as(&sql)
                .bind(&self.worker)
                .bind(Ts(until))
                .bind(Ts(now))
                .bind(limit)
                .fetch_all(p)
                .await?
        });
        rows.sort_by_key(|r| r.0);
        Ok(rows
            .into_iter()
            .map(|(seq, id, peer, method, key, payload, trace_context, attempts)| Message {
                seq,
                id,
                peer,
                method,
                key,
                payload,
                attempts,
                trace_context: serde_json::from_str(&trace_context).unwrap_or_default(),
            })
            .collect())
    }

    /// Writes the outcomes that reach `queue`, each time all those that are waiting (at most
    /// `most`) in one transaction, until every sender is gone.
    async fn record_finished(self: Arc<Self>, mut queue: mpsc::UnboundedReceiver<Finished>, most: usize) {
        let mut batch = Vec::with_capacity(most);
        while queue.recv_many(&mut batch, most).await > 0 {
            let written = match self.record(&batch).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %CauseChain(&e), deliveries = batch.len(), "cannot record outbox deliveries");
                    false
                }
            };
            for done in batch.drain(..) {
                let _ = done.written.send(written);
            }
        }
    }

    /// Records what became of each delivery in `batch`, in one transaction: the delivered
    /// leave the pending messages in one statement, a refusal is kept with its reason, and a
    /// passing failure waits out its backoff. A peer that answers a message it failed before makes
    /// its other waiting messages due at once.
    async fn record(&self, batch: &[Finished]) -> Result<(), sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let delivered: Vec<i64> =
            batch.iter().filter(|f| f.outcome == DeliveryOutcome::Delivered).map(|f| f.seq).collect();
        let mut answering_again: Vec<&str> = batch
            .iter()
            .filter(|f| f.outcome == DeliveryOutcome::Delivered && f.attempts > 0)
            .map(|f| f.peer.as_str())
            .collect();
        answering_again.sort_unstable();
        answering_again.dedup();
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => {
            if !delivered.is_empty() {
                let mut q = sqlx::QueryBuilder::new("UPDATE outbox SET state = 2, attempts = attempts + 1, done_time = ");
                q.push_bind(Ts(now));
                q.push(", claimed_until = NULL, claimed_by = NULL WHERE seq IN ");
                crate::db::push_list(&mut q, delivered.iter().copied());
                q.build().execute(&mut *c).await?;
            }
            for peer in answering_again {
                sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE state = 1 AND peer = $2 AND next_attempt_at > $1")
                    .bind(Ts(now))
                    .bind(peer)
                    .execute(&mut *c)
                    .await?;
            }
            for f in batch {
                match &f.outcome {
                    DeliveryOutcome::Delivered => {}
                    DeliveryOutcome::Rejected(error) => {
                        sqlx::query(
                            "UPDATE outbox SET state = 3, attempts = attempts + 1, done_time = $2, last_error = $3, \
                             claimed_until = NULL, claimed_by = NULL WHERE seq = $1",
                        )
                        .bind(f.seq)
                        .bind(Ts(now))
                        .bind(error)
                        .execute(&mut *c)
                        .await?;
                    }
                    DeliveryOutcome::Retry(error) => {
                        let next = now + self.backoff(f.attempts, f.id);
                        sqlx::query(
                            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, \
                             claimed_until = NULL, claimed_by = NULL WHERE seq = $1",
                        )
                        .bind(f.seq)
                        .bind(Ts(next))
                        .bind(error)
                        .execute(&mut *c)
                        .await?;
                    }
                }
            }
        });
        tx.commit().await
    }

    /// Exponential backoff with jitter (from the message id's random bits), capped, so that
    /// replicas retrying a recovered peer do not arrive all at once.
    fn backoff(&self, attempts: i32, id: Uuid) -> Duration {
        let exp = self.settings.base_backoff.saturating_mul(1u32 << attempts.clamp(0, 16) as u32);
        let capped = exp.min(self.settings.max_backoff);
        let jitter = (id.as_u128() % 1000) as f64 / 1000.0; // 0..1
        capped.mul_f64(0.75 + 0.5 * jitter)
    }
}

/// Logs a delivery task that ended without its outcome (it panicked or was cancelled).
fn recorded(result: Result<(), tokio::task::JoinError>) {
    if let Err(e) = result {
        tracing::error!(error = %e, "an outbox delivery task failed");
    }
}

/// The name of this replica of `service`, stable across its restarts and distinct among live
/// replicas: the host's name (a container's or pod's own) and the port it serves on, which two
/// live processes on one host cannot share.
pub fn replica_name(service: &str, port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{service}@{host}:{port}")
}

/// The claim of [`Relay::claim`]: marks up to `$4` due messages as claimed by `$1` until `$2` (now
/// is `$3`), oldest first, and returns them.
fn claim_sql(postgres: bool) -> String {
    // The pending messages are walked in seq order on (state, seq), and the walk stops at
    // `limit`. SQLite's planner would rather take the range on `next_attempt_at` and sort every
    // due message; the unary `+` keeps that column out of its index choice.
    let (lock, due) =
        if postgres { ("FOR UPDATE SKIP LOCKED", "o.next_attempt_at") } else { ("", "+o.next_attempt_at") };
    format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE seq IN (\
           SELECT o.seq FROM outbox o \
           WHERE o.state = 1 AND {due} <= $3 AND (o.claimed_until IS NULL OR o.claimed_until < $3) \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ordering_key = o.ordering_key AND e.state = 1 AND e.seq < o.seq) \
           ORDER BY o.seq LIMIT $4 {lock}) \
         RETURNING seq, id, peer, method, ordering_key, payload, trace_context, attempts"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_answers_into_retries_and_refusals() {
        use DeliveryOutcome::*;
        assert_eq!(DeliveryOutcome::classify(Ok(()), 0, 5), Delivered);
        assert!(matches!(DeliveryOutcome::classify(Err(tonic::Status::unavailable("down")), 100, 5), Retry(_)));
        assert!(matches!(DeliveryOutcome::classify(Err(tonic::Status::internal("x")), 0, 5), Retry(_)));
        assert!(matches!(DeliveryOutcome::classify(Err(tonic::Status::internal("x")), 4, 5), Rejected(_)));
        assert!(matches!(DeliveryOutcome::classify(Err(tonic::Status::invalid_argument("bad")), 0, 5), Rejected(_)));
        assert!(matches!(DeliveryOutcome::classify(Err(tonic::Status::failed_precondition("no")), 0, 5), Rejected(_)));
    }

    /// A claim reads the pending messages in order and stops at its batch: however long the
    /// backlog, SQLite neither reads all of it nor sorts it.
    #[tokio::test]
    async fn a_claim_walks_the_backlog_in_order_without_sorting_it() {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:").await.expect("a store");
        crate::db::KIT_SQLITE.run(&mut c).await.expect("the kit's tables");
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", claim_sql(false)))
            .bind("relay")
            .bind(0i64)
            .bind(0i64)
            .bind(32i64)
            .fetch_all(&mut c)
            .await
            .expect("a plan");
        let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(steps.iter().any(|s| s.contains("outbox_pending")), "{steps:?}");
        assert!(!steps.iter().any(|s| s.contains("TEMP B-TREE")), "{steps:?}");
    }
}
