//! Rows as the store returns them, and their decoding into domain values. A stored value the
//! domain does not know is an error, never a silent default.

use doxwatch_kit::{
    db::Ts,
    sealing::{Keyring, SealError},
};
use uuid::Uuid;

use crate::domain::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreDecodeError {
    #[error("{column} holds {value}, which is not a known value")]
    UnknownCode { column: &'static str, value: i64 },
    #[error("a sealed value cannot be opened")]
    Sealed(#[from] SealError),
    #[error("{column} holds malformed JSON")]
    Json {
        column: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

pub(super) fn code<T>(value: i16, from: fn(i32) -> Option<T>, column: &'static str) -> Result<T, StoreDecodeError> {
    from(i32::from(value)).ok_or(StoreDecodeError::UnknownCode { column, value: i64::from(value) })
}

fn optional_code<T>(
    value: i16,
    from: fn(i32) -> Option<T>,
    column: &'static str,
) -> Result<Option<T>, StoreDecodeError> {
    if value == 0 { Ok(None) } else { code(value, from, column).map(Some) }
}

fn json<T: serde::de::DeserializeOwned>(text: &str, column: &'static str) -> Result<T, StoreDecodeError> {
    serde_json::from_str(text).map_err(|source| StoreDecodeError::Json { column, source })
}

fn codes<T>(text: &str, from: fn(i32) -> Option<T>, column: &'static str) -> Result<Vec<T>, StoreDecodeError> {
    let raw: Vec<i32> = json(text, column)?;
    raw.into_iter().map(|c| from(c).ok_or(StoreDecodeError::UnknownCode { column, value: i64::from(c) })).collect()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredComplainant {
    display_name: String,
    relationship: i32,
    contact: Option<Contact>,
}

pub(super) fn complainant_json(c: &Complainant) -> Result<String, serde_json::Error> {
    serde_json::to_string(&StoredComplainant {
        display_name: c.display_name.clone(),
        relationship: c.relationship.code(),
        contact: c.contact.clone(),
    })
}

/// A case joined with one of its current data subjects.
#[derive(sqlx::FromRow)]
pub(super) struct CaseRow {
    id: Uuid,
    kind: i16,
    received_at: Ts,
    channel: i16,
    summary: String,
    reported_urls: String,
    complainant: Option<String>,
    disclosed_data: String,
    alleged_harm: String,
    created_by: String,
    create_time: Ts,
    update_time: Ts,
    team: String,
    assigned_officer: String,
    erase_time: Option<Ts>,
    reference: Option<String>,
    status: Option<i16>,
    closure_reason: Option<i16>,
    subject_name: Option<String>,
    subject_contact: Option<String>,
    subject_category: Option<i16>,
    subject_nexus: Option<i16>,
    subject_version: Option<i32>,
    subject_position: Option<i32>,
}

/// Folds rows (ordered by case, then subject position) into cases.
pub(super) fn decode_case(keys: &Keyring, rows: Vec<CaseRow>) -> Result<Vec<Case>, StoreDecodeError> {
    let mut cases: Vec<Case> = Vec::new();
    for row in rows {
        let subject = match (row.subject_name, row.subject_category, row.subject_nexus) {
            (Some(name), Some(category), Some(nexus)) => {
                let record =
                    super::subject_record(row.id, row.subject_version.unwrap_or(0), row.subject_position.unwrap_or(0));
                let contact = row
                    .subject_contact
                    .as_deref()
                    .map(|c| keys.open_text(super::SUBJECT_CONTACT, &record, c))
                    .transpose()?;
                Some(DataSubject {
                    display_name: keys.open_text(super::SUBJECT_NAME, &record, &name)?,
                    contact: contact.as_deref().map(|c| json(c, "case_subjects.contact")).transpose()?,
                    category: code(category, DataSubjectCategory::from_code, "case_subjects.category")?,
                    hong_kong_nexus: code(nexus, HongKongNexus::from_code, "case_subjects.hong_kong_nexus")?,
                })
            }
            _ => None,
        };
        if let Some(last) = cases.last_mut().filter(|c| c.id.0 == row.id) {
            last.details.data_subjects.extend(subject);
            continue;
        }
        let record = row.id.to_string();
        let complainant = match row.complainant.as_deref() {
            None => None,
            Some(sealed) => {
                let text = keys.open_text(super::COMPLAINANT, &record, sealed)?;
                let stored: StoredComplainant = json(&text, "cases.complainant")?;
                Some(Complainant {
                    display_name: stored.display_name,
                    relationship: ComplainantRelationship::from_code(stored.relationship).ok_or(
                        StoreDecodeError::UnknownCode {
                            column: "cases.complainant",
                            value: i64::from(stored.relationship),
                        },
                    )?,
                    contact: stored.contact,
                })
            }
        };
        let status = row.status.ok_or(StoreDecodeError::UnknownCode { column: "case_events.to_status", value: 0 })?;
        cases.push(Case {
            id: CaseId(row.id),
            kind: code(row.kind, CaseKind::from_code, "cases.kind")?,
            received_at: row.received_at.0,
            details: CaseDetails {
                channel: code(row.channel, IntakeChannel::from_code, "cases.channel")?,
                summary: keys.open_text(super::SUMMARY, &record, &row.summary)?,
                reported_urls: json(&row.reported_urls, "cases.reported_urls")?,
                data_subjects: subject.into_iter().collect(),
                complainant,
                disclosed_data: codes(&row.disclosed_data, DisclosedDataType::from_code, "cases.disclosed_data")?,
                alleged_harm: codes(&row.alleged_harm, Harm::from_code, "cases.alleged_harm")?,
            },
            status: code(status, CaseStatus::from_code, "case_events.to_status")?,
            closure_reason: optional_code(
                row.closure_reason.unwrap_or(0),
                ClosureReason::from_code,
                "case_events.closure_reason",
            )?,
            created_by: row.created_by,
            create_time: row.create_time.0,
            update_time: row.update_time.0,
            team: row.team,
            assigned_officer: row.assigned_officer,
            same_subject_cases: Vec::new(),
            erase_time: row.erase_time.map(|t| t.0),
            reference: row.reference.clone().unwrap_or_default(),
        });
    }
    Ok(cases)
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: Uuid,
    case_id: Uuid,
    kind: i16,
    actor: String,
    occurred_at: Ts,
    record_time: Ts,
    from_status: i16,
    to_status: i16,
    closure_reason: i16,
    duplicate_of: Option<Uuid>,
    note: String,
}

pub(super) fn decode_event(keys: &Keyring, row: EventRow) -> Result<CaseEvent, StoreDecodeError> {
    let note = keys.open_text(super::NOTE, &row.id.to_string(), &row.note)?;
    Ok(CaseEvent {
        id: row.id,
        case: CaseId(row.case_id),
        kind: code(row.kind, CaseEventKind::from_code, "case_events.kind")?,
        actor: row.actor,
        occurred_at: row.occurred_at.0,
        record_time: row.record_time.0,
        from_status: optional_code(row.from_status, CaseStatus::from_code, "case_events.from_status")?,
        to_status: optional_code(row.to_status, CaseStatus::from_code, "case_events.to_status")?,
        closure_reason: optional_code(row.closure_reason, ClosureReason::from_code, "case_events.closure_reason")?,
        duplicate_of: row.duplicate_of.map(CaseId),
        note,
    })
}

/// One (case, data subject category) pair as at a moment; `category` is NULL for a case without
/// data subjects.
#[derive(sqlx::FromRow)]
pub(super) struct StatisticsRow {
    id: Uuid,
    kind: i16,
    received_at: Ts,
    status: Option<i16>,
    category: Option<i16>,
}

/// Folds rows (ordered by case) into one snapshot per case.
pub(super) fn decode_snapshots(rows: Vec<StatisticsRow>) -> Result<Vec<CaseSnapshot>, StoreDecodeError> {
    let mut snapshots: Vec<CaseSnapshot> = Vec::new();
    for row in rows {
        let category =
            row.category.map(|c| code(c, DataSubjectCategory::from_code, "case_subjects.category")).transpose()?;
        if let Some(last) = snapshots.last_mut().filter(|s| s.id.0 == row.id) {
            last.categories.extend(category);
            continue;
        }
        let status = row.status.ok_or(StoreDecodeError::UnknownCode { column: "case_events.to_status", value: 0 })?;
        snapshots.push(CaseSnapshot {
            id: CaseId(row.id),
            kind: code(row.kind, CaseKind::from_code, "cases.kind")?,
            received_at: row.received_at.0,
            status: code(status, CaseStatus::from_code, "case_events.to_status")?,
            categories: category.into_iter().collect(),
        });
    }
    Ok(snapshots)
}
