//! Wire values to checked domain values and back.

use doxwatch_kit::{error::FieldViolations, timestamp, timestamp::to_proto, validate};
use doxwatch_proto::referral as pb;
use time::OffsetDateTime;

use crate::{
    config,
    domain::*,
    service::{AssessmentDraft, ReferralDraft},
};

pub fn name<T>(v: &mut FieldViolations, field: &str, value: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
    v.check(field, parse(value))
}

pub fn optional_name<T>(
    v: &mut FieldViolations,
    field: &str,
    value: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    if value.is_empty() { None } else { v.check(field, parse(value)) }
}

/// A repeated enum: every value known and given once.
fn distinct<T: PartialEq>(v: &mut FieldViolations, field: &str, codes: &[i32], from: fn(i32) -> Option<T>) -> Vec<T> {
    let mut out = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let Some(value) = validate::required(v, &format!("{field}[{i}]"), *code, from) else { continue };
        if out.contains(&value) {
            v.add(format!("{field}[{i}]"), "is given twice");
        } else {
            out.push(value);
        }
    }
    out
}

pub fn assessment_draft(v: &mut FieldViolations, a: &pb::Assessment, now: OffsetDateTime) -> Option<AssessmentDraft> {
    let case = name(v, "assessment.case", &a.case, CaseRef::parse_name);
    let decision = validate::required(v, "assessment.decision", a.decision, Decision::from_code);
    let reason = validate::text(v, "assessment.reason", &a.reason, MAX_REASON_CHARS, false);
    let assessed_at = validate::business_time(v, "assessment.assessed_at", a.assessed_at.as_ref(), now);
    let criteria = match &a.criteria {
        None => {
            v.add("assessment.criteria", "is required");
            None
        }
        Some(c) => {
            let f = |field: &str| format!("assessment.criteria.{field}");
            let intent = validate::required(
                v,
                &f("intent_or_recklessness"),
                c.intent_or_recklessness,
                IntentOrRecklessness::from_code,
            );
            let nexus = validate::required(v, &f("hong_kong_nexus"), c.hong_kong_nexus, HongKongNexus::from_code);
            let discloser = validate::required(v, &f("discloser"), c.discloser, Discloser::from_code);
            let harms_intended = distinct(v, &f("harms_intended"), &c.harms_intended, Harm::from_code);
            let harm_caused = distinct(v, &f("harm_caused"), &c.harm_caused, Harm::from_code);
            let legal_basis = distinct(v, &f("legal_basis"), &c.legal_basis, LegalBasis::from_code);
            Some(Criteria {
                disclosed_without_consent: c.disclosed_without_consent,
                intent_or_recklessness: intent?,
                harms_intended,
                harm_caused,
                hong_kong_nexus: nexus?,
                discloser: discloser?,
                legal_basis,
            })
        }
    };
    Some(AssessmentDraft { case: case?, criteria: criteria?, decision: decision?, reason, assessed_at: assessed_at? })
}

pub fn assessment_out(a: &Assessment) -> pb::Assessment {
    let c = &a.criteria;
    pb::Assessment {
        name: a.id.name(),
        case: a.case.name(),
        criteria: Some(pb::Criteria {
            disclosed_without_consent: c.disclosed_without_consent,
            intent_or_recklessness: c.intent_or_recklessness.code(),
            harms_intended: c.harms_intended.iter().map(|h| h.code()).collect(),
            harm_caused: c.harm_caused.iter().map(|h| h.code()).collect(),
            hong_kong_nexus: c.hong_kong_nexus.code(),
            discloser: c.discloser.code(),
            legal_basis: c.legal_basis.iter().map(|b| b.code()).collect(),
        }),
        decision: a.decision.code(),
        reason: a.reason.clone(),
        assessor: a.assessor.clone(),
        assessed_at: Some(to_proto(a.assessed_at)),
        supersedes: a.supersedes.map(|s| s.name()).unwrap_or_default(),
        superseded_by: a.superseded_by.map(|s| s.name()).unwrap_or_default(),
        create_time: Some(to_proto(a.create_time)),
    }
}

/// An agency named in a request: upper case, one of the service's, POLICE when none is named.
pub fn agency(v: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return Some(config::DEFAULT_AGENCY.to_owned());
    }
    v.check(field, config::agency_name(value))
}

pub fn referral_draft(v: &mut FieldViolations, r: &pb::Referral, now: OffsetDateTime) -> Option<ReferralDraft> {
    let case = optional_name(v, "referral.case", &r.case, CaseRef::parse_name);
    let assessment = name(v, "referral.assessment", &r.assessment, AssessmentId::parse_name);
    let referred_at = validate::business_time(v, "referral.referred_at", r.referred_at.as_ref(), now);
    let agency = agency(v, "referral.agency", &r.agency);
    let summary = validate::text(v, "referral.summary", &r.summary, MAX_SUMMARY_CHARS, true);
    Some(ReferralDraft { case, assessment: assessment?, referred_at: referred_at?, agency: agency?, summary })
}

/// An outcome's particulars, checked against what the outcome needs.
pub fn details(
    v: &mut FieldViolations,
    field: &str,
    d: Option<&pb::OutcomeDetails>,
    outcome: Option<ReferralStatus>,
) -> OutcomeDetails {
    let d = d.cloned().unwrap_or_default();
    let f = |name: &str| format!("{field}.{name}");
    let details = OutcomeDetails {
        offence: validate::text(v, &f("offence"), &d.offence, MAX_DETAIL_CHARS, false),
        sentence: validate::text(v, &f("sentence"), &d.sentence, MAX_DETAIL_CHARS, false),
        reason: validate::text(v, &f("reason"), &d.reason, MAX_NOTE_CHARS, false),
        note: validate::text(v, &f("note"), &d.note, MAX_NOTE_CHARS, false),
    };
    match outcome {
        Some(ReferralStatus::Convicted) => {
            for (name, text) in [("offence", &details.offence), ("sentence", &details.sentence)] {
                if text.is_empty() {
                    v.add(f(name), "is required for CONVICTED");
                }
            }
        }
        Some(ReferralStatus::NoFurtherAction) if details.reason.is_empty() => {
            v.add(f("reason"), "is required for NO_FURTHER_ACTION")
        }
        _ => {}
    }
    if outcome != Some(ReferralStatus::Convicted) && !details.sentence.is_empty() {
        v.add(f("sentence"), "is given only with CONVICTED");
    }
    details
}

fn details_out(d: &OutcomeDetails) -> Option<pb::OutcomeDetails> {
    Some(pb::OutcomeDetails {
        offence: d.offence.clone(),
        sentence: d.sentence.clone(),
        reason: d.reason.clone(),
        note: d.note.clone(),
    })
}

pub fn referral_out(r: &Referral) -> pb::Referral {
    let now = AsAt::now(timestamp::now());
    let ack = r.recorded(ReferralStatus::Acknowledged);
    pb::Referral {
        name: r.id.name(),
        reference: r.reference.clone(),
        case: r.case.name(),
        assessment: r.assessment.name(),
        referred_at: Some(to_proto(r.referred_at)),
        agency: r.agency.clone(),
        summary: r.summary.clone(),
        evidence: Some(pb::EvidenceBundle {
            links: r
                .bundle
                .iter()
                .map(|l| pb::BundledLink {
                    link: l.link.name(),
                    canonical_url: l.canonical_url.clone(),
                    status: l.status.code(),
                    evidence_sha256: l.evidence_sha256.clone(),
                })
                .collect(),
            frozen_at: Some(to_proto(r.create_time)),
        }),
        case_received_at: Some(to_proto(r.case_received_at)),
        status: r.status_as_at(now).code(),
        agency_reference: ack.map(|a| a.agency_reference.clone()).unwrap_or_default(),
        acknowledged_at: ack.map(|a| to_proto(a.occurred_at)),
        withdrawal_reason: r.recorded(ReferralStatus::Withdrawn).map(|w| w.details.reason.clone()).unwrap_or_default(),
        created_by: r.created_by.clone(),
        create_time: Some(to_proto(r.create_time)),
        update_time: Some(to_proto(r.update_time())),
    }
}

pub fn event_out(e: &ReferralEvent) -> pb::ReferralEvent {
    pb::ReferralEvent {
        status: e.status.code(),
        occurred_at: Some(to_proto(e.occurred_at)),
        record_time: Some(to_proto(e.record_time)),
        actor: e.actor.clone(),
        agency_reference: e.agency_reference.clone(),
        details: details_out(&e.details),
    }
}

fn duration(d: Option<time::Duration>) -> Option<prost_types::Duration> {
    d.map(|d| prost_types::Duration { seconds: d.whole_seconds(), nanos: d.subsec_nanoseconds() })
}

fn legal_bases_out(f: &AgencyFigures) -> Vec<pb::LegalBasisCount> {
    f.cases_by_legal_basis.iter().map(|(b, n)| pb::LegalBasisCount { legal_basis: b.code(), cases: *n }).collect()
}

fn outcomes_out(f: &AgencyFigures) -> Vec<pb::OutcomeCount> {
    f.by_outcome.iter().map(|(o, n)| pb::OutcomeCount { outcome: o.code(), referrals: *n }).collect()
}

pub fn statistics_out(f: &ReferralFigures, t: AsAt) -> pb::ReferralStatistics {
    pb::ReferralStatistics {
        as_of: Some(to_proto(t.at)),
        recorded_before: t.recorded_before.map(to_proto),
        cases_assessed: f.cases_assessed,
        decisions: f.decisions.iter().map(|(d, n)| pb::DecisionCount { decision: d.code(), cases: *n }).collect(),
        cases_referred: f.total.cases_referred,
        referrals_acknowledged: f.total.referrals_acknowledged,
        by_outcome: outcomes_out(&f.total),
        median_time_to_referral: duration(f.total.median_time_to_referral),
        median_time_to_acknowledgement: duration(f.total.median_time_to_acknowledgement),
        by_agency: f
            .by_agency
            .iter()
            .map(|(agency, a)| pb::AgencyFigures {
                agency: agency.clone(),
                cases_referred: a.cases_referred,
                referrals_acknowledged: a.referrals_acknowledged,
                by_outcome: outcomes_out(a),
                median_time_to_referral: duration(a.median_time_to_referral),
                median_time_to_acknowledgement: duration(a.median_time_to_acknowledgement),
                cases_referred_by_legal_basis: legal_bases_out(a),
            })
            .collect(),
        cases_referred_by_legal_basis: legal_bases_out(&f.total),
    }
}
