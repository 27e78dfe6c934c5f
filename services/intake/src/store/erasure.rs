//! A case's erasure in intake's store, the closed cases the retention sweep looks at, and the
//! blind indexes of data subjects stored before there were any.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    CURRENT_VERSION, NOTE, SUBJECT_NAME, SUMMARY, StoreError, WHOLE_NAME_ROW, index_subject, rows, sealed_complainant,
    subject_record,
};
use crate::domain::*;

/// Erases the personal data of `case` (as read in this transaction): the summary, every version
/// of its data subjects' names and contacts and their blind indexes, the complainant's name and
/// contact (the relationship stays, as a figure), and its notes. What the figures count stays.
pub async fn erase_case(
    tx: &mut Tx,
    keys: &Keyring,
    case: &Case,
    by: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let id = case.id;
    let record = id.0.to_string();
    let summary = keys.seal_text(SUMMARY, &record, "")?;
    let complainant = case.details.complainant.as_ref().map(|c| Complainant {
        display_name: String::new(),
        relationship: c.relationship,
        contact: None,
    });
    let complainant = sealed_complainant(keys, &record, complainant.as_ref())?;
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE cases SET summary = $2, complainant = $3, erase_time = $4, erased_by = $5, update_time = $4 \
             WHERE id = $1",
        )
        .bind(id.0)
        .bind(&summary)
        .bind(&complainant)
        .bind(Ts(now))
        .bind(by)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM case_subject_terms WHERE case_id = $1").bind(id.0).execute(&mut *c).await?;
    });
    let subjects: Vec<(i32, i32)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT version, position FROM case_subjects WHERE case_id = $1").bind(id.0).fetch_all(c).await?
    });
    for (version, position) in subjects {
        let name = keys.seal_text(SUBJECT_NAME, &subject_record(id.0, version, position), "")?;
        on_tx!(tx, c => {
            sqlx::query(
                "UPDATE case_subjects SET display_name = $4, contact = NULL \
                 WHERE case_id = $1 AND version = $2 AND position = $3",
            )
            .bind(id.0)
            .bind(version)
            .bind(position)
            .bind(&name)
            .execute(c)
            .await?;
        });
    }
    let events: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM case_events WHERE case_id = $1").bind(id.0).fetch_all(c).await?
    });
    for (event,) in events {
        let note = keys.seal_text(NOTE, &event.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE case_events SET note = $2 WHERE id = $1").bind(event).bind(&note).execute(c).await?;
        });
    }
    Ok(())
}

/// A case that stands CLOSED or ANSWERED, as the retention sweep needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedCase {
    pub id: CaseId,
    pub kind: CaseKind,
    pub closure_reason: Option<ClosureReason>,
    /// When it was closed (or answered): the business time of its latest status move.
    pub closed_at: OffsetDateTime,
}

/// Up to `limit` cases after `after` (in id order) whose personal data is kept and whose latest
/// status move closed or answered them.
pub async fn closed_cases_not_erased(
    tx: &mut Tx,
    after: Option<CaseId>,
    limit: u32,
) -> Result<Vec<ClosedCase>, StoreError> {
    let rows: Vec<(Uuid, i16, i16, i16, Ts)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT c.id, c.kind, e.to_status, e.closure_reason, e.occurred_at FROM cases c \
             JOIN case_events e ON e.id = (SELECT l.id FROM case_events l WHERE l.case_id = c.id AND l.to_status <> 0 \
               ORDER BY l.occurred_at DESC, l.id DESC LIMIT 1) \
             WHERE c.erase_time IS NULL AND c.id > $1 ORDER BY c.id LIMIT $2",
        )
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    let mut cases = Vec::new();
    for (id, kind, status, reason, closed_at) in rows {
        let status = rows::code(status, CaseStatus::from_code, "case_events.to_status")?;
        if !matches!(status, CaseStatus::Closed | CaseStatus::Answered) {
            continue;
        }
        cases.push(ClosedCase {
            id: CaseId(id),
            kind: rows::code(kind, CaseKind::from_code, "cases.kind")?,
            closure_reason: if reason == 0 {
                None
            } else {
                Some(rows::code(reason, ClosureReason::from_code, "case_events.closure_reason")?)
            },
            closed_at: closed_at.0,
        });
    }
    Ok(cases)
}

/// Whether the case's personal data was erased.
pub async fn is_erased(tx: &mut Tx, id: CaseId) -> Result<bool, StoreError> {
    let row: Option<(Option<Ts>,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT erase_time FROM cases WHERE id = $1").bind(id.0).fetch_optional(c).await?
    });
    Ok(matches!(row, Some((Some(_),))))
}

/// Up to `limit` cases after `after` (in id order), with personal data kept, whose current data
/// subjects include one without a whole-name blind index: stored before there were any, or before
/// whole names were indexed.
pub async fn cases_with_unindexed_subjects(
    tx: &mut Tx,
    after: Option<CaseId>,
    limit: u32,
) -> Result<Vec<CaseId>, StoreError> {
    let sql = format!(
        "SELECT DISTINCT c.id FROM cases c JOIN case_subjects s ON s.case_id = c.id AND s.version = {CURRENT_VERSION} \
         WHERE c.erase_time IS NULL AND c.id > $1 AND NOT EXISTS (SELECT 1 FROM case_subject_terms t \
           WHERE t.case_id = s.case_id AND t.version = s.version AND t.position = s.position AND t.kind = {WHOLE_NAME_ROW}) \
         ORDER BY c.id LIMIT $2"
    );
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(after.map_or(Uuid::nil(), |a| a.0)).bind(i64::from(limit)).fetch_all(c).await?
    });
    Ok(rows.into_iter().map(|(id,)| CaseId(id)).collect())
}

/// Gives the current data subjects of `case` that have no whole-name index all their blind indexes
/// (again); returns how many
/// it indexed. Run in the case's own transaction, after the case was read in it.
pub async fn index_unindexed_subjects(tx: &mut Tx, keys: &Keyring, case: &Case) -> Result<usize, StoreError> {
    let sql = "SELECT s.version, s.position FROM case_subjects s WHERE s.case_id = $1 \
         AND s.version = (SELECT MAX(v.version) FROM case_subject_versions v WHERE v.case_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM case_subject_terms t \
           WHERE t.case_id = s.case_id AND t.version = s.version AND t.position = s.position AND t.kind = $2) \
         ORDER BY s.position";
    let missing: Vec<(i32, i32)> = on_tx!(tx, c => {
        sqlx::query_as(sql).bind(case.id.0).bind(WHOLE_NAME_ROW).fetch_all(c).await?
    });
    let mut indexed = 0;
    for (version, position) in missing {
        let Some(subject) = usize::try_from(position).ok().and_then(|p| case.details.data_subjects.get(p)) else {
            continue;
        };
        // A subject indexed before whole names were gets all its indexes again.
        on_tx!(tx, c => {
            sqlx::query("DELETE FROM case_subject_terms WHERE case_id = $1 AND version = $2 AND position = $3")
                .bind(case.id.0)
                .bind(version)
                .bind(position)
                .execute(&mut *c)
                .await?;
        });
        index_subject(tx, keys, case.id, version, position, subject).await?;
        indexed += 1;
    }
    Ok(indexed)
}
