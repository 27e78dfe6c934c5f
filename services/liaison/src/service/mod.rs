//! Liaison's use cases. Reads of link-tracking happen before the transaction; each change, its
//! timeline entry, its effects on link-tracking and its request-id record commit together.

mod contacts;
mod erasure;
mod events;
mod follow_ups;
mod letters;
mod notices;
mod replies;
mod statistics;

use doxwatch_proto::liaison::ErrorReason;
use std::sync::Arc;

use doxwatch_kit::{
    actor::Actor,
    db::{Db, Tx},
    outbox::{self, Effect},
    reference::ReferenceScheme,
    sealing::Keyring,
};
use time::OffsetDateTime;
use tokio::sync::Notify;

pub use self::{
    letters::{Letter, LetterFormat},
    notices::{Draft, DraftField, NoticeFilter},
    replies::Reply,
};
use crate::{domain::*, error::LiaisonError, links::LinkTracking, store};

macro_rules! idempotent {
    ($self:ident, $key:expr, |$tx:ident| $body:expr) => {
        doxwatch_kit::idempotent!($self.db, LiaisonError, $key, |$tx| $body)
    };
}
pub(crate) use idempotent;

#[derive(Clone)]
pub struct Liaison {
    db: Db,
    links: LinkTracking,
    periods: CompliancePeriods,
    relay: Arc<Notify>,
    references: ReferenceScheme,
}

/// The counter series of notice reference numbers.
const REFERENCE_SERIES: &str = "notices";

fn precondition(reason: ErrorReason, message: String) -> LiaisonError {
    LiaisonError::Common(doxwatch_kit::error::Error::precondition(reason.as_str_name(), message))
}

fn event(
    kind: NoticeEventKind,
    actor: &Actor,
    occurred_at: OffsetDateTime,
    now: OffsetDateTime,
    note: String,
) -> NoticeEvent {
    NoticeEvent { kind, actor: actor.name(), occurred_at, record_time: now, note }
}

async fn enqueue_all(tx: &mut Tx, keys: &Keyring, effects: Vec<Effect>) -> Result<bool, LiaisonError> {
    let any = !effects.is_empty();
    for effect in effects {
        outbox::enqueue(tx, keys, effect).await?;
    }
    Ok(any)
}

impl Liaison {
    pub fn new(
        db: Db,
        links: LinkTracking,
        periods: CompliancePeriods,
        relay: Arc<Notify>,
        references: ReferenceScheme,
    ) -> Self {
        Self { db, links, periods, relay, references }
    }

    /// The next notice reference number of the year `at` falls in, taken in `tx`.
    async fn next_reference(&self, tx: &mut Tx, at: OffsetDateTime) -> Result<String, LiaisonError> {
        let year = self.references.year_of(at);
        let number = doxwatch_kit::reference::next_number(tx, REFERENCE_SERIES, year).await?;
        Ok(self.references.render(year, number))
    }

    /// Loads a notice inside `tx`, locked for a change.
    async fn locked(&self, tx: &mut Tx, id: NoticeId) -> Result<Notice, LiaisonError> {
        if !store::notices::lock(tx, id).await? {
            return Err(LiaisonError::not_found(id.name()));
        }
        self.loaded(tx, id).await
    }

    /// Loads a notice inside `tx`.
    async fn loaded(&self, tx: &mut Tx, id: NoticeId) -> Result<Notice, LiaisonError> {
        store::notices::get(tx, self.db.keyring(), id).await?.ok_or_else(|| LiaisonError::not_found(id.name()))
    }
}
