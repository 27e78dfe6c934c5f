//! Referrals: the evidence bundle, the timeline, the status derived from it as at a moment, and
//! the order the agency's outcomes must make.

use time::OffsetDateTime;

use super::*;

pub const MAX_SUMMARY_CHARS: usize = 4000;
pub const MAX_AGENCY_REFERENCE_CHARS: usize = 100;
pub const MAX_DETAIL_CHARS: usize = 500;
pub const MAX_NOTE_CHARS: usize = 2000;

/// One of the case's links as link-tracking knew it when the referral was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundledLink {
    pub link: LinkRef,
    pub canonical_url: String,
    pub status: LinkStatus,
    /// Distinct captures, oldest first (lowercase hex).
    pub evidence_sha256: Vec<String>,
}

/// The particulars an acknowledgement, outcome or withdrawal carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeDetails {
    pub offence: String,
    pub sentence: String,
    pub reason: String,
    pub note: String,
}

/// One entry of a referral's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralEvent {
    pub status: ReferralStatus,
    pub occurred_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
    pub actor: String,
    pub agency_reference: String,
    pub details: OutcomeDetails,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub id: ReferralId,
    /// Its reference number (`REF-2019-000116`), what the agency quotes back, given as it is made.
    pub reference: String,
    pub case: CaseRef,
    pub assessment: AssessmentId,
    pub agency: String,
    pub referred_at: OffsetDateTime,
    pub summary: String,
    pub case_received_at: OffsetDateTime,
    pub bundle: Vec<BundledLink>,
    /// Every entry, PENDING first, in the order [`Referral::timeline`] gives.
    pub events: Vec<ReferralEvent>,
    pub created_by: String,
    pub create_time: OffsetDateTime,
}

/// Timeline order: business time, then the order of the steps.
fn order_key(e: &ReferralEvent) -> (OffsetDateTime, i32, OffsetDateTime) {
    (e.occurred_at, e.status.code(), e.record_time)
}

impl Referral {
    /// The timeline in business-time order.
    pub fn timeline(&self) -> Vec<&ReferralEvent> {
        let mut events: Vec<&ReferralEvent> = self.events.iter().collect();
        events.sort_by_key(|e| order_key(e));
        events
    }

    /// The entry that reached `status`, if it is seen as at `t`.
    pub fn event(&self, status: ReferralStatus, t: AsAt) -> Option<&ReferralEvent> {
        self.events.iter().find(|e| e.status == status && t.sees(e.occurred_at, e.record_time))
    }

    /// The entry that reached `status`, whenever it happened.
    pub fn recorded(&self, status: ReferralStatus) -> Option<&ReferralEvent> {
        self.events.iter().find(|e| e.status == status)
    }

    /// Whether the referral had been made as at `t`.
    pub fn exists_as_at(&self, t: AsAt) -> bool {
        t.sees(self.referred_at, self.create_time)
    }

    /// The outcomes seen as at `t`, in their order.
    pub fn outcomes(&self, t: AsAt) -> Vec<&ReferralEvent> {
        let mut outcomes: Vec<&ReferralEvent> =
            self.events.iter().filter(|e| e.status.is_outcome() && t.sees(e.occurred_at, e.record_time)).collect();
        outcomes.sort_by_key(|e| order_key(e));
        outcomes
    }

    /// The status as at `t`: withdrawn, else the latest outcome, else acknowledged, delivered or
    /// pending. The steps before the outcomes count by how far they got, not by when they were
    /// recorded: a referral backfilled as acknowledged in the past and delivered today is
    /// acknowledged.
    pub fn status_as_at(&self, t: AsAt) -> ReferralStatus {
        if self.event(ReferralStatus::Withdrawn, t).is_some() {
            return ReferralStatus::Withdrawn;
        }
        if let Some(latest) = self.outcomes(t).last() {
            return latest.status;
        }
        [ReferralStatus::Acknowledged, ReferralStatus::Delivered]
            .into_iter()
            .find(|s| self.event(*s, t).is_some())
            .unwrap_or(ReferralStatus::Pending)
    }

    pub fn update_time(&self) -> OffsetDateTime {
        self.events.iter().map(|e| e.record_time).max().unwrap_or(self.create_time).max(self.create_time)
    }

    /// Whether the referral is still live (not withdrawn), whenever that was recorded.
    pub fn is_live(&self) -> bool {
        self.recorded(ReferralStatus::Withdrawn).is_none()
    }
}

/// Whether `next` may follow `prev` among the agency's steps.
pub fn may_follow(prev: ReferralStatus, next: ReferralStatus) -> bool {
    use ReferralStatus::*;
    matches!(
        (prev, next),
        (Acknowledged, UnderInvestigation | NoFurtherAction)
            | (UnderInvestigation, ArrestMade | Charged | NoFurtherAction)
            | (ArrestMade, Charged | NoFurtherAction)
            | (Charged, Convicted | Acquitted)
    )
}

/// Why an outcome cannot be reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeRefusal {
    Withdrawn,
    NotAcknowledged,
    /// The order the outcome would make is not a valid one.
    OutOfOrder(String),
}

/// Checks that `outcome` at `occurred_at`, placed among the outcomes already recorded by business
/// time, makes a valid order after the acknowledgement.
pub fn check_outcome(
    referral: &Referral,
    outcome: ReferralStatus,
    occurred_at: OffsetDateTime,
) -> Result<(), OutcomeRefusal> {
    if !referral.is_live() {
        return Err(OutcomeRefusal::Withdrawn);
    }
    let Some(ack) = referral.recorded(ReferralStatus::Acknowledged) else {
        return Err(OutcomeRefusal::NotAcknowledged);
    };
    if referral.recorded(outcome).is_some() {
        return Err(OutcomeRefusal::OutOfOrder(format!("{} was already reported", outcome.label())));
    }
    if occurred_at < ack.occurred_at {
        return Err(OutcomeRefusal::OutOfOrder(format!(
            "{} would come before the acknowledgement ({})",
            outcome.label(),
            rfc3339(ack.occurred_at)
        )));
    }
    let mut steps: Vec<(OffsetDateTime, ReferralStatus)> =
        referral.events.iter().filter(|e| e.status.is_outcome()).map(|e| (e.occurred_at, e.status)).collect();
    steps.sort_by_key(|(at, s)| (*at, s.code()));
    let order: Vec<&str> = std::iter::once("ACKNOWLEDGED").chain(steps.iter().map(|(_, s)| s.label())).collect();
    steps.push((occurred_at, outcome));
    steps.sort_by_key(|(at, s)| (*at, s.code()));
    let mut prev = ReferralStatus::Acknowledged;
    for (_, step) in steps {
        if !may_follow(prev, step) {
            return Err(OutcomeRefusal::OutOfOrder(format!(
                "{} at {} makes an invalid order: {} cannot follow {} (recorded so far: {})",
                outcome.label(),
                rfc3339(occurred_at),
                step.label(),
                prev.label(),
                order.join(" -> ")
            )));
        }
        prev = step;
    }
    Ok(())
}

pub use doxwatch_kit::timestamp::rfc3339;

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use ReferralStatus::*;

    fn event(status: ReferralStatus, at: OffsetDateTime) -> ReferralEvent {
        ReferralEvent {
            status,
            occurred_at: at,
            record_time: datetime!(2020-01-01 0:00 UTC),
            actor: String::new(),
            agency_reference: String::new(),
            details: OutcomeDetails::default(),
        }
    }

    fn referral(events: Vec<ReferralEvent>) -> Referral {
        Referral {
            reference: String::new(),
            id: ReferralId::new(),
            case: CaseRef::new(),
            assessment: AssessmentId::new(),
            agency: "POLICE".into(),
            referred_at: datetime!(2019-09-01 0:00 UTC),
            summary: String::new(),
            case_received_at: datetime!(2019-08-01 0:00 UTC),
            bundle: vec![],
            events,
            created_by: String::new(),
            create_time: datetime!(2020-01-01 0:00 UTC),
        }
    }

    #[test]
    fn a_late_earlier_step_is_accepted_where_it_fits() {
        let r = referral(vec![
            event(Pending, datetime!(2019-09-01 0:00 UTC)),
            event(Acknowledged, datetime!(2019-09-02 0:00 UTC)),
            event(UnderInvestigation, datetime!(2019-09-03 0:00 UTC)),
            event(Charged, datetime!(2019-09-10 0:00 UTC)),
        ]);
        assert_eq!(check_outcome(&r, ArrestMade, datetime!(2019-09-05 0:00 UTC)), Ok(()));
        assert!(matches!(
            check_outcome(&r, ArrestMade, datetime!(2019-09-11 0:00 UTC)),
            Err(OutcomeRefusal::OutOfOrder(_))
        ));
        assert!(matches!(
            check_outcome(&r, UnderInvestigation, datetime!(2019-09-04 0:00 UTC)),
            Err(OutcomeRefusal::OutOfOrder(_))
        ));
        assert!(matches!(
            check_outcome(&r, Convicted, datetime!(2019-09-01 0:00 UTC)),
            Err(OutcomeRefusal::OutOfOrder(_))
        ));
        assert_eq!(
            check_outcome(&r, Acquitted, datetime!(2019-09-10 0:00 UTC)),
            Ok(()),
            "equal times go in step order"
        );
        assert_eq!(r.status_as_at(AsAt::now(datetime!(2019-09-04 0:00 UTC))), UnderInvestigation);
    }

    #[test]
    fn outcomes_need_an_acknowledgement_and_status_counts_how_far_it_got() {
        let mut r = referral(vec![event(Pending, datetime!(2019-09-01 0:00 UTC))]);
        assert_eq!(
            check_outcome(&r, UnderInvestigation, datetime!(2019-09-03 0:00 UTC)),
            Err(OutcomeRefusal::NotAcknowledged)
        );
        r.events.push(event(Delivered, datetime!(2024-01-01 0:00 UTC)));
        r.events.push(event(Acknowledged, datetime!(2019-09-02 0:00 UTC)));
        assert_eq!(r.status_as_at(AsAt::now(datetime!(2025-01-01 0:00 UTC))), Acknowledged);
        assert_eq!(r.status_as_at(AsAt::now(datetime!(2019-09-01 12:00 UTC))), Pending);
    }
}
