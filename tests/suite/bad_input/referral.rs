//! Referral's mutating RPCs: CreateAssessment, CreateReferral, WithdrawReferral, EraseCaseData (as
//! intake), and the agencies' AcknowledgeReferral and ReportOutcome (as the Police).

use doxwatch_proto::referral as pb;
use doxwatch_referral::domain::{
    MAX_AGENCY_REFERENCE_CHARS, MAX_DETAIL_CHARS, MAX_NOTE_CHARS, MAX_REASON_CHARS, MAX_SUMMARY_CHARS,
};
use tonic::Code;

use super::{
    fixture::{Clients, Fixture, at, good_assessment, good_referral, oversized},
    rows,
    walk::{Class, Row, Walk, bad, refused, row},
};

fn assessment_rows(f: &Fixture) -> Vec<Row<pb::CreateAssessmentRequest>> {
    type R = pb::CreateAssessmentRequest;
    fn a(r: &mut R) -> &mut pb::Assessment {
        r.assessment.get_or_insert_with(Default::default)
    }
    fn criteria(r: &mut R) -> &mut pb::Criteria {
        a(r).criteria.get_or_insert_with(Default::default)
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("assessment"), |r: &mut R| r.assessment = None),
        row(Class::Missing, bad("assessment.criteria"), |r: &mut R| a(r).criteria = None),
        row(Class::Missing, bad("assessment.decision"), |r: &mut R| a(r).decision = 0),
        row(Class::UnknownEnum, bad("assessment.decision"), |r: &mut R| a(r).decision = 99),
        row(Class::UnknownEnum, bad("assessment.criteria.intent_or_recklessness"), |r: &mut R| {
            criteria(r).intent_or_recklessness = 99
        }),
        row(Class::UnknownEnum, bad("assessment.criteria.harms_intended[0]"), |r: &mut R| {
            criteria(r).harms_intended = vec![99]
        }),
        row(Class::Duplicate, bad("assessment.criteria.harms_intended[1]"), |r: &mut R| {
            criteria(r).harms_intended = vec![1, 1]
        }),
        row(Class::UnknownEnum, bad("assessment.criteria.legal_basis[0]"), |r: &mut R| {
            criteria(r).legal_basis = vec![99]
        }),
        row(Class::Backdated, bad("assessment.assessed_at"), |r: &mut R| {
            a(r).assessed_at = at("2019-06-01T09:00:00+08:00")
        }),
        row(Class::Oversized, refused(Code::ResourceExhausted, "RESOURCE_EXHAUSTED"), |r: &mut R| {
            a(r).reason = oversized()
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = "bad-input-assessment".into();
            a(r).reason = "another reason".into();
        }),
    ];
    rows.extend(rows::reference("assessment.case", "cases", &f.link, |r: &mut R, n| a(r).case = n));
    rows.extend(rows::text("assessment.reason", MAX_REASON_CHARS, |r: &mut R, s| a(r).reason = s));
    rows.extend(rows::time("assessment.assessed_at", |r: &mut R, t| a(r).assessed_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn referral_rows(f: &Fixture) -> Vec<Row<pb::CreateReferralRequest>> {
    type R = pb::CreateReferralRequest;
    fn rf(r: &mut R) -> &mut pb::Referral {
        r.referral.get_or_insert_with(Default::default)
    }
    let (link, fresh) = (f.link.clone(), f.fresh_assessment.clone());
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("referral"), |r: &mut R| r.referral = None),
        row(Class::MalformedName, bad("referral.case"), |r: &mut R| rf(r).case = "cases/x".into()),
        row(Class::ForeignName, bad("referral.case"), move |r: &mut R| rf(r).case = link.clone()),
        row(Class::SqlInText, bad("referral.agency"), |r: &mut R| rf(r).agency = "'; DROP TABLE referrals; --".into()),
        row(Class::ControlInLine, bad("referral.agency"), |r: &mut R| rf(r).agency = "POLICE\0".into()),
        row(Class::Backdated, bad("referral.referred_at"), move |r: &mut R| {
            rf(r).assessment = fresh.clone();
            rf(r).referred_at = at("2019-07-04T09:00:00+08:00");
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = "bad-input-referral".into();
            rf(r).summary = "another summary".into();
        }),
    ];
    rows.extend(rows::reference("referral.assessment", "assessments", &f.case, |r: &mut R, n| rf(r).assessment = n));
    rows.extend(rows::required_text("referral.summary", MAX_SUMMARY_CHARS, |r: &mut R, s| rf(r).summary = s));
    rows.extend(rows::time("referral.referred_at", |r: &mut R, t| rf(r).referred_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn withdraw_rows(f: &Fixture) -> Vec<Row<pb::WithdrawReferralRequest>> {
    type R = pb::WithdrawReferralRequest;
    let mut rows: Vec<Row<R>> =
        vec![row(Class::Backdated, bad("occurred_at"), |r: &mut R| r.occurred_at = at("2019-07-05T09:00:00+08:00"))];
    rows.extend(rows::name("name", "referrals", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::required_text("reason", MAX_NOTE_CHARS, |r: &mut R, s| r.reason = s));
    rows.extend(rows::time("occurred_at", |r: &mut R, t| r.occurred_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn acknowledge_rows(f: &Fixture) -> Vec<Row<pb::AcknowledgeReferralRequest>> {
    type R = pb::AcknowledgeReferralRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Empty, bad("agency_reference"), |r: &mut R| r.agency_reference = " ".into()),
        row(Class::Backdated, bad("acknowledged_at"), |r: &mut R| r.acknowledged_at = at("2019-07-05T09:00:00+08:00")),
    ];
    rows.extend(rows::name("name", "referrals", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::line("agency_reference", MAX_AGENCY_REFERENCE_CHARS, |r: &mut R, s| r.agency_reference = s));
    rows.extend(rows::time("acknowledged_at", |r: &mut R, t| r.acknowledged_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn outcome_rows(f: &Fixture) -> Vec<Row<pb::ReportOutcomeRequest>> {
    type R = pb::ReportOutcomeRequest;
    fn details(r: &mut R) -> &mut pb::OutcomeDetails {
        r.details.get_or_insert_with(Default::default)
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("outcome"), |r: &mut R| r.outcome = 0),
        row(Class::UnknownEnum, bad("outcome"), |r: &mut R| r.outcome = 99),
        row(Class::OutOfOrder, refused(Code::FailedPrecondition, "NOT_ACKNOWLEDGED"), |_: &mut R| {}),
    ];
    rows.extend(rows::name("name", "referrals", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::time("occurred_at", |r: &mut R, t| r.occurred_at = t));
    rows.extend(rows::text("details.offence", MAX_DETAIL_CHARS, |r: &mut R, s| details(r).offence = s));
    rows.extend(rows::text("details.note", MAX_NOTE_CHARS, |r: &mut R, s| details(r).note = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

pub async fn walk(w: &mut Walk, c: &Clients, f: &Fixture) {
    let referral = &c.referral;
    let base = pb::CreateAssessmentRequest { assessment: Some(good_assessment(&f.case)), request_id: String::new() };
    w.rpc(
        "CreateAssessment",
        &base,
        |r| {
            let mut c = referral.clone();
            async move { c.create_assessment(r).await.map(drop) }
        },
        assessment_rows(f),
    )
    .await;

    let base = pb::CreateReferralRequest { referral: Some(good_referral(&f.assessment)), request_id: String::new() };
    w.rpc(
        "CreateReferral",
        &base,
        |r| {
            let mut c = referral.clone();
            async move { c.create_referral(r).await.map(drop) }
        },
        referral_rows(f),
    )
    .await;

    let base = pb::WithdrawReferralRequest {
        name: f.referral.clone(),
        reason: "sent in error".into(),
        occurred_at: at("2019-07-08T10:00:00+08:00"),
        request_id: String::new(),
    };
    w.rpc(
        "WithdrawReferral",
        &base,
        |r| {
            let mut c = referral.clone();
            async move { c.withdraw_referral(r).await.map(drop) }
        },
        withdraw_rows(f),
    )
    .await;

    type E = pb::EraseCaseDataRequest;
    let base = E { case: f.case.clone(), erase_time: at("2020-01-01T00:00:00Z"), request_id: String::new() };
    let rows = rows::erase(
        &f.link,
        |r: &mut E, n| r.case = n,
        |r: &mut E, t| r.erase_time = t,
        |r: &mut E, id| r.request_id = id,
    );
    let peer = &c.referral_as_intake;
    w.rpc(
        "EraseCaseData (referral)",
        &base,
        |r| {
            let mut c = peer.clone();
            async move { c.erase_case_data(r).await.map(drop) }
        },
        rows,
    )
    .await;

    let police = &c.police;
    let base = pb::AcknowledgeReferralRequest {
        name: f.referral.clone(),
        agency_reference: "HKPF/CSTCB/19/77".into(),
        acknowledged_at: at("2019-07-07T10:00:00+08:00"),
        request_id: String::new(),
    };
    w.rpc(
        "AcknowledgeReferral",
        &base,
        |r| {
            let mut c = police.clone();
            async move { c.acknowledge_referral(r).await.map(drop) }
        },
        acknowledge_rows(f),
    )
    .await;

    let base = pb::ReportOutcomeRequest {
        name: f.referral.clone(),
        outcome: pb::ReferralStatus::UnderInvestigation as i32,
        occurred_at: at("2019-07-08T10:00:00+08:00"),
        details: None,
        request_id: String::new(),
    };
    w.rpc(
        "ReportOutcome",
        &base,
        |r| {
            let mut c = police.clone();
            async move { c.report_outcome(r).await.map(drop) }
        },
        outcome_rows(f),
    )
    .await;
}
