//! Referring a case, listing referrals and withdrawing one: the assessment and the one-live-
//! referral rule checked, the evidence bundle frozen, the agency's feed and the case in intake
//! told.

use doxwatch_kit::{
    actor::Actor,
    audit::{self, Access},
    idempotency::RequestKey,
    timestamp,
};
use doxwatch_proto::referral::ErrorReason;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{REFERRAL_FIELDS, Referrals, enqueue_on_case, idempotent, precondition};
use crate::{domain::*, error::ReferralError, store};

/// A referral as CreateReferral carries it, already checked for form.
#[derive(Debug, Clone)]
pub struct ReferralDraft {
    pub case: Option<CaseRef>,
    pub assessment: AssessmentId,
    pub referred_at: OffsetDateTime,
    pub agency: String,
    pub summary: String,
}

/// Why a referral cannot be made from `assessment` (or `live`, the case's live referral), if so.
fn refusal(assessment: &Assessment, live: Option<ReferralId>) -> Option<ReferralError> {
    if let Some(by) = assessment.superseded_by {
        return Some(precondition(
            ErrorReason::AssessmentSuperseded,
            format!(
                "{} was superseded by {}: refer from the case's current assessment",
                assessment.id.name(),
                by.name()
            ),
        ));
    }
    if assessment.decision != Decision::ReferToPolice {
        return Some(precondition(
            ErrorReason::NotReferToPolice,
            format!("{} decided {}, not REFER_TO_POLICE", assessment.id.name(), decision_label(assessment.decision)),
        ));
    }
    live.map(|live| {
        precondition(
            ErrorReason::LiveReferralExists,
            format!("{} already has a live referral, {}", assessment.case.name(), live.name()),
        )
    })
}

/// How GetReferral names a referral: by id, or by its reference number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferralKey {
    Id(ReferralId),
    /// As [`doxwatch_kit::reference::normalize`] writes it.
    Reference(String),
}

impl ReferralKey {
    /// Reads `referrals/{id}` or `referrals/{reference}`; `None` (with the violation added) for
    /// anything else.
    pub fn parse(v: &mut doxwatch_kit::error::FieldViolations, field: &str, name: &str) -> Option<Self> {
        match name.strip_prefix("referrals/").and_then(doxwatch_kit::reference::normalize) {
            Some(reference) => Some(Self::Reference(reference)),
            None => crate::convert::name(v, field, name, ReferralId::parse_name).map(Self::Id),
        }
    }

    /// The name as the caller gave it, for a NOT_FOUND.
    pub fn name(&self) -> String {
        match self {
            Self::Id(id) => id.name(),
            Self::Reference(r) => format!("referrals/{r}"),
        }
    }
}

impl Referrals {
    #[tracing::instrument(skip_all, fields(assessment = %draft.assessment, agency = %draft.agency))]
    pub async fn create_referral<R: Message + Default>(
        &self,
        actor: &Actor,
        draft: ReferralDraft,
        key: Option<RequestKey>,
        respond: impl Fn(&Referral) -> R,
    ) -> Result<R, ReferralError> {
        if let Some(first) = self.replayed(key.as_ref()).await? {
            return Ok(first);
        }
        if !self.agencies.contains(&draft.agency) {
            return Err(ReferralError::field(
                "referral.agency",
                format!("must be one of {}", self.agencies.join(", ")),
            ));
        }
        let (assessment, live) = {
            let mut tx = self.db.begin_read().await?;
            let Some(assessment) = store::assessments::get(&mut tx, self.db.keyring(), draft.assessment).await? else {
                return Err(ReferralError::field(
                    "referral.assessment",
                    format!("{} is not a known assessment", draft.assessment.name()),
                ));
            };
            let live = store::referrals::live_for_case(&mut tx, assessment.case).await?;
            (assessment, live)
        };
        let case = assessment.case;
        if draft.case.is_some_and(|c| c != case) {
            return Err(ReferralError::field(
                "referral.case",
                format!("must be the assessment's case, {}", case.name()),
            ));
        }
        if let Some(refused) = refusal(&assessment, live) {
            return Err(refused);
        }
        if draft.referred_at < assessment.assessed_at {
            return Err(ReferralError::field(
                "referral.referred_at",
                format!("must not be before the assessment ({})", rfc3339(assessment.assessed_at)),
            ));
        }
        // Intake is not read: the case existed when it was assessed, its received_at (immutable
        // there) was read then, and the move to REFERRED goes through the outbox, so that a
        // referral can be made while intake is down.
        let bundle = self.links.bundle(case).await?;
        let response = idempotent!(self, key, |tx| {
            store::lock_case(&mut tx, case).await?;
            super::erasure::refuse_if_erased(&mut tx, case).await?;
            let before = store::rollups::history(&mut tx, self.db.keyring(), case).await?;
            let Some(assessment) = store::assessments::get(&mut tx, self.db.keyring(), draft.assessment).await? else {
                return Err(ReferralError::not_found(draft.assessment.name()));
            };
            if let Some(refused) = refusal(&assessment, store::referrals::live_for_case(&mut tx, case).await?) {
                return Err(refused);
            }
            let now = timestamp::now();
            let referral = Referral {
                id: ReferralId::new(),
                reference: self.next_reference(&mut tx, draft.referred_at).await?,
                case,
                assessment: assessment.id,
                agency: draft.agency.clone(),
                referred_at: draft.referred_at,
                summary: draft.summary.clone(),
                case_received_at: assessment.case_received_at,
                bundle: bundle.clone(),
                events: vec![ReferralEvent {
                    status: ReferralStatus::Pending,
                    occurred_at: draft.referred_at,
                    record_time: now,
                    actor: actor.name(),
                    agency_reference: String::new(),
                    details: OutcomeDetails::default(),
                }],
                created_by: actor.name(),
                create_time: now,
            };
            store::referrals::insert(&mut tx, self.db.keyring(), &referral).await?;
            store::rollups::count(&mut tx, &before, &before.with_referral(&referral), now).await?;
            let note = format!("referred to {} ({})", referral.agency, referral.id.name());
            enqueue_on_case(&mut tx, self.db.keyring(), case, vec![CaseEffect::ToReferred { note }], draft.referred_at)
                .await?;
            store::feed::append(&mut tx, &referral.agency, referral.id, FeedEntryKind::Referred, now).await?;
            audit::record(&mut tx, Access::Write, &[referral.id.name()], REFERRAL_FIELDS).await?;
            Ok(respond(&referral))
        })?;
        self.relay.notify_one();
        self.feed_grew();
        Ok(response)
    }

    pub async fn get_referral(&self, key: ReferralKey) -> Result<Referral, ReferralError> {
        // A write transaction: the read and its audit record commit together, or neither happens.
        let mut tx = self.db.begin().await?;
        let id = match &key {
            ReferralKey::Id(id) => Some(*id),
            ReferralKey::Reference(r) => store::referrals::with_reference(&mut tx, r).await?,
        };
        let found = match id {
            Some(id) => store::referrals::get(&mut tx, self.db.keyring(), id).await?,
            None => None,
        };
        let referral = found.ok_or_else(|| ReferralError::not_found(key.name()))?;
        let id = referral.id;
        audit::record(&mut tx, Access::Read, &[id.name()], REFERRAL_FIELDS).await?;
        tx.commit().await?;
        Ok(referral)
    }

    /// A referral's timeline in business-time order.
    pub async fn events(&self, id: ReferralId) -> Result<Vec<ReferralEvent>, ReferralError> {
        let referral = self.get_referral(ReferralKey::Id(id)).await?;
        Ok(referral.timeline().into_iter().cloned().collect())
    }

    /// A page of referrals in id order matching `filter` and, when given, with `status` now.
    pub async fn list_referrals(
        &self,
        filter: &store::referrals::Filter,
        status: Option<ReferralStatus>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Referral>, ReferralError> {
        let mut tx = self.db.begin().await?;
        let now = AsAt::now(timestamp::now());
        let mut out = Vec::new();
        let mut cursor = after;
        // The status is derived, so it is filtered here, a batch at a time.
        loop {
            let ids = store::referrals::ids(&mut tx, filter, cursor, 500).await?;
            let Some(last) = ids.last().copied() else { break };
            cursor = Some(last.0);
            for referral in store::referrals::load(&mut tx, self.db.keyring(), &ids, true).await? {
                if status.is_none_or(|s| referral.status_as_at(now) == s) && out.len() < limit as usize {
                    out.push(referral);
                }
            }
            if ids.len() < 500 || out.len() >= limit as usize {
                break;
            }
        }
        if !out.is_empty() {
            let names: Vec<String> = out.iter().map(|r| r.id.name()).collect();
            audit::record(&mut tx, Access::Read, &names, REFERRAL_FIELDS).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Withdraws a referral the agency has not acknowledged; the case goes back to
    /// UNDER_ASSESSMENT and the agency's feed says so.
    #[tracing::instrument(skip_all, fields(referral = %id))]
    pub async fn withdraw<R: Message + Default>(
        &self,
        actor: &Actor,
        id: ReferralId,
        reason: String,
        occurred_at: Option<OffsetDateTime>,
        key: Option<RequestKey>,
        respond: impl Fn(&Referral) -> R,
    ) -> Result<R, ReferralError> {
        let case = self.get_referral(ReferralKey::Id(id)).await?.case;
        let response = idempotent!(self, key, |tx| {
            store::lock_case(&mut tx, case).await?;
            let before = store::rollups::history(&mut tx, self.db.keyring(), case).await?;
            store::referrals::lock(&mut tx, id).await?;
            let Some(mut referral) = store::referrals::get(&mut tx, self.db.keyring(), id).await? else {
                return Err(ReferralError::not_found(id.name()));
            };
            if !referral.is_live() {
                return Err(precondition(ErrorReason::Withdrawn, format!("{} was already withdrawn", id.name())));
            }
            if let Some(ack) = referral.recorded(ReferralStatus::Acknowledged) {
                return Err(precondition(
                    ErrorReason::Acknowledged,
                    format!(
                        "{} was acknowledged by {} ({}): it can no longer be withdrawn",
                        id.name(),
                        referral.agency,
                        ack.agency_reference
                    ),
                ));
            }
            let now = timestamp::now();
            let at = occurred_at.unwrap_or(now);
            if at < referral.referred_at {
                return Err(ReferralError::field(
                    "occurred_at",
                    format!("must not be before the referral was made ({})", rfc3339(referral.referred_at)),
                ));
            }
            let event = ReferralEvent {
                status: ReferralStatus::Withdrawn,
                occurred_at: at,
                record_time: now,
                actor: actor.name(),
                agency_reference: String::new(),
                details: OutcomeDetails { reason: reason.clone(), ..OutcomeDetails::default() },
            };
            store::referrals::append_event(&mut tx, self.db.keyring(), id, &event).await?;
            store::rollups::count(&mut tx, &before, &before.with_step(id, &event), now).await?;
            referral.events.push(event);
            let note = format!("referral {} to {} withdrawn: {reason}", id.name(), referral.agency);
            enqueue_on_case(&mut tx, self.db.keyring(), case, vec![CaseEffect::ToUnderAssessment { note }], at).await?;
            store::feed::append(&mut tx, &referral.agency, id, FeedEntryKind::Withdrawn, now).await?;
            // A case erased while this referral held it is erased now.
            super::erasure::erase_unless_held(&mut tx, self.db.keyring(), case).await?;
            Ok(respond(&referral))
        })?;
        self.relay.notify_one();
        self.feed_grew();
        Ok(response)
    }
}
