//! The automated rechecker: in rounds, it claims the links that are due (so that with several
//! replicas each is checked by one), fetches each, classifies the answer by the rules kept as
//! data, and records an AUTOMATED_RECHECK observation. See `data/RECHECK_RULES.md`.

mod fetch;
mod guard;

use std::{sync::Arc, time::Duration};

use doxwatch_kit::{
    db::{Db, is_unique_violation},
    error::CauseChain,
    idempotency::{self, RequestKey},
    timestamp,
};
use futures::StreamExt;
use opentelemetry::{
    KeyValue,
    metrics::{Counter, Gauge},
};
use prost::Message;
use tokio::sync::watch;
use uuid::Uuid;

pub use fetch::user_agent;

use crate::{
    config::RecheckConfig,
    domain::*,
    error::LinksError,
    store::{links, recheck},
};

/// Who the rechecker's observations are recorded by.
pub const RECORDED_BY: &str = "service:links";

#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    #[error("the recheck rules are invalid: {0}")]
    Rules(String),
    #[error("cannot build the rechecker's HTTP client")]
    Client(#[from] reqwest::Error),
}

/// What one round did; each checked link counts once, under its outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTally {
    pub checked: i64,
    pub online: i64,
    pub removed: i64,
    pub access_restricted: i64,
    pub unreachable: i64,
    pub failed: i64,
    pub inconclusive: i64,
    pub reappeared: i64,
}

/// The outcome of one check, as counted and measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Recorded(LinkStatus),
    Failed,
    Inconclusive,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Recorded(LinkStatus::Online) => "online",
            Outcome::Recorded(LinkStatus::Removed | LinkStatus::ChannelRemoved) => "removed",
            Outcome::Recorded(LinkStatus::AccessRestricted) => "access_restricted",
            Outcome::Recorded(LinkStatus::Unreachable) => "unreachable",
            Outcome::Failed => "failed",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// One link as a round checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub link: LinkId,
    pub url: String,
    /// `None` when another replica took the link over before the check ended.
    pub outcome: Option<Outcome>,
    /// The rule that classified the answer, or what failed.
    pub detail: String,
    pub reappeared: bool,
}

/// How a round ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundEnd {
    pub tally: RoundTally,
    /// The time limit ended it before every due link was checked.
    pub cut_short: bool,
    /// Links due and unchecked when it ended.
    pub still_due: i64,
}

impl RoundTally {
    fn add(&mut self, outcome: Outcome, reappeared: bool) {
        self.checked += 1;
        match outcome {
            Outcome::Recorded(LinkStatus::Online) => self.online += 1,
            Outcome::Recorded(LinkStatus::Removed | LinkStatus::ChannelRemoved) => self.removed += 1,
            Outcome::Recorded(LinkStatus::AccessRestricted) => self.access_restricted += 1,
            Outcome::Recorded(LinkStatus::Unreachable) => self.unreachable += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Inconclusive => self.inconclusive += 1,
        }
        if reappeared {
            self.reappeared += 1;
        }
    }
}

struct Metrics {
    rechecks: Counter<u64>,
    queue: Gauge<u64>,
}

/// The rechecker of one replica.
pub struct Rechecker {
    db: Db,
    config: RecheckConfig,
    rules: RecheckRules,
    fetcher: fetch::Fetcher,
    /// This replica's name in the claims.
    worker: String,
    metrics: Metrics,
}

impl Rechecker {
    pub fn new(db: Db, config: RecheckConfig) -> Result<Self, RecheckError> {
        let rules = RecheckRules::parse(DEFAULT_RECHECK_RULES).map_err(RecheckError::Rules)?;
        let fetcher = fetch::Fetcher::new(&config)?;
        let meter = opentelemetry::global::meter("doxwatch");
        let metrics = Metrics {
            rechecks: meter
                .u64_counter("doxwatch.links.rechecks")
                .with_description("Automated link rechecks done, by outcome")
                .build(),
            queue: meter
                .u64_gauge("doxwatch.links.recheck.queue")
                .with_description("Links due for an automated recheck")
                .build(),
        };
        Ok(Self { db, config, rules, fetcher, worker: Uuid::now_v7().to_string(), metrics })
    }

    /// Whether the background rechecker runs (a non-zero `recheck_interval_ms`).
    pub fn is_scheduled(&self) -> bool {
        !self.config.interval.is_zero()
    }

    /// Runs rounds until `stop` turns true; a round in progress is dropped (its claims expire).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let poll = (self.config.interval / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                result = self.round() => match result {
                    Ok(t) if t.checked > 0 => tracing::info!(checked = t.checked, online = t.online, removed = t.removed,
                        reappeared = t.reappeared, "recheck round done"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %CauseChain(&e), "recheck round failed"),
                },
                _ = stop.changed() => return,
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One round on demand, with request-id replay: a retry returns the first round's counts
    /// and runs nothing.
    pub async fn run_once<R: Message + Default>(
        &self,
        key: Option<RequestKey>,
        respond: impl Fn(&RoundTally) -> R,
    ) -> Result<R, LinksError> {
        if let Some(k) = &key {
            let mut tx = self.db.begin_read().await?;
            if let Some(first) = idempotency::replay(&mut tx, self.db.keyring(), k).await? {
                return Ok(first);
            }
        }
        let response = respond(&self.round().await?);
        if let Some(k) = &key {
            let mut tx = self.db.begin().await?;
            match idempotency::claim(&mut tx, k).await {
                Ok(()) => {
                    idempotency::remember(&mut tx, self.db.keyring(), k, &response).await?;
                    tx.commit().await?;
                }
                // A concurrent retry of the same request finished first; its round stands too.
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(response)
    }

    /// Checks every link due when the round starts that no other replica holds, once.
    pub async fn round(&self) -> Result<RoundTally, LinksError> {
        Ok(self.round_until(None, None).await?.tally)
    }

    /// [`round`](Self::round), sending each link to `seen` as it is checked (waiting while the
    /// receiver is behind; a receiver gone stops nothing), and ending at `deadline` if one is
    /// given: checks still running then are dropped (they record nothing) and the links claimed
    /// and not checked are given back, due at once.
    #[tracing::instrument(skip_all, fields(worker = %self.worker))]
    pub async fn round_until(
        &self,
        deadline: Option<tokio::time::Instant>,
        seen: Option<&tokio::sync::mpsc::Sender<Checked>>,
    ) -> Result<RoundEnd, LinksError> {
        let started = timestamp::now();
        recheck::enroll(&self.db).await?;
        self.measure_queue(started).await?;
        let batch = (self.config.concurrency * 4) as i64;
        let mut tally = RoundTally::default();
        let out_of_time = || deadline.is_some_and(|d| tokio::time::Instant::now() >= d);
        let mut cut_short = false;
        loop {
            if out_of_time() {
                cut_short = true;
                break;
            }
            let now = timestamp::now();
            let until = now + self.claim_ttl(batch);
            let claimed = recheck::claim(&self.db, &self.worker, started, now, until, batch).await?;
            if claimed.is_empty() {
                break;
            }
            let targets = {
                let mut tx = self.db.begin_read().await?;
                recheck::targets(&mut tx, &claimed).await?
            };
            let mut unchecked: std::collections::HashSet<LinkId> = claimed.iter().copied().collect();
            let mut checks =
                futures::stream::iter(targets).map(|t| self.check(t)).buffer_unordered(self.config.concurrency);
            loop {
                let next = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, checks.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            cut_short = true;
                            break;
                        }
                    },
                    None => checks.next().await,
                };
                let Some(check) = next else { break };
                let checked = check?;
                unchecked.remove(&checked.link);
                if let Some(outcome) = checked.outcome {
                    tally.add(outcome, checked.reappeared);
                }
                if let Some(seen) = seen {
                    let _ = seen.send(checked).await;
                }
            }
            if cut_short {
                // Links claimed and not checked stay due: give them back now rather than when
                // their claims lapse.
                drop(checks);
                let unchecked: Vec<LinkId> = unchecked.into_iter().collect();
                recheck::unclaim(&self.db, &self.worker, &unchecked).await?;
                break;
            }
        }
        let ended = timestamp::now();
        self.measure_queue(ended).await?;
        let still_due = if cut_short { recheck::count_due(&self.db, started).await? } else { 0 };
        Ok(RoundEnd { tally, cut_short, still_due })
    }

    async fn measure_queue(&self, at: time::OffsetDateTime) -> Result<(), LinksError> {
        let due = recheck::count_due(&self.db, at).await?;
        self.metrics.queue.record(due.max(0) as u64, &[]);
        Ok(())
    }

    /// Long enough for a batch to be checked, paced and timed out; short enough that a crashed
    /// replica's links are soon due again.
    fn claim_ttl(&self, batch: i64) -> Duration {
        let c = &self.config;
        c.timeout * 2 + c.per_host_interval.saturating_mul(batch as u32) + Duration::from_secs(30)
    }

    /// Checks one claimed link and records what it found (no outcome when the claim was lost).
    #[tracing::instrument(skip_all, fields(link = %target.link))]
    async fn check(&self, target: recheck::Target) -> Result<Checked, LinksError> {
        let key = target.platform_key.as_deref();
        let answer = self.fetcher.fetch(&target.url, self.rules.reads_body(key)).await;
        let (observed, failures, outcome, detail) = match self.rules.classify(key, &answer) {
            Verdict::Status(status, note) => (Some((status, note.clone())), 0, Outcome::Recorded(status), note),
            Verdict::Failure(note) => {
                let failures = target.consecutive_failures.saturating_add(1);
                if failures >= self.config.failures_before_unreachable {
                    let note = format!("{note} ({failures} failures in a row)");
                    let recorded = Outcome::Recorded(LinkStatus::Unreachable);
                    (Some((LinkStatus::Unreachable, note.clone())), failures, recorded, note)
                } else {
                    (None, failures, Outcome::Failed, note)
                }
            }
            Verdict::Inconclusive(note) => (None, 0, Outcome::Inconclusive, note),
        };
        let after = observed.as_ref().map_or(target.status, |(s, _)| *s);
        let reappeared = target.status.is_removed() && after == LinkStatus::Online;
        let now = timestamp::now();
        let next_due = now + if after.is_removed() { self.config.removed_every } else { self.config.interval };
        let worker = self.worker.as_str();
        let kept = doxwatch_kit::in_transaction!(self.db, LinksError, |tx| {
            if !recheck::release(&mut tx, target.link, worker, now, next_due, failures).await? {
                return Ok(false);
            }
            if let Some((status, note)) = &observed {
                let observation = Observation {
                    id: Uuid::now_v7(),
                    link: target.link,
                    status: *status,
                    observed_at: now,
                    vantage: self.config.vantage,
                    source: ObservationSource::AutomatedRecheck,
                    note: note.chars().take(MAX_NOTE_CHARS).collect(),
                    recorded_by: RECORDED_BY.to_owned(),
                    record_time: now,
                };
                links::insert_observations(&mut tx, self.db.keyring(), &[observation]).await?;
            }
            Ok(true)
        })?;
        let mut checked = Checked { link: target.link, url: target.url, outcome: None, detail, reappeared: false };
        if !kept {
            tracing::warn!("the claim expired before the check ended; another replica has the link");
            return Ok(checked);
        }
        self.metrics.rechecks.add(1, &[KeyValue::new("outcome", outcome.label())]);
        checked.outcome = Some(outcome);
        checked.reappeared = reappeared;
        Ok(checked)
    }
}
