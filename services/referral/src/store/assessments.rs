//! Assessments, read back with the assessments before and after them in their case.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code, codes_list, codes_text, name};
use crate::domain::*;

/// The field an assessment's reason (the assessor's words about the case) is sealed as.
pub(crate) const REASON: &str = "assessments.reason";

pub async fn insert(tx: &mut Tx, keys: &Keyring, a: &Assessment) -> Result<(), StoreError> {
    let reason = keys.seal_text(REASON, &a.id.0.to_string(), &a.reason)?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO assessments (id, case_name, position, disclosed_without_consent, intent_or_recklessness, \
             harms_intended, harm_caused, hong_kong_nexus, discloser, legal_basis, decision, reason, assessor, assessed_at, \
             case_received_at, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(a.id.0)
        .bind(a.case.name())
        .bind(a.position)
        .bind(a.criteria.disclosed_without_consent)
        .bind(a.criteria.intent_or_recklessness.code() as i16)
        .bind(codes_text(a.criteria.harms_intended.iter().map(|h| h.code())))
        .bind(codes_text(a.criteria.harm_caused.iter().map(|h| h.code())))
        .bind(a.criteria.hong_kong_nexus.code() as i16)
        .bind(a.criteria.discloser.code() as i16)
        .bind(codes_text(a.criteria.legal_basis.iter().map(|b| b.code())))
        .bind(a.decision.code() as i16)
        .bind(&reason)
        .bind(&a.assessor)
        .bind(Ts(a.assessed_at))
        .bind(Ts(a.case_received_at))
        .bind(Ts(a.create_time))
        .execute(c)
        .await?;
    });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    case_name: String,
    position: i32,
    disclosed_without_consent: bool,
    intent_or_recklessness: i16,
    harms_intended: String,
    harm_caused: String,
    hong_kong_nexus: i16,
    discloser: i16,
    legal_basis: String,
    decision: i16,
    reason: String,
    assessor: String,
    assessed_at: Ts,
    case_received_at: Ts,
    create_time: Ts,
    supersedes: Option<Uuid>,
    superseded_by: Option<Uuid>,
}

const SELECT: &str = "SELECT a.id, a.case_name, a.position, a.disclosed_without_consent, a.intent_or_recklessness, \
     a.harms_intended, a.harm_caused, a.hong_kong_nexus, a.discloser, a.legal_basis, a.decision, a.reason, a.assessor, \
     a.assessed_at, a.case_received_at, a.create_time, p.id AS supersedes, n.id AS superseded_by FROM assessments a \
     LEFT JOIN assessments p ON p.case_name = a.case_name AND p.position = a.position - 1 \
     LEFT JOIN assessments n ON n.case_name = a.case_name AND n.position = a.position + 1";

fn decode(keys: &Keyring, r: Row) -> Result<Assessment, StoreError> {
    Ok(Assessment {
        id: AssessmentId(r.id),
        case: name(&r.case_name, CaseRef::parse_name, "assessments.case_name")?,
        position: r.position,
        criteria: Criteria {
            disclosed_without_consent: r.disclosed_without_consent,
            intent_or_recklessness: code(
                r.intent_or_recklessness,
                IntentOrRecklessness::from_code,
                "assessments.intent_or_recklessness",
            )?,
            harms_intended: codes_list(&r.harms_intended, Harm::from_code, "assessments.harms_intended")?,
            harm_caused: codes_list(&r.harm_caused, Harm::from_code, "assessments.harm_caused")?,
            hong_kong_nexus: code(r.hong_kong_nexus, HongKongNexus::from_code, "assessments.hong_kong_nexus")?,
            discloser: code(r.discloser, Discloser::from_code, "assessments.discloser")?,
            legal_basis: codes_list(&r.legal_basis, LegalBasis::from_code, "assessments.legal_basis")?,
        },
        decision: code(r.decision, Decision::from_code, "assessments.decision")?,
        reason: keys.open_text(REASON, &r.id.to_string(), &r.reason)?,
        assessor: r.assessor,
        assessed_at: r.assessed_at.0,
        case_received_at: r.case_received_at.0,
        supersedes: r.supersedes.map(AssessmentId),
        superseded_by: r.superseded_by.map(AssessmentId),
        create_time: r.create_time.0,
    })
}

pub async fn get(tx: &mut Tx, keys: &Keyring, id: AssessmentId) -> Result<Option<Assessment>, StoreError> {
    let sql = format!("{SELECT} WHERE a.id = $1");
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(id.0).fetch_optional(c).await?);
    row.map(|r| decode(keys, r)).transpose()
}

/// The case's current assessment: the last of its assessments.
pub async fn current(tx: &mut Tx, keys: &Keyring, case: CaseRef) -> Result<Option<Assessment>, StoreError> {
    let sql = format!("{SELECT} WHERE a.case_name = $1 ORDER BY a.position DESC LIMIT 1");
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(case.name()).fetch_optional(c).await?);
    row.map(|r| decode(keys, r)).transpose()
}

/// Every assessment of the case, first first.
pub async fn of_case(tx: &mut Tx, keys: &Keyring, case: CaseRef) -> Result<Vec<Assessment>, StoreError> {
    let sql = format!("{SELECT} WHERE a.case_name = $1 ORDER BY a.position");
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(case.name()).fetch_all(c).await?);
    rows.into_iter().map(|r| decode(keys, r)).collect()
}

/// A page of assessments in id (creation) order, optionally of one case.
pub async fn list(
    tx: &mut Tx,
    keys: &Keyring,
    case: Option<CaseRef>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Assessment>, StoreError> {
    let sql = format!("{SELECT} WHERE a.id > $1 AND ($2 = '' OR a.case_name = $2) ORDER BY a.id LIMIT $3");
    let rows: Vec<Row> = on_tx!(tx, c => {
        sqlx::query_as(&sql)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(case.map(|c| c.name()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(c)
            .await?
    });
    rows.into_iter().map(|r| decode(keys, r)).collect()
}

/// Every assessment recorded before `recorded_before`, for the figures.
pub async fn all(tx: &mut Tx, keys: &Keyring, recorded_before: OffsetDateTime) -> Result<Vec<Assessment>, StoreError> {
    let sql = format!("{SELECT} WHERE a.create_time < $1 ORDER BY a.id");
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(Ts(recorded_before)).fetch_all(c).await?);
    rows.into_iter().map(|r| decode(keys, r)).collect()
}
