//! The referral service's use cases. Reads of intake and link-tracking happen before the
//! transaction; each change, its timeline entry, its feed entry, its effects on intake and its
//! request-id record commit together.

mod agency;
mod assessments;
mod erasure;
mod referrals;

use doxwatch_proto::referral::ErrorReason;
use std::sync::Arc;

use doxwatch_kit::{
    db::{Db, Tx},
    idempotency::{self, RequestKey},
    outbox,
    reference::ReferenceScheme,
};
use prost::Message;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// The personal-data fields of a referral, as its audit records name them: the summary the
/// officer wrote and the frozen evidence bundle.
pub const REFERRAL_FIELDS: &[&str] = &["summary", "evidence_bundle"];

pub use self::{
    agency::OutcomeReport,
    assessments::AssessmentDraft,
    erasure::CaseErasure,
    referrals::{ReferralDraft, ReferralKey},
};
use crate::{domain::*, effects, error::ReferralError, intake::Intake, links::LinkTracking, store};

macro_rules! idempotent {
    ($self:ident, $key:expr, |$tx:ident| $body:expr) => {
        doxwatch_kit::idempotent!($self.db, ReferralError, $key, |$tx| $body)
    };
}
pub(crate) use idempotent;

#[derive(Clone)]
pub struct Referrals {
    db: Db,
    intake: Intake,
    links: LinkTracking,
    /// The agencies referrals may be made to, upper case.
    agencies: Arc<[String]>,
    relay: Arc<Notify>,
    /// Bumped after every commit that adds feed entries, to wake this replica's watchers.
    feed: Arc<watch::Sender<u64>>,
    references: ReferenceScheme,
}

/// The counter series of referral reference numbers.
const REFERENCE_SERIES: &str = "referrals";

fn precondition(reason: ErrorReason, message: String) -> ReferralError {
    ReferralError::Common(doxwatch_kit::error::Error::precondition(reason.as_str_name(), message))
}

async fn enqueue_on_case(
    tx: &mut Tx,
    keys: &doxwatch_kit::sealing::Keyring,
    case: CaseRef,
    effects: Vec<CaseEffect>,
    at: OffsetDateTime,
) -> Result<(), ReferralError> {
    for effect in effects {
        outbox::enqueue(tx, keys, effects::on_case(case, effect, at)).await?;
    }
    Ok(())
}

impl Referrals {
    pub fn new(
        db: Db,
        intake: Intake,
        links: LinkTracking,
        agencies: Vec<String>,
        relay: Arc<Notify>,
        references: ReferenceScheme,
    ) -> Self {
        let (feed, _) = watch::channel(0);
        Self { db, intake, links, agencies: agencies.into(), relay, feed: Arc::new(feed), references }
    }

    /// The next referral reference number of the year `at` falls in, taken in `tx`.
    async fn next_reference(&self, tx: &mut Tx, at: OffsetDateTime) -> Result<String, ReferralError> {
        let year = self.references.year_of(at);
        let number = doxwatch_kit::reference::next_number(tx, REFERENCE_SERIES, year).await?;
        Ok(self.references.render(year, number))
    }

    pub fn agencies(&self) -> &[String] {
        &self.agencies
    }

    /// A receiver that changes whenever this replica commits feed entries.
    pub fn feed_changes(&self) -> watch::Receiver<u64> {
        self.feed.subscribe()
    }

    fn feed_grew(&self) {
        self.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The first response to `key`, if the request was already made: checked before the reads of
    /// peers, so that a retry is answered even while a peer is down.
    async fn replayed<R: Message + Default>(&self, key: Option<&RequestKey>) -> Result<Option<R>, ReferralError> {
        let Some(key) = key else { return Ok(None) };
        let mut tx = self.db.begin_read().await?;
        Ok(idempotency::replay(&mut tx, self.db.keyring(), key).await?)
    }

    /// Where the case will stand once this service's effects still on their way have arrived:
    /// intake's answer, unless it cannot yet reflect them.
    async fn standing(
        &self,
        case: CaseRef,
        told: CaseStanding,
        current: Option<&Assessment>,
    ) -> Result<CaseStanding, ReferralError> {
        let pending = outbox::is_pending(&self.db, &case.name()).await?;
        let stale = pending || (told == CaseStanding::Received && current.is_some());
        if !stale {
            return Ok(told);
        }
        let mut tx = self.db.begin_read().await?;
        if store::referrals::live_for_case(&mut tx, case).await?.is_some() {
            return Ok(CaseStanding::Referred);
        }
        Ok(match current {
            Some(a) if a.decision == Decision::NoFurtherAction => CaseStanding::Closed,
            Some(_) => CaseStanding::UnderAssessment,
            None => told,
        })
    }

    /// Builds the figures' sums from the cases' rows if the store has not got them yet (a store
    /// migrated with assessments in it): once, whichever replica starts first.
    pub async fn build_figures(&self) -> Result<bool, ReferralError> {
        let mut tx = self.db.begin().await?;
        let built = store::rollups::build_if_unbuilt(&mut tx, self.db.keyring()).await?;
        tx.commit().await?;
        Ok(built)
    }

    /// The figures as at `t`, from their sums.
    pub async fn figures(&self, t: AsAt) -> Result<ReferralFigures, ReferralError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::rollups::figures(&mut tx, t, &self.agencies).await?)
    }
}
