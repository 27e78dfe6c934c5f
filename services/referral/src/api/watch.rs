//! One agency's watch stream: the feed after the client's cursor, in seq order, then new entries as
//! they are committed (woken at once by this replica's commits, and by polling for other
//! replicas'), heartbeats while idle, and an UNAVAILABLE end when the server shuts down.

use std::time::Duration;

use doxwatch_kit::{error::CauseChain, timestamp};
use doxwatch_proto::referral as pb;
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tonic::Status;

use crate::{convert, domain::*, service::Referrals};

/// Entries read from the store at once.
const BATCH: i64 = 100;

type Sender = mpsc::Sender<Result<pb::WatchReferralsResponse, Status>>;

pub struct Watcher {
    pub referrals: Referrals,
    pub agency: String,
    pub heartbeat: Duration,
    pub poll: Duration,
    pub stopping: watch::Receiver<bool>,
}

fn entry_message(
    seq: i64,
    kind: FeedEntryKind,
    record_time: time::OffsetDateTime,
    referral: &Referral,
) -> pb::WatchReferralsResponse {
    pb::WatchReferralsResponse {
        message: Some(pb::watch_referrals_response::Message::Entry(pb::FeedEntry {
            cursor: seq.to_string(),
            kind: kind.code(),
            referral: Some(convert::referral_out(referral)),
            record_time: Some(timestamp::to_proto(record_time)),
        })),
    }
}

fn heartbeat_message(cursor: i64) -> pb::WatchReferralsResponse {
    pb::WatchReferralsResponse {
        message: Some(pb::watch_referrals_response::Message::Heartbeat(pb::Heartbeat {
            cursor: if cursor == 0 { String::new() } else { cursor.to_string() },
            time: Some(timestamp::to_proto(timestamp::now())),
        })),
    }
}

fn shutting_down() -> Status {
    Status::unavailable("the server is shutting down; resume after your last cursor")
}

impl Watcher {
    /// Streams the feed after `cursor` into `tx` until the client goes away or the server stops.
    #[tracing::instrument(skip_all, fields(agency = %self.agency, after = cursor))]
    pub async fn run(mut self, mut cursor: i64, tx: Sender) {
        let mut changes = self.referrals.feed_changes();
        let mut last_sent = Instant::now();
        loop {
            if *self.stopping.borrow() {
                let _ = tx.send(Err(shutting_down())).await;
                return;
            }
            // Marks the feed as read up to now before reading, so that a commit made while this
            // batch is sent wakes the stream again.
            changes.borrow_and_update();
            let batch = match self.referrals.feed_after(&self.agency, cursor, BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %CauseChain(&e), "cannot read the feed");
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            let full = batch.len() as i64 == BATCH;
            for (entry, referral) in batch {
                if tx.send(Ok(entry_message(entry.seq, entry.kind, entry.record_time, &referral))).await.is_err() {
                    return;
                }
                cursor = entry.seq;
                last_sent = Instant::now();
                let first_delivery = entry.kind == FeedEntryKind::Referred
                    && referral.is_live()
                    && referral.recorded(ReferralStatus::Delivered).is_none();
                if first_delivery && let Err(e) = self.referrals.mark_delivered(&self.agency, referral.id).await {
                    tracing::warn!(referral = %referral.id, error = %CauseChain(&e), "cannot record the delivery");
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep(self.poll).await;
                    }
                }
                _ = tokio::time::sleep(self.poll) => {}
                _ = tokio::time::sleep_until(last_sent + self.heartbeat) => {
                    if tx.send(Ok(heartbeat_message(cursor))).await.is_err() {
                        return;
                    }
                    last_sent = Instant::now();
                }
                stopped = self.stopping.changed() => {
                    if stopped.is_err() {
                        let _ = tx.send(Err(shutting_down())).await;
                        return;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    }
}
