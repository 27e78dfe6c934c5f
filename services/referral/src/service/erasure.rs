//! Erasure of a case intake has erased. What the referral service holds of it (assessments'
//! reasons, referral summaries, what the agency's outcomes say) is emptied at once, unless a live
//! referral holds it for the agency: then in the transaction that ends that referral. Once it is
//! emptied here, link-tracking is asked, through the outbox, to erase the case's evidence.

use doxwatch_kit::{
    audit::{self, Access},
    db::Tx,
    idempotency::{self, RequestKey},
    outbox,
    sealing::Keyring,
    timestamp,
};
use prost::Message;
use time::OffsetDateTime;

use super::{Referrals, idempotent};
use crate::{
    domain::*,
    effects,
    error::ReferralError,
    store::{self, erasure::Standing},
};

/// The personal-data fields an erasure empties, as its audit record names them.
const ERASED_FIELDS: &[&str] = &["summary", "assessment_reasons", "outcome_details"];

/// What an erasure request did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaseErasure {
    /// A live referral holds the case's data: it is erased when the referral ends.
    pub held: bool,
    pub assessments: usize,
    pub referrals: usize,
}

impl Referrals {
    /// Records that intake erased `case`, and erases what this service holds of it unless a live
    /// referral holds it.
    #[tracing::instrument(skip_all, fields(case = %case))]
    pub async fn erase_case_data<R: Message + Default>(
        &self,
        case: CaseRef,
        erase_time: OffsetDateTime,
        key: Option<RequestKey>,
        respond: impl Fn(&CaseErasure) -> R,
    ) -> Result<R, ReferralError> {
        let response = idempotent!(self, key, |tx| {
            store::lock_case(&mut tx, case).await?;
            doxwatch_kit::erasure::record_case(&mut tx, &case.name(), erase_time, timestamp::now()).await?;
            let done = erase_unless_held(&mut tx, self.db.keyring(), case).await?;
            tracing::info!(held = done.held, assessments = done.assessments, referrals = done.referrals, "case erased");
            Ok(respond(&done))
        })?;
        self.relay.notify_one();
        Ok(response)
    }
}

/// The refusal of new personal data about an erased case.
pub(super) fn erased(case: CaseRef) -> ReferralError {
    super::precondition(
        doxwatch_proto::referral::ErrorReason::CaseErased,
        format!("the personal data of {} was erased; record a new case instead", case.name()),
    )
}

/// Refuses new personal data about `case` once its erasure has reached this service.
pub(super) async fn refuse_if_erased(tx: &mut Tx, case: CaseRef) -> Result<(), ReferralError> {
    match store::erasure::standing(tx, case).await? {
        Standing::NotErased => Ok(()),
        Standing::Due(_) | Standing::Done => Err(erased(case)),
    }
}

/// Erases what this service holds of `case` if intake erased it and no live referral holds it:
/// called by the erasure request, and by every change that ends a referral (in its transaction,
/// under the case's lock).
pub(super) async fn erase_unless_held(
    tx: &mut Tx,
    keys: &Keyring,
    case: CaseRef,
) -> Result<CaseErasure, ReferralError> {
    let erase_time = match store::erasure::standing(tx, case).await? {
        Standing::NotErased | Standing::Done => return Ok(CaseErasure::default()),
        Standing::Due(erase_time) => erase_time,
    };
    if store::erasure::has_live_referral(tx, case).await? {
        return Ok(CaseErasure { held: true, ..CaseErasure::default() });
    }
    let erased = store::erasure::erase(tx, keys, case, timestamp::now()).await?;
    let mut names = vec![case.name()];
    names.extend(erased.assessments.iter().map(|a| a.name()));
    names.extend(erased.referrals.iter().map(|r| r.name()));
    for name in &names {
        idempotency::forget_answers_naming(tx, keys, name).await?;
    }
    outbox::enqueue(tx, keys, effects::erase_evidence(case, erase_time)).await?;
    audit::record(tx, Access::Write, &names, ERASED_FIELDS).await?;
    Ok(CaseErasure { held: false, assessments: erased.assessments.len(), referrals: erased.referrals.len() })
}
