//! A delivery's outcome on its way from the delivery to the relay's one recorder, which writes
//! the outcomes that end together in one transaction.

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Message, relay::DeliveryOutcome};

/// A delivery's outcome on its way to the recorder, and the delivery waiting for it to be written.
pub(super) struct Finished {
    pub seq: i64,
    pub id: Uuid,
    pub peer: String,
    pub attempts: i32,
    pub outcome: DeliveryOutcome,
    /// Whether the outcome was written.
    pub written: oneshot::Sender<bool>,
}

impl Finished {
    /// Hands `message`'s outcome to the recorder and waits until it is written.
    pub async fn send(recorder: &mpsc::UnboundedSender<Self>, message: &Message, outcome: DeliveryOutcome) {
        let (written, answer) = oneshot::channel();
        let finished = Self {
            seq: message.seq,
            id: message.id,
            peer: message.peer.clone(),
            attempts: message.attempts,
            outcome,
            written,
        };
        // The recorder outlives every delivery (the relay waits for them before it lets it go), so
        // a refused send or a dropped answer means an outcome that was not written.
        if recorder.send(finished).is_err() || !answer.await.unwrap_or(false) {
            tracing::debug!(
                "the outcome of an outbox delivery was not recorded; it goes again when its claim runs out"
            );
        }
    }
}
