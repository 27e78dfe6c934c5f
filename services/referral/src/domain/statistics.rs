//! The referral figures as at a moment: cases assessed and each case's current decision, cases
//! referred per agency (made by then and not withdrawn by then), acknowledgements, outcomes, and
//! the median times to referral and to acknowledgement. Counts only; no personal data.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use time::Duration;

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyFigures {
    pub cases_referred: i64,
    pub referrals_acknowledged: i64,
    /// Every outcome, zero counts included.
    pub by_outcome: BTreeMap<ReferralStatus, i64>,
    pub median_time_to_referral: Option<Duration>,
    pub median_time_to_acknowledgement: Option<Duration>,
    /// Distinct cases referred, by each legal basis the assessment they were referred on cites;
    /// every basis, zero counts included.
    pub cases_by_legal_basis: BTreeMap<LegalBasis, i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralFigures {
    pub cases_assessed: i64,
    /// Every decision, zero counts included.
    pub decisions: BTreeMap<Decision, i64>,
    pub total: AgencyFigures,
    pub by_agency: BTreeMap<String, AgencyFigures>,
}

/// A time to referral or to acknowledgement as the figures keep it: at the resolution of
/// [`doxwatch_kit::rollup::duration_grain`] (the second below an hour, the minute below a day, the
/// hour below 100 days, the day beyond), so that the medians' sums stay bounded.
fn kept(d: Duration) -> Duration {
    Duration::microseconds(doxwatch_kit::rollup::duration_grain(super::rollups::micros(d)))
}

/// The median of some durations; the mean of the middle two when there is an even number.
pub fn median(mut values: Vec<Duration>) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2 })
}

/// `bases` gives the legal bases each referral's assessment cites.
fn agency_figures(referrals: &[&Referral], t: AsAt, bases: &HashMap<AssessmentId, &[LegalBasis]>) -> AgencyFigures {
    let cases: BTreeSet<CaseRef> = referrals.iter().map(|r| r.case).collect();
    let mut cases_on: BTreeMap<LegalBasis, BTreeSet<CaseRef>> = BTreeMap::new();
    for r in referrals {
        for basis in bases.get(&r.assessment).copied().unwrap_or_default() {
            cases_on.entry(*basis).or_default().insert(r.case);
        }
    }
    let mut by_outcome: BTreeMap<ReferralStatus, i64> = ReferralStatus::OUTCOMES.iter().map(|s| (*s, 0)).collect();
    let mut to_acknowledgement = Vec::new();
    for r in referrals {
        if let Some(latest) = r.outcomes(t).last() {
            *by_outcome.entry(latest.status).or_default() += 1;
        }
        if let Some(ack) = r.event(ReferralStatus::Acknowledged, t) {
            to_acknowledgement.push(kept(ack.occurred_at - r.referred_at));
        }
    }
    AgencyFigures {
        cases_referred: cases.len() as i64,
        referrals_acknowledged: to_acknowledgement.len() as i64,
        by_outcome,
        median_time_to_referral: median(referrals.iter().map(|r| kept(r.referred_at - r.case_received_at)).collect()),
        median_time_to_acknowledgement: median(to_acknowledgement),
        cases_by_legal_basis: LegalBasis::ALL
            .iter()
            .map(|b| (*b, cases_on.get(b).map_or(0, |c| c.len() as i64)))
            .collect(),
    }
}

/// The figures as at `t`; `agencies` are listed even when nothing was referred to them.
pub fn tally(assessments: &[Assessment], referrals: &[Referral], t: AsAt, agencies: &[String]) -> ReferralFigures {
    let mut current: HashMap<CaseRef, &Assessment> = HashMap::new();
    for a in assessments.iter().filter(|a| t.sees(a.assessed_at, a.create_time)) {
        let entry = current.entry(a.case).or_insert(a);
        if a.position > entry.position {
            *entry = a;
        }
    }
    let mut decisions: BTreeMap<Decision, i64> = Decision::ALL.iter().map(|d| (*d, 0)).collect();
    for a in current.values() {
        *decisions.entry(a.decision).or_default() += 1;
    }

    let counted: Vec<&Referral> =
        referrals.iter().filter(|r| r.exists_as_at(t) && r.event(ReferralStatus::Withdrawn, t).is_none()).collect();
    let mut per_agency: BTreeMap<String, Vec<&Referral>> = agencies.iter().map(|a| (a.clone(), Vec::new())).collect();
    for r in &counted {
        per_agency.entry(r.agency.clone()).or_default().push(r);
    }
    let bases: HashMap<AssessmentId, &[LegalBasis]> =
        assessments.iter().map(|a| (a.id, a.criteria.legal_basis.as_slice())).collect();
    ReferralFigures {
        cases_assessed: current.len() as i64,
        decisions,
        total: agency_figures(&counted, t, &bases),
        by_agency: per_agency.into_iter().map(|(agency, rs)| (agency, agency_figures(&rs, t, &bases))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        let h = Duration::hours;
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![h(5), h(1), h(3)]), Some(h(3)));
        assert_eq!(median(vec![h(4), h(1), h(2), h(10)]), Some(h(3)));
    }
}
