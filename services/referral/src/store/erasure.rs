//! A case's erasure, as the referral service keeps it: the case is entered among the erased at
//! once, and its assessments' reasons, referral summaries and timeline details are emptied as
//! soon as no referral of it is still live. Assessments, referrals and their steps stay for the
//! figures.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, assessments, referrals};
use crate::domain::*;

/// Where the erasure of `case` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Intake has not erased the case (or has not told this service yet).
    NotErased,
    /// Erased in intake at this time, not here yet: a live referral holds what it was sent.
    Due(OffsetDateTime),
    /// Erased here too.
    Done,
}

pub async fn standing(tx: &mut Tx, case: CaseRef) -> Result<Standing, StoreError> {
    let row: Option<(Ts, Option<Ts>)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT erase_time, done_time FROM erased_cases WHERE case_name = $1")
            .bind(case.name())
            .fetch_optional(c)
            .await?
    });
    Ok(match row {
        None => Standing::NotErased,
        Some((erase_time, None)) => Standing::Due(erase_time.0),
        Some((_, Some(_))) => Standing::Done,
    })
}

/// Whether a referral of `case` has not ended (neither withdrawn nor given a final outcome).
pub async fn has_live_referral(tx: &mut Tx, case: CaseRef) -> Result<bool, StoreError> {
    let ending: Vec<i16> = ReferralStatus::ALL.iter().filter(|s| s.ends_referral()).map(|s| s.code() as i16).collect();
    let sql = format!(
        "SELECT r.id FROM referrals r WHERE r.case_name = $1 AND NOT EXISTS \
         (SELECT 1 FROM referral_events e WHERE e.referral_id = r.id AND e.status IN ({})) LIMIT 1",
        ending.iter().map(i16::to_string).collect::<Vec<_>>().join(", ")
    );
    let row: Option<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(case.name()).fetch_optional(c).await?
    });
    Ok(row.is_some())
}

/// What one erasure emptied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Erased {
    pub assessments: Vec<AssessmentId>,
    /// The referrals whose summary and timeline details were emptied.
    pub referrals: Vec<ReferralId>,
}

/// Empties the case's assessments' reasons, its referrals' summaries and their timelines'
/// details, and marks its erasure done.
pub async fn erase(tx: &mut Tx, keys: &Keyring, case: CaseRef, now: OffsetDateTime) -> Result<Erased, StoreError> {
    let ids: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM assessments WHERE case_name = $1").bind(case.name()).fetch_all(c).await?
    });
    for (id,) in &ids {
        let reason = keys.seal_text(assessments::REASON, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE assessments SET reason = $2 WHERE id = $1").bind(id).bind(&reason).execute(c).await?;
        });
    }
    let mut erased = Erased { assessments: ids.iter().map(|(id,)| AssessmentId(*id)).collect(), referrals: Vec::new() };
    let referrals: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM referrals WHERE case_name = $1").bind(case.name()).fetch_all(c).await?
    });
    for (id,) in referrals {
        let summary = keys.seal_text(referrals::SUMMARY, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE referrals SET summary = $2 WHERE id = $1").bind(id).bind(&summary).execute(c).await?;
        });
        referrals::erase_event_details(tx, keys, ReferralId(id)).await?;
        erased.referrals.push(ReferralId(id));
    }
    on_tx!(tx, c => {
        sqlx::query("UPDATE erased_cases SET done_time = $2 WHERE case_name = $1")
            .bind(case.name())
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(erased)
}
