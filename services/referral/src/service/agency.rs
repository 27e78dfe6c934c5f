//! What an agency does with the referrals addressed to it: read its feed, take delivery,
//! acknowledge, and report outcomes, each of which becomes a note on the case in intake. A referral
//! addressed to another agency is NOT_FOUND, as if it did not exist.

use doxwatch_kit::{
    audit::{self, Access},
    idempotency::RequestKey,
    timestamp,
};
use doxwatch_proto::referral::ErrorReason;
use prost::Message;
use time::OffsetDateTime;

use super::{ReferralKey, Referrals, enqueue_on_case, idempotent, precondition};
use crate::{
    domain::*,
    error::ReferralError,
    store::{self, feed::FeedEntry},
};

/// An outcome as ReportOutcome carries it, already checked for form.
#[derive(Debug, Clone)]
pub struct OutcomeReport {
    pub outcome: ReferralStatus,
    pub occurred_at: OffsetDateTime,
    pub details: OutcomeDetails,
}

/// The note an outcome leaves on the case's timeline.
fn outcome_note(referral: &Referral, report: &OutcomeReport) -> String {
    let reference =
        referral.recorded(ReferralStatus::Acknowledged).map(|a| a.agency_reference.as_str()).unwrap_or_default();
    let mut note = format!(
        "{} reported {} on {} (reference {reference})",
        referral.agency,
        report.outcome.label(),
        referral.id.name()
    );
    for (label, text) in [
        ("offence", &report.details.offence),
        ("sentence", &report.details.sentence),
        ("reason", &report.details.reason),
        ("note", &report.details.note),
    ] {
        if !text.is_empty() {
            note.push_str(&format!("; {label}: {text}"));
        }
    }
    note
}

impl Referrals {
    /// A referral addressed to `agency`, loaded and locked inside `tx`.
    async fn addressed(
        tx: &mut doxwatch_kit::db::Tx,
        keys: &doxwatch_kit::sealing::Keyring,
        agency: &str,
        id: ReferralId,
    ) -> Result<Referral, ReferralError> {
        store::referrals::lock(tx, id).await?;
        match store::referrals::get(tx, keys, id).await? {
            Some(referral) if referral.agency == agency => Ok(referral),
            _ => Err(ReferralError::not_found(id.name())),
        }
    }

    pub async fn get_for_agency(&self, agency: &str, key: ReferralKey) -> Result<Referral, ReferralError> {
        let name = key.name();
        match self.get_referral(key).await {
            Ok(referral) if referral.agency == agency => Ok(referral),
            Ok(_) => Err(ReferralError::not_found(name)),
            Err(e) => Err(e),
        }
    }

    /// Up to `limit` entries of the agency's feed after `seq`, each with its referral as it stands.
    pub async fn feed_after(
        &self,
        agency: &str,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(FeedEntry, Referral)>, ReferralError> {
        let entries = store::feed::after(&self.db, agency, seq, limit).await?;
        let ids: Vec<ReferralId> = entries.iter().map(|e| e.referral).collect();
        let mut tx = self.db.begin().await?;
        let referrals = store::referrals::load(&mut tx, self.db.keyring(), &ids, true).await?;
        if !referrals.is_empty() {
            let names: Vec<String> = referrals.iter().map(|r| r.id.name()).collect();
            audit::record(&mut tx, Access::Read, &names, super::REFERRAL_FIELDS).await?;
        }
        tx.commit().await?;
        entries
            .into_iter()
            .map(|entry| {
                let referral = referrals.iter().find(|r| r.id == entry.referral).cloned();
                referral
                    .map(|r| (entry, r))
                    .ok_or_else(|| ReferralError::not_found("a referral of the feed".to_owned()))
            })
            .collect()
    }

    /// Records that the agency's watch stream sent the referral, the first time it does.
    pub async fn mark_delivered(&self, agency: &str, id: ReferralId) -> Result<(), ReferralError> {
        doxwatch_kit::in_transaction!(self.db, ReferralError, |tx| {
            let referral = Self::addressed(&mut tx, self.db.keyring(), agency, id).await?;
            if referral.recorded(ReferralStatus::Delivered).is_none() && referral.is_live() {
                let now = timestamp::now();
                let event = ReferralEvent {
                    status: ReferralStatus::Delivered,
                    occurred_at: now,
                    record_time: now,
                    actor: agency_actor(agency),
                    agency_reference: String::new(),
                    details: OutcomeDetails::default(),
                };
                store::referrals::append_event(&mut tx, self.db.keyring(), id, &event).await?;
            }
            Ok(())
        })
    }

    #[tracing::instrument(skip_all, fields(referral = %id, agency))]
    pub async fn acknowledge<R: Message + Default>(
        &self,
        agency: &str,
        id: ReferralId,
        reference: String,
        acknowledged_at: Option<OffsetDateTime>,
        key: Option<RequestKey>,
        respond: impl Fn(&Referral) -> R,
    ) -> Result<R, ReferralError> {
        // The case's lock comes first, as in every change of a case's referrals.
        let case = self.get_for_agency(agency, ReferralKey::Id(id)).await?.case;
        idempotent!(self, key, |tx| {
            store::lock_case(&mut tx, case).await?;
            let before = store::rollups::history(&mut tx, self.db.keyring(), case).await?;
            let mut referral = Self::addressed(&mut tx, self.db.keyring(), agency, id).await?;
            if let Some(ack) = referral.recorded(ReferralStatus::Acknowledged) {
                if ack.agency_reference == reference {
                    return Ok(respond(&referral));
                }
                return Err(precondition(
                    ErrorReason::AlreadyAcknowledged,
                    format!("{} was already acknowledged with reference {:?}", id.name(), ack.agency_reference),
                ));
            }
            if !referral.is_live() {
                return Err(precondition(
                    ErrorReason::Withdrawn,
                    format!("{} was withdrawn by the regulator", id.name()),
                ));
            }
            let now = timestamp::now();
            let at = acknowledged_at.unwrap_or(now);
            if at < referral.referred_at {
                return Err(ReferralError::field(
                    "acknowledged_at",
                    format!("must not be before the referral was made ({})", rfc3339(referral.referred_at)),
                ));
            }
            let event = ReferralEvent {
                status: ReferralStatus::Acknowledged,
                occurred_at: at,
                record_time: now,
                actor: agency_actor(agency),
                agency_reference: reference.clone(),
                details: OutcomeDetails::default(),
            };
            store::referrals::append_event(&mut tx, self.db.keyring(), id, &event).await?;
            store::rollups::count(&mut tx, &before, &before.with_step(id, &event), now).await?;
            referral.events.push(event);
            Ok(respond(&referral))
        })
    }

    #[tracing::instrument(skip_all, fields(referral = %id, agency, outcome = ?report.outcome))]
    pub async fn report_outcome<R: Message + Default>(
        &self,
        agency: &str,
        id: ReferralId,
        report: OutcomeReport,
        key: Option<RequestKey>,
        respond: impl Fn(&Referral) -> R,
    ) -> Result<R, ReferralError> {
        // The case's lock comes first, as in every change of a case's referrals.
        let case = self.get_for_agency(agency, ReferralKey::Id(id)).await?.case;
        let response = idempotent!(self, key, |tx| {
            store::lock_case(&mut tx, case).await?;
            let before = store::rollups::history(&mut tx, self.db.keyring(), case).await?;
            let mut referral = Self::addressed(&mut tx, self.db.keyring(), agency, id).await?;
            let same = referral
                .recorded(report.outcome)
                .is_some_and(|e| e.occurred_at == report.occurred_at && e.details == report.details);
            if same {
                return Ok(respond(&referral));
            }
            match check_outcome(&referral, report.outcome, report.occurred_at) {
                Ok(()) => {}
                Err(OutcomeRefusal::Withdrawn) => {
                    return Err(precondition(
                        ErrorReason::Withdrawn,
                        format!("{} was withdrawn by the regulator", id.name()),
                    ));
                }
                Err(OutcomeRefusal::NotAcknowledged) => {
                    return Err(precondition(
                        ErrorReason::NotAcknowledged,
                        format!("{} must be acknowledged before outcomes are reported", id.name()),
                    ));
                }
                Err(OutcomeRefusal::OutOfOrder(why)) => return Err(precondition(ErrorReason::OutcomeOutOfOrder, why)),
            }
            let now = timestamp::now();
            let event = ReferralEvent {
                status: report.outcome,
                occurred_at: report.occurred_at,
                record_time: now,
                actor: agency_actor(agency),
                agency_reference: String::new(),
                details: report.details.clone(),
            };
            store::referrals::append_event(&mut tx, self.db.keyring(), id, &event).await?;
            store::rollups::count(&mut tx, &before, &before.with_step(id, &event), now).await?;
            referral.events.push(event);
            let note = outcome_note(&referral, &report);
            enqueue_on_case(
                &mut tx,
                self.db.keyring(),
                referral.case,
                vec![CaseEffect::Note(note)],
                report.occurred_at,
            )
            .await?;
            if report.outcome.ends_referral() {
                // A case erased while this referral held it is erased now.
                super::erasure::erase_unless_held(&mut tx, self.db.keyring(), referral.case).await?;
            }
            Ok(respond(&referral))
        })?;
        self.relay.notify_one();
        Ok(response)
    }
}
