//! Assessing a case: the decision checked against the criteria, the case checked with intake, the
//! case's current assessment superseded, and the case moved in intake.

use doxwatch_kit::{actor::Actor, idempotency::RequestKey, timestamp};
use doxwatch_proto::referral::ErrorReason;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Referrals, enqueue_on_case, idempotent, precondition};
use crate::{domain::*, error::ReferralError, store};

/// An assessment as CreateAssessment carries it, already checked for form.
#[derive(Debug, Clone)]
pub struct AssessmentDraft {
    pub case: CaseRef,
    pub criteria: Criteria,
    pub decision: Decision,
    pub reason: String,
    pub assessed_at: OffsetDateTime,
}

impl Referrals {
    #[tracing::instrument(skip_all, fields(case = %draft.case, decision = ?draft.decision))]
    pub async fn create_assessment<R: Message + Default>(
        &self,
        actor: &Actor,
        draft: AssessmentDraft,
        key: Option<RequestKey>,
        respond: impl Fn(&Assessment) -> R,
    ) -> Result<R, ReferralError> {
        if let Some(first) = self.replayed(key.as_ref()).await? {
            return Ok(first);
        }
        if let Some(why) = unsupported(draft.decision, &draft.criteria) {
            return Err(ReferralError::field("assessment.decision", why));
        }
        if draft.decision == Decision::NoFurtherAction && draft.reason.is_empty() {
            return Err(ReferralError::field("assessment.reason", "is required for NO_FURTHER_ACTION"));
        }
        let facts = self.intake.case("assessment.case", draft.case).await?;
        if facts.erased {
            return Err(super::erasure::erased(draft.case));
        }
        if facts.is_enquiry {
            return Err(precondition(
                ErrorReason::Enquiry,
                format!("{} is an enquiry, which is not assessed", draft.case.name()),
            ));
        }
        if draft.assessed_at < facts.received_at {
            return Err(ReferralError::field(
                "assessment.assessed_at",
                format!("must not be before the case was received ({})", rfc3339(facts.received_at)),
            ));
        }
        let current = {
            let mut tx = self.db.begin_read().await?;
            store::assessments::current(&mut tx, self.db.keyring(), draft.case).await?
        };
        let standing = self.standing(draft.case, facts.standing, current.as_ref()).await?;
        let response = idempotent!(self, key, |tx| {
            store::lock_case(&mut tx, draft.case).await?;
            super::erasure::refuse_if_erased(&mut tx, draft.case).await?;
            let before = store::rollups::history(&mut tx, self.db.keyring(), draft.case).await?;
            let current = store::assessments::current(&mut tx, self.db.keyring(), draft.case).await?;
            if let Some(current) = current.as_ref().filter(|c| draft.assessed_at < c.assessed_at) {
                return Err(ReferralError::field(
                    "assessment.assessed_at",
                    format!(
                        "must not be before the assessment it supersedes ({}, {})",
                        current.id.name(),
                        rfc3339(current.assessed_at)
                    ),
                ));
            }
            let assessment = Assessment {
                id: AssessmentId::new(),
                case: draft.case,
                position: current.as_ref().map_or(1, |c| c.position + 1),
                criteria: draft.criteria.clone(),
                decision: draft.decision,
                reason: draft.reason.clone(),
                assessor: actor.name(),
                assessed_at: draft.assessed_at,
                case_received_at: facts.received_at,
                supersedes: current.as_ref().map(|c| c.id),
                superseded_by: None,
                create_time: timestamp::now(),
            };
            store::assessments::insert(&mut tx, self.db.keyring(), &assessment).await?;
            store::rollups::count(&mut tx, &before, &before.with_assessment(&assessment), assessment.create_time)
                .await?;
            enqueue_on_case(
                &mut tx,
                self.db.keyring(),
                draft.case,
                assessment_effects(standing, &assessment),
                draft.assessed_at,
            )
            .await?;
            Ok(respond(&assessment))
        })?;
        self.relay.notify_one();
        Ok(response)
    }

    pub async fn get_assessment(&self, id: AssessmentId) -> Result<Assessment, ReferralError> {
        let mut tx = self.db.begin_read().await?;
        store::assessments::get(&mut tx, self.db.keyring(), id)
            .await?
            .ok_or_else(|| ReferralError::not_found(id.name()))
    }

    pub async fn list_assessments(
        &self,
        case: Option<CaseRef>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Assessment>, ReferralError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::assessments::list(&mut tx, self.db.keyring(), case, after, limit).await?)
    }
}
