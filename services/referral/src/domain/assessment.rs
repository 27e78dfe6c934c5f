//! Assessments: what the assessor found, the decision, which decisions the findings support, and
//! what an assessment does to the case in intake.

use time::OffsetDateTime;

use super::*;

pub const MAX_REASON_CHARS: usize = 2000;

/// What the assessor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criteria {
    pub disclosed_without_consent: bool,
    pub intent_or_recklessness: IntentOrRecklessness,
    pub harms_intended: Vec<Harm>,
    pub harm_caused: Vec<Harm>,
    pub hong_kong_nexus: HongKongNexus,
    pub discloser: Discloser,
    pub legal_basis: Vec<LegalBasis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub id: AssessmentId,
    pub case: CaseRef,
    /// 1 for the case's first assessment; each supersedes the one before it.
    pub position: i32,
    pub criteria: Criteria,
    pub decision: Decision,
    pub reason: String,
    pub assessor: String,
    pub assessed_at: OffsetDateTime,
    /// When intake received the case (immutable there), read when the case was assessed.
    pub case_received_at: OffsetDateTime,
    pub supersedes: Option<AssessmentId>,
    pub superseded_by: Option<AssessmentId>,
    pub create_time: OffsetDateTime,
}

impl Assessment {
    pub fn is_current(&self) -> bool {
        self.superseded_by.is_none()
    }
}

/// Why the criteria do not support the decision, or `None` when they do.
pub fn unsupported(decision: Decision, c: &Criteria) -> Option<String> {
    if !matches!(decision, Decision::ReferToPolice | Decision::ProsecuteSummary) {
        return None;
    }
    let label = decision_label(decision);
    let mut missing = Vec::new();
    if !c.disclosed_without_consent {
        missing.push("the personal data disclosed without consent");
    }
    if !matches!(c.intent_or_recklessness, IntentOrRecklessness::Intent | IntentOrRecklessness::Recklessness) {
        missing.push("intent or recklessness as to specified harm");
    }
    if !matches!(c.hong_kong_nexus, HongKongNexus::Resident | HongKongNexus::PresentAtDisclosure) {
        missing.push("a Hong Kong nexus (RESIDENT or PRESENT_AT_DISCLOSURE)");
    }
    if c.legal_basis.is_empty() {
        missing.push("at least one legal basis");
    }
    if decision == Decision::ProsecuteSummary && !c.legal_basis.contains(&LegalBasis::S64_3A) {
        missing.push("S64_3A (the summary offence) among the legal bases");
    }
    if c.legal_basis.contains(&LegalBasis::S64_3C) && c.harm_caused.is_empty() {
        missing.push("some harm caused, for S64_3C");
    }
    (!missing.is_empty()).then(|| format!("{label} is not supported by the criteria: it needs {}", missing.join("; ")))
}

/// What an assessment, a referral or an agency's report does to the case in intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseEffect {
    /// Move the case to UNDER_ASSESSMENT.
    ToUnderAssessment { note: String },
    /// Close the case: no prima facie case.
    Close { note: String },
    /// Move the case to REFERRED.
    ToReferred { note: String },
    /// A note on the case's timeline.
    Note(String),
}

/// What a new assessment does to the case, given where intake said it stands. Only moves intake
/// allows from that status are made, so that the effect is not refused; a REFERRED case moves only
/// through its referral.
pub fn assessment_effects(standing: CaseStanding, a: &Assessment) -> Vec<CaseEffect> {
    let decided = format!("{} decided {}", a.id.name(), decision_label(a.decision));
    let mut effects = Vec::new();
    let closes = a.decision == Decision::NoFurtherAction;
    match standing {
        CaseStanding::Received => {
            effects.push(CaseEffect::ToUnderAssessment { note: format!("assessed: {decided}") });
            if closes {
                effects.push(CaseEffect::Close { note: a.reason.clone() });
            }
        }
        CaseStanding::UnderAssessment if closes => effects.push(CaseEffect::Close { note: a.reason.clone() }),
        CaseStanding::Closed if !closes => {
            effects.push(CaseEffect::ToUnderAssessment { note: format!("reopened: {decided}") });
        }
        _ => {}
    }
    if a.decision == Decision::ProsecuteSummary {
        effects.push(CaseEffect::Note(format!(
            "decision to prosecute the summary offence under section 64(3A) of the PDPO ({})",
            a.id.name()
        )));
    }
    effects
}

pub fn decision_label(d: Decision) -> &'static str {
    match d {
        Decision::ReferToPolice => "REFER_TO_POLICE",
        Decision::ProsecuteSummary => "PROSECUTE_SUMMARY",
        Decision::NoFurtherAction => "NO_FURTHER_ACTION",
        Decision::MoreInformationNeeded => "MORE_INFORMATION_NEEDED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria() -> Criteria {
        Criteria {
            disclosed_without_consent: true,
            intent_or_recklessness: IntentOrRecklessness::Intent,
            harms_intended: vec![Harm::Harassment],
            harm_caused: vec![],
            hong_kong_nexus: HongKongNexus::Resident,
            discloser: Discloser::Unidentified,
            legal_basis: vec![LegalBasis::S64_3A],
        }
    }

    #[test]
    fn referral_and_prosecution_need_every_element() {
        assert_eq!(unsupported(Decision::ReferToPolice, &criteria()), None);
        assert_eq!(unsupported(Decision::ProsecuteSummary, &criteria()), None);
        let mut c = criteria();
        c.disclosed_without_consent = false;
        c.hong_kong_nexus = HongKongNexus::Unknown;
        let why = unsupported(Decision::ReferToPolice, &c).unwrap();
        assert!(why.contains("without consent") && why.contains("Hong Kong nexus"), "{why}");
        assert_eq!(unsupported(Decision::NoFurtherAction, &c), None);
    }

    #[test]
    fn prosecution_needs_the_summary_offence_and_s64_3c_needs_harm() {
        let mut c = criteria();
        c.legal_basis = vec![LegalBasis::S64_1];
        assert!(unsupported(Decision::ProsecuteSummary, &c).unwrap().contains("S64_3A"));
        assert_eq!(unsupported(Decision::ReferToPolice, &c), None);
        c.legal_basis = vec![LegalBasis::S64_3C];
        assert!(unsupported(Decision::ReferToPolice, &c).unwrap().contains("harm caused"));
        c.harm_caused = vec![Harm::PsychologicalHarm];
        assert_eq!(unsupported(Decision::ReferToPolice, &c), None);
    }
}
