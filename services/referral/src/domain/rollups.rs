//! The referral figures as sums of changes (see [`doxwatch_kit::rollup`]), so that statistics need
//! not read every assessment and referral.
//!
//! The thing counted is a case: its assessments and its referrals, since "cases referred" and
//! "cases by legal basis" count distinct cases. A case's keys as at T, recorded before R, are what
//! [`tally`] counts of it alone, so the sums follow the specification by construction; the medians
//! are kept as the durations behind them (each a value, in microseconds, counted once per
//! referral), like link-tracking's removal durations. Keys are counted in the total (the nil
//! scope) and in the agency's scope.

use std::collections::{BTreeMap, BTreeSet};

use doxwatch_kit::rollup::{self, History, State, Timeline};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::*;

/// What a point counts; stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// Cases assessed (total only).
    Assessed = 1,
    /// Cases whose current decision is `value` (total only).
    Decision = 2,
    /// Cases referred.
    CasesReferred = 3,
    /// Referrals acknowledged.
    Acknowledged = 4,
    /// Referrals whose latest outcome is `value`.
    Outcome = 5,
    /// Cases referred on an assessment citing the legal basis `value`.
    CasesOnBasis = 6,
    /// A referral made `value` microseconds after its case was received.
    TimeToReferral = 7,
    /// A referral acknowledged `value` microseconds after it was made.
    TimeToAcknowledgement = 8,
}

impl From<Measure> for i64 {
    fn from(m: Measure) -> i64 {
        m as i64
    }
}

impl Measure {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Self::Assessed,
            2 => Self::Decision,
            3 => Self::CasesReferred,
            4 => Self::Acknowledged,
            5 => Self::Outcome,
            6 => Self::CasesOnBasis,
            7 => Self::TimeToReferral,
            8 => Self::TimeToAcknowledgement,
            _ => return None,
        })
    }
}

/// Where a key is counted (the nil id for the total; an agency's id, see [`agency_scope`]), its
/// measure and its value.
pub type Key = (Uuid, Measure, i64);

/// The scope of an agency's figures: an id made from its name, the same wherever it is made.
pub fn agency_scope(agency: &str) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(agency.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Never the nil id, which is the total's.
    bytes[0] |= 1;
    Uuid::from_bytes(bytes)
}

/// One case's rows, as the direct computation reads them.
#[derive(Debug, Clone, Default)]
pub struct CaseHistory {
    pub assessments: Vec<Assessment>,
    pub referrals: Vec<Referral>,
}

impl CaseHistory {
    /// The rows with one more assessment.
    pub fn with_assessment(&self, a: &Assessment) -> Self {
        let mut after = self.clone();
        after.assessments.push(a.clone());
        after
    }

    /// The rows with one more referral.
    pub fn with_referral(&self, r: &Referral) -> Self {
        let mut after = self.clone();
        after.referrals.push(r.clone());
        after
    }

    /// The rows with one more step of the referral `id`.
    pub fn with_step(&self, id: ReferralId, e: &ReferralEvent) -> Self {
        let mut after = self.clone();
        if let Some(r) = after.referrals.iter_mut().find(|r| r.id == id) {
            r.events.push(e.clone());
        }
        after
    }
}

/// The median of durations given as (microseconds, how many), as [`median`] gives it of them one
/// by one: the middle one, or the mean of the middle two; without expanding the counts.
fn counted_median(mut values: Vec<(i64, i64)>) -> Option<Duration> {
    values.retain(|(_, n)| *n > 0);
    values.sort_unstable();
    let total: i64 = values.iter().map(|(_, n)| *n).sum();
    if total == 0 {
        return None;
    }
    let at = |rank: i64| {
        let mut seen = 0;
        values.iter().find(|(_, n)| {
            seen += n;
            seen > rank
        })
    };
    let (low, high) = (at((total - 1) / 2)?, at(total / 2)?);
    Some((Duration::microseconds(low.0) + Duration::microseconds(high.0)) / 2)
}

/// A duration in whole microseconds, saturating.
pub(super) fn micros(d: Duration) -> i64 {
    i64::try_from(d.whole_microseconds()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX })
}

/// What one case counts for as at `t`: what [`tally`] counts of its rows recorded before the cut
/// (as the direct computation reads them), and the durations behind the medians.
fn state(case: &CaseHistory, t: AsAt) -> State<Key> {
    let before = t.recorded_before_or_max();
    let assessments: Vec<Assessment> = case.assessments.iter().filter(|a| a.create_time < before).cloned().collect();
    let referrals: Vec<Referral> = case.referrals.iter().filter(|r| r.create_time < before).cloned().collect();
    let f = tally(&assessments, &referrals, t, &[]);
    let mut s = State::new();
    let mut add = |key: Key, n: i64| {
        if n != 0 {
            *s.entry(key).or_default() += n;
        }
    };
    let total = Uuid::nil();
    add((total, Measure::Assessed, 0), f.cases_assessed);
    for (decision, n) in &f.decisions {
        add((total, Measure::Decision, decision.code().into()), *n);
    }
    let mut scopes: Vec<(Uuid, &AgencyFigures)> = vec![(total, &f.total)];
    scopes.extend(f.by_agency.iter().map(|(agency, figures)| (agency_scope(agency), figures)));
    for (scope, a) in scopes {
        add((scope, Measure::CasesReferred, 0), a.cases_referred);
        add((scope, Measure::Acknowledged, 0), a.referrals_acknowledged);
        for (status, n) in &a.by_outcome {
            add((scope, Measure::Outcome, status.code().into()), *n);
        }
        for (basis, n) in &a.cases_by_legal_basis {
            add((scope, Measure::CasesOnBasis, basis.code().into()), *n);
        }
    }
    // The durations, of the referrals the tally counts: made by then and not withdrawn by then.
    for r in referrals.iter().filter(|r| r.exists_as_at(t) && r.event(ReferralStatus::Withdrawn, t).is_none()) {
        let to_referral = rollup::duration_grain(micros(r.referred_at - r.case_received_at));
        let ack = r
            .event(ReferralStatus::Acknowledged, t)
            .map(|e| rollup::duration_grain(micros(e.occurred_at - r.referred_at)));
        for scope in [total, agency_scope(&r.agency)] {
            add((scope, Measure::TimeToReferral, to_referral), 1);
            if let Some(ack) = ack {
                add((scope, Measure::TimeToAcknowledgement, ack), 1);
            }
        }
    }
    s
}

impl History for CaseHistory {
    type Key = Key;

    fn record_times(&self) -> BTreeSet<OffsetDateTime> {
        let mut times: BTreeSet<OffsetDateTime> = self.assessments.iter().map(|a| a.create_time).collect();
        for r in &self.referrals {
            times.insert(r.create_time);
            times.extend(r.events.iter().map(|e| e.record_time));
        }
        times
    }

    fn timeline(&self, recorded_before: OffsetDateTime) -> Timeline<Key> {
        let mut moments: BTreeSet<OffsetDateTime> = self.assessments.iter().map(|a| a.assessed_at).collect();
        for r in &self.referrals {
            moments.insert(r.referred_at);
            moments.extend(r.events.iter().map(|e| e.occurred_at));
        }
        rollup::timeline(moments, |at| state(self, AsAt { at, recorded_before: Some(recorded_before) }))
    }
}

/// The figures from summed points: (scope, measure, value, sum) for each that is not zero. The
/// `configured` agencies are listed even when nothing was referred to them, as [`tally`] lists
/// them, and so is every agency of `known` that the sums count a referral of.
pub fn figures(
    sums: impl IntoIterator<Item = (Uuid, Measure, i64, i64)>,
    configured: &[String],
    known: &[String],
) -> ReferralFigures {
    let sums: Vec<(Uuid, Measure, i64, i64)> = sums.into_iter().collect();
    let names: BTreeMap<Uuid, &String> = known.iter().chain(configured).map(|a| (agency_scope(a), a)).collect();
    let mut listed: Vec<String> = configured.to_vec();
    for (scope, ..) in &sums {
        if let Some(name) = names.get(scope).filter(|n| !listed.contains(n)) {
            listed.push((*name).clone());
        }
    }
    let mut f = tally(&[], &[], AsAt { at: OffsetDateTime::UNIX_EPOCH, recorded_before: None }, &listed);
    let mut durations: BTreeMap<(Uuid, Measure), Vec<(i64, i64)>> = BTreeMap::new();
    for (scope, measure, value, n) in sums {
        let code = i32::try_from(value).ok();
        match measure {
            Measure::Assessed => f.cases_assessed += n,
            Measure::Decision => {
                if let Some(d) = code.and_then(Decision::from_code) {
                    *f.decisions.entry(d).or_default() += n;
                }
            }
            Measure::TimeToReferral | Measure::TimeToAcknowledgement => {
                durations.entry((scope, measure)).or_default().push((value, n));
            }
            _ => {
                let figures = if scope.is_nil() {
                    Some(&mut f.total)
                } else {
                    names.get(&scope).and_then(|name| f.by_agency.get_mut(*name))
                };
                if let Some(a) = figures {
                    add(a, measure, code, n);
                }
            }
        }
    }
    for ((scope, measure), values) in durations {
        let figures = if scope.is_nil() {
            Some(&mut f.total)
        } else {
            names.get(&scope).and_then(|name| f.by_agency.get_mut(*name))
        };
        let Some(a) = figures else { continue };
        let median = counted_median(values);
        match measure {
            Measure::TimeToReferral => a.median_time_to_referral = median,
            _ => a.median_time_to_acknowledgement = median,
        }
    }
    f
}

fn add(a: &mut AgencyFigures, measure: Measure, code: Option<i32>, n: i64) {
    match measure {
        Measure::CasesReferred => a.cases_referred += n,
        Measure::Acknowledged => a.referrals_acknowledged += n,
        Measure::Outcome => {
            if let Some(status) = code.and_then(ReferralStatus::from_code) {
                *a.by_outcome.entry(status).or_default() += n;
            }
        }
        Measure::CasesOnBasis => {
            if let Some(basis) = code.and_then(LegalBasis::from_code) {
                *a.cases_by_legal_basis.entry(basis).or_default() += n;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_median_of_counted_values_is_the_median_of_them_one_by_one() {
        let cases: [&[(i64, i64)]; 6] = [
            &[],
            &[(5, 0)],
            &[(7, 1)],
            &[(3, 2), (1, 1), (9, 1)],
            &[(10, 3), (4, 3), (2_000_001, 1), (8, -1)],
            &[(86_400_000_000, 2), (3_600_000_000, 1), (60_000_001, 1)],
        ];
        for counted in cases {
            let one_by_one: Vec<Duration> = counted
                .iter()
                .flat_map(|&(micros, n)| std::iter::repeat_n(Duration::microseconds(micros), n.max(0) as usize))
                .collect();
            assert_eq!(counted_median(counted.to_vec()), median(one_by_one), "{counted:?}");
        }
    }
}
