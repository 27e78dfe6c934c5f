//! The case status machine. Which moves are allowed depends on the case's kind, its current
//! status, and who asks: moves into and out of REFERRED belong to the referral service.

use time::OffsetDateTime;

use super::{CaseId, CaseKind, CaseStatus, ClosureReason};

/// A requested move, already checked for well-formedness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub to: CaseStatus,
    pub closure_reason: Option<ClosureReason>,
    pub duplicate_of: Option<CaseId>,
    pub note: String,
    pub occurred_at: OffsetDateTime,
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefusal {
    #[error("a {kind} case cannot move from {from} to {to}")]
    NotAllowed { kind: &'static str, from: &'static str, to: &'static str },
    #[error("only the referral service moves a case into or out of REFERRED")]
    ReservedToReferral,
}

/// Who is asking for a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    Officer,
    ReferralService,
}

/// Checks a move from `from` to `to` for a case of `kind`.
pub fn check_transition(
    kind: CaseKind,
    from: CaseStatus,
    to: CaseStatus,
    mover: Mover,
) -> Result<(), TransitionRefusal> {
    use CaseStatus::*;
    let touches_referred = from == Referred || to == Referred;
    if touches_referred && mover != Mover::ReferralService {
        return Err(TransitionRefusal::ReservedToReferral);
    }
    let allowed = match kind {
        CaseKind::Enquiry => matches!((from, to), (Received, Answered) | (Received, Closed)),
        _ => matches!(
            (from, to),
            (Received, UnderAssessment)
                | (Received, Closed)
                | (UnderAssessment, Referred)
                | (UnderAssessment, Closed)
                | (Referred, UnderAssessment)
                | (Referred, Closed)
                // A closed case is reopened when new information comes to light.
                | (Closed, UnderAssessment)
        ),
    };
    if allowed {
        Ok(())
    } else {
        Err(TransitionRefusal::NotAllowed { kind: kind_label(kind), from: status_label(from), to: status_label(to) })
    }
}

pub fn kind_label(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Complaint => "COMPLAINT",
        CaseKind::Enquiry => "ENQUIRY",
        CaseKind::PatrolDiscovery => "PATROL_DISCOVERY",
        CaseKind::AgencyReferral => "AGENCY_REFERRAL",
    }
}

pub fn status_label(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Received => "RECEIVED",
        CaseStatus::UnderAssessment => "UNDER_ASSESSMENT",
        CaseStatus::Referred => "REFERRED",
        CaseStatus::Closed => "CLOSED",
        CaseStatus::Answered => "ANSWERED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseStatus::*;

    #[test]
    fn enquiries_are_answered_or_closed() {
        assert!(check_transition(CaseKind::Enquiry, Received, Answered, Mover::Officer).is_ok());
        assert!(check_transition(CaseKind::Enquiry, Received, Closed, Mover::Officer).is_ok());
        assert!(check_transition(CaseKind::Enquiry, Received, UnderAssessment, Mover::Officer).is_err());
        assert!(check_transition(CaseKind::Complaint, Received, Answered, Mover::Officer).is_err());
    }

    #[test]
    fn referred_belongs_to_the_referral_service() {
        assert_eq!(
            check_transition(CaseKind::Complaint, UnderAssessment, Referred, Mover::Officer),
            Err(TransitionRefusal::ReservedToReferral)
        );
        assert!(check_transition(CaseKind::Complaint, UnderAssessment, Referred, Mover::ReferralService).is_ok());
        assert!(check_transition(CaseKind::Complaint, Received, Referred, Mover::ReferralService).is_err());
        assert_eq!(
            check_transition(CaseKind::Complaint, Referred, UnderAssessment, Mover::Officer),
            Err(TransitionRefusal::ReservedToReferral)
        );
    }
}
