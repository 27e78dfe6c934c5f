//! Intake's SQL. One query text serves both backends (`$n` parameters, portable SQL); times go
//! through `Ts`, ids are native UUIDs. A case's status is derived from its timeline, and its data
//! subjects are versioned, so that what the store says "as at" a moment never changes afterwards.

use doxwatch_kit::{
    data_keys::{Form, Part, SealedColumn},
    db::{Ts, Tx, TxConn},
    on_tx,
    rows::{Rows, Value, hold, insert_all},
    sealing::{Keyring, SealError},
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::*;

mod erasure;
mod publications;
pub mod rollups;
mod rows;
mod subjects;

pub use erasure::{
    ClosedCase, cases_with_unindexed_subjects, closed_cases_not_erased, erase_case, index_unindexed_subjects, is_erased,
};
pub use publications::{get_publication, insert_publication, list_publications};
pub use rows::StoreDecodeError;
use rows::{CaseRow, EventRow, StatisticsRow, decode_case, decode_event, decode_snapshots};
use subjects::{SealedSubjects, WHOLE_NAME_ROW, index_subject, insert_subjects};
pub use subjects::{SubjectQuery, cases_with_subject};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("stored data cannot be read")]
    Decode(#[from] StoreDecodeError),
    #[error("stored data cannot be written")]
    Encode(#[from] serde_json::Error),
    #[error("personal data cannot be sealed or opened")]
    Sealed(#[from] SealError),
}

/// The sealed personal-data columns, as their values' associated data names them.
pub(crate) const SUMMARY: &str = "cases.summary";
pub(crate) const COMPLAINANT: &str = "cases.complainant";
pub(crate) const SUBJECT_NAME: &str = "case_subjects.display_name";
pub(crate) const SUBJECT_CONTACT: &str = "case_subjects.contact";
pub(crate) const NOTE: &str = "case_events.note";

/// The record a data subject's sealed values belong to: its case, version and position.
/// Every sealed column of the store, for the re-sealing sweep.
pub const SEALED: &[SealedColumn] = {
    const ID: &[Part] = &[Part::Uuid("id")];
    const SUBJECT: &[Part] = &[Part::Uuid("case_id"), Part::I32("version"), Part::I32("position")];
    &[
        SealedColumn { table: "cases", column: "summary", field: SUMMARY, record: ID, form: Form::Text },
        SealedColumn { table: "cases", column: "complainant", field: COMPLAINANT, record: ID, form: Form::Text },
        SealedColumn {
            table: "case_subjects",
            column: "display_name",
            field: SUBJECT_NAME,
            record: SUBJECT,
            form: Form::Text,
        },
        SealedColumn {
            table: "case_subjects",
            column: "contact",
            field: SUBJECT_CONTACT,
            record: SUBJECT,
            form: Form::Text,
        },
        SealedColumn { table: "case_events", column: "note", field: NOTE, record: ID, form: Form::Text },
    ]
};

pub(crate) fn subject_record(case: Uuid, version: i32, position: i32) -> String {
    format!("{case}/{version}/{position}")
}

/// A case's status as it stands, and when it last changed, for deciding a move.
pub struct StatusHead {
    pub kind: CaseKind,
    pub status: CaseStatus,
    pub since: OffsetDateTime,
}

/// Filters of ListCases; `None` is "any".
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CaseFilter {
    pub kind: Option<i32>,
    pub status: Option<i32>,
    pub category: Option<i32>,
    pub received_after: Option<OffsetDateTime>,
    pub received_before: Option<OffsetDateTime>,
    pub subject: Option<SubjectQuery>,
}

/// The status of a case as at `$as_of`, among events recorded before `$recorded_before`. Events
/// are ordered by business time, then by id (UUIDv7: record order).
macro_rules! status_as_at {
    ($as_of:literal, $recorded_before:literal) => {
        concat!(
            "(SELECT e.to_status FROM case_events e WHERE e.case_id = c.id AND e.to_status <> 0",
            " AND e.occurred_at <= ",
            $as_of,
            " AND e.record_time < ",
            $recorded_before,
            " ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)"
        )
    };
}

macro_rules! closure_as_at {
    ($as_of:literal, $recorded_before:literal) => {
        concat!(
            "(SELECT e.closure_reason FROM case_events e WHERE e.case_id = c.id AND e.to_status <> 0",
            " AND e.occurred_at <= ",
            $as_of,
            " AND e.record_time < ",
            $recorded_before,
            " ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)"
        )
    };
}

/// The current version of a case's data subjects.
const CURRENT_VERSION: &str = "(SELECT MAX(v.version) FROM case_subject_versions v WHERE v.case_id = c.id)";

const CASE_COLUMNS: &str = "c.id, c.kind, c.received_at, c.channel, c.summary, c.reported_urls, c.complainant, \
     c.disclosed_data, c.alleged_harm, c.created_by, c.create_time, c.update_time, c.team, c.assigned_officer, c.erase_time, c.reference";

/// Selects cases (`inner`, which yields `c.*` plus `status` and `closure_reason`) with their current
/// data subjects, one row per subject (or one with NULLs for a case without any).
fn with_subjects(inner: &str) -> String {
    format!(
        "SELECT c.*, s.display_name AS subject_name, s.contact AS subject_contact, \
                s.category AS subject_category, s.hong_kong_nexus AS subject_nexus, \
                s.version AS subject_version, s.position AS subject_position \
         FROM ({inner}) c \
         LEFT JOIN case_subjects s ON s.case_id = c.id AND s.version = {CURRENT_VERSION} \
         ORDER BY c.id, s.position"
    )
}

/// Holds a new case, numbered, with its data subjects and its first event, to be written when its
/// transaction commits (see [`doxwatch_kit::rows::hold`]): a group of cases committed together
/// writes all their rows in one round trip. Its figures come from [`rollups::count_new_case`].
pub fn hold_case(tx: &mut Tx, keys: &Keyring, case: &Case, created: &CaseEvent) -> Result<(), StoreError> {
    let d = &case.details;
    let record = case.id.0.to_string();
    let urls = serde_json::to_string(&d.reported_urls)?;
    let summary = keys.seal_text(SUMMARY, &record, &d.summary)?;
    let complainant = sealed_complainant(keys, &record, d.complainant.as_ref())?;
    let disclosed = serde_json::to_string(&d.disclosed_data.iter().map(|x| x.code()).collect::<Vec<_>>())?;
    let harm = serde_json::to_string(&d.alleged_harm.iter().map(|x| x.code()).collect::<Vec<_>>())?;
    let mut cases = Rows::new("cases", NEW_CASE_COLUMNS);
    cases.push(vec![
        Value::Uuid(case.id.0),
        Value::Text(&case.reference),
        Value::SmallInt(case.kind.code() as i16),
        Value::Time(Ts(case.received_at)),
        Value::SmallInt(d.channel.code() as i16),
        Value::Text(&summary),
        Value::Text(&urls),
        Value::OptionalText(complainant.as_deref()),
        Value::Text(&disclosed),
        Value::Text(&harm),
        Value::Text(&case.created_by),
        Value::Time(Ts(case.create_time)),
        Value::Time(Ts(case.update_time)),
        Value::Text(&case.team),
        Value::Text(&case.assigned_officer),
    ]);
    let subjects = SealedSubjects::new(keys, case.id, 1, &d.data_subjects, case.create_time)?;
    let note = keys.seal_text(NOTE, &created.id.to_string(), &created.note)?;
    let [versions, subjects, terms] = subjects.rows();
    hold(tx, vec![cases, versions, subjects, terms, event_rows(created, &note)]);
    Ok(())
}

/// The columns a new case is written with.
const NEW_CASE_COLUMNS: &[&str] = &[
    "id",
    "reference",
    "kind",
    "received_at",
    "channel",
    "summary",
    "reported_urls",
    "complainant",
    "disclosed_data",
    "alleged_harm",
    "created_by",
    "create_time",
    "update_time",
    "team",
    "assigned_officer",
];

/// A case's complainant as its sealed column holds it.
fn sealed_complainant(keys: &Keyring, record: &str, c: Option<&Complainant>) -> Result<Option<String>, StoreError> {
    c.map(|c| Ok(keys.seal_text(COMPLAINANT, record, &rows::complainant_json(c)?)?)).transpose()
}

/// Appends an event to a case's timeline; a status change also moves the case's figures.
pub async fn append_event(tx: &mut Tx, keys: &Keyring, e: &CaseEvent) -> Result<(), StoreError> {
    use doxwatch_kit::rollup::stored;
    let Some(status) = e.to_status else { return insert_event(tx, keys, e).await };
    let before = rollups::history(tx, e.case).await?;
    insert_event(tx, keys, e).await?;
    if let Some(before) = before {
        let mut after = before.clone();
        after.statuses.push((stored(e.occurred_at), stored(e.record_time), e.id, status));
        rollups::add_correction(tx, &before, &after, e.record_time).await?;
    }
    Ok(())
}

async fn insert_event(tx: &mut Tx, keys: &Keyring, e: &CaseEvent) -> Result<(), StoreError> {
    let note = keys.seal_text(NOTE, &e.id.to_string(), &e.note)?;
    Ok(insert_all(tx, &[event_rows(e, &note)]).await?)
}

const EVENT_COLUMNS: &[&str] = &[
    "id",
    "case_id",
    "kind",
    "actor",
    "occurred_at",
    "record_time",
    "from_status",
    "to_status",
    "closure_reason",
    "duplicate_of",
    "note",
];

/// An event as its row, with its note sealed.
fn event_rows<'a>(e: &'a CaseEvent, note: &'a str) -> Rows<'a> {
    let mut rows = Rows::new("case_events", EVENT_COLUMNS);
    rows.push(vec![
        Value::Uuid(e.id),
        Value::Uuid(e.case.0),
        Value::SmallInt(e.kind.code() as i16),
        Value::Text(&e.actor),
        Value::Time(Ts(e.occurred_at)),
        Value::Time(Ts(e.record_time)),
        Value::SmallInt(e.from_status.map_or(0, CaseStatus::code) as i16),
        Value::SmallInt(e.to_status.map_or(0, CaseStatus::code) as i16),
        Value::SmallInt(e.closure_reason.map_or(0, ClosureReason::code) as i16),
        Value::OptionalUuid(e.duplicate_of.map(|d| d.0)),
        Value::Text(note),
    ]);
    rows
}

/// Locks the case for a change (on PostgreSQL; SQLite has one writer) and returns its status.
pub async fn status_head_for_update(tx: &mut Tx, id: CaseId) -> Result<Option<StatusHead>, StoreError> {
    if let TxConn::Postgres(t) = &mut tx.conn {
        sqlx::query("SELECT id FROM cases WHERE id = $1 FOR UPDATE").bind(id.0).execute(&mut **t).await?;
    }
    let row: Option<(i16, i16, Ts)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT c.kind, e.to_status, e.occurred_at FROM cases c JOIN case_events e ON e.case_id = c.id \
             WHERE c.id = $1 AND e.to_status <> 0 ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1",
        )
        .bind(id.0)
        .fetch_optional(c)
        .await?
    });
    let Some((kind, status, since)) = row else { return Ok(None) };
    Ok(Some(StatusHead {
        kind: rows::code(kind, CaseKind::from_code, "cases.kind")?,
        status: rows::code(status, CaseStatus::from_code, "case_events.to_status")?,
        since: since.0,
    }))
}

/// The case with this reference (as [`doxwatch_kit::reference::normalize`] writes it), if any.
pub async fn case_with_reference(tx: &mut Tx, reference: &str) -> Result<Option<CaseId>, StoreError> {
    let id: Option<Uuid> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT id FROM cases WHERE reference = $1").bind(reference).fetch_optional(&mut *c).await?
    });
    Ok(id.map(CaseId))
}

pub async fn case_exists(tx: &mut Tx, id: CaseId) -> Result<bool, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM cases WHERE id = $1").bind(id.0).fetch_optional(c).await?
    });
    Ok(row.is_some())
}

/// Replaces the changeable details of a case. A new version of its data subjects is written only
/// when they changed, so that earlier statistics stay reproducible.
pub async fn update_details(
    tx: &mut Tx,
    keys: &Keyring,
    id: CaseId,
    details: &CaseDetails,
    subjects_changed: bool,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let record = id.0.to_string();
    let urls = serde_json::to_string(&details.reported_urls)?;
    let summary = keys.seal_text(SUMMARY, &record, &details.summary)?;
    let complainant = sealed_complainant(keys, &record, details.complainant.as_ref())?;
    let disclosed = serde_json::to_string(&details.disclosed_data.iter().map(|x| x.code()).collect::<Vec<_>>())?;
    let harm = serde_json::to_string(&details.alleged_harm.iter().map(|x| x.code()).collect::<Vec<_>>())?;
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE cases SET channel = $2, summary = $3, reported_urls = $4, complainant = $5, \
             disclosed_data = $6, alleged_harm = $7, update_time = $8 WHERE id = $1",
        )
        .bind(id.0)
        .bind(details.channel.code() as i16)
        .bind(&summary)
        .bind(&urls)
        .bind(&complainant)
        .bind(&disclosed)
        .bind(&harm)
        .bind(Ts(now))
        .execute(c)
        .await?;
    });
    if subjects_changed {
        let version: (i32,) = on_tx!(tx, c => {
            sqlx::query_as("SELECT MAX(version) FROM case_subject_versions WHERE case_id = $1")
                .bind(id.0)
                .fetch_one(c)
                .await?
        });
        use doxwatch_kit::rollup::stored;
        let before = rollups::history(tx, id).await?;
        insert_subjects(tx, keys, id, version.0 + 1, &details.data_subjects, now).await?;
        if let Some(before) = before {
            let mut after = before.clone();
            let categories = details.data_subjects.iter().map(|s| s.category).collect();
            after.subjects.push((version.0 + 1, stored(now), categories));
            rollups::add_correction(tx, &before, &after, now).await?;
        }
    }
    Ok(())
}

/// Assigns the case to `team` and `officer` (empty for none), changed at `now`.
pub async fn assign(tx: &mut Tx, id: CaseId, team: &str, officer: &str, now: OffsetDateTime) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE cases SET team = $2, assigned_officer = $3, update_time = $4 WHERE id = $1")
            .bind(id.0)
            .bind(team)
            .bind(officer)
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Whom a case is assigned to: its team and officer, if the case exists.
pub async fn assignment(tx: &mut Tx, id: CaseId) -> Result<Option<(String, String)>, StoreError> {
    Ok(on_tx!(tx, c => {
        sqlx::query_as("SELECT team, assigned_officer FROM cases WHERE id = $1").bind(id.0).fetch_optional(c).await?
    }))
}

/// Marks the case changed at `now` (a status move changes `update_time` too).
pub async fn touch(tx: &mut Tx, id: CaseId, now: OffsetDateTime) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE cases SET update_time = $2 WHERE id = $1").bind(id.0).bind(Ts(now)).execute(c).await?;
    });
    Ok(())
}

pub async fn get_case(tx: &mut Tx, keys: &Keyring, id: CaseId) -> Result<Option<Case>, StoreError> {
    let inner = format!(
        "SELECT {CASE_COLUMNS}, {} AS status, {} AS closure_reason FROM cases c WHERE c.id = $1",
        status_as_at!("$2", "$2"),
        closure_as_at!("$2", "$2"),
    );
    let sql = with_subjects(&inner);
    let rows: Vec<CaseRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(id.0).bind(Ts::max()).fetch_all(c).await?
    });
    Ok(decode_case(keys, rows)?.into_iter().next())
}

/// A page of cases after `after` (in id order, which is record order).
pub async fn list_cases(
    tx: &mut Tx,
    keys: &Keyring,
    filter: &CaseFilter,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Case>, StoreError> {
    // A data subject of the case's current version with every index the search asks for.
    let digests = filter.subject.as_ref().map(|q| q.digests(keys)).transpose()?.unwrap_or_default();
    let subject = if digests.is_empty() {
        String::new()
    } else {
        let placeholders: Vec<String> = (0..digests.len()).map(|i| format!("${}", i + 9)).collect();
        format!(
            "AND c.id IN (SELECT t.case_id FROM case_subject_terms t \
                          WHERE t.digest IN ({}) \
                            AND t.version = (SELECT MAX(v.version) FROM case_subject_versions v WHERE v.case_id = t.case_id) \
                          GROUP BY t.case_id, t.position HAVING COUNT(DISTINCT t.digest) = {})",
            placeholders.join(", "),
            digests.len()
        )
    };
    let inner = format!(
        "SELECT {CASE_COLUMNS}, {status} AS status, {closure} AS closure_reason FROM cases c \
         WHERE c.id > $1 \
           AND ($2 = 0 OR c.kind = $2) \
           AND ($3 = 0 OR {status} = $3) \
           AND ($4 = 0 OR EXISTS (SELECT 1 FROM case_subjects s WHERE s.case_id = c.id AND s.category = $4 \
                                  AND s.version = {CURRENT_VERSION})) \
           AND c.received_at >= $5 AND c.received_at < $6 \
           {subject} \
         ORDER BY c.id LIMIT $7",
        status = status_as_at!("$8", "$8"),
        closure = closure_as_at!("$8", "$8"),
    );
    let sql = with_subjects(&inner);
    let min = Ts(time::macros::datetime!(1900-01-01 0:00 UTC));
    let rows: Vec<CaseRow> = on_tx!(tx, c => {
        let mut query = sqlx::query_as(&sql)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(filter.kind.unwrap_or(0) as i16)
            .bind(filter.status.unwrap_or(0) as i16)
            .bind(filter.category.unwrap_or(0) as i16)
            .bind(filter.received_after.map_or(min, Ts))
            .bind(filter.received_before.map_or(Ts::max(), Ts))
            .bind(i64::from(limit))
            .bind(Ts::max());
        for digest in &digests {
            query = query.bind(digest.as_slice());
        }
        query.fetch_all(c).await?
    });
    Ok(decode_case(keys, rows)?)
}

/// A page of a case's timeline, in business-time order.
pub async fn list_events(
    tx: &mut Tx,
    keys: &Keyring,
    id: CaseId,
    offset: u64,
    limit: u32,
) -> Result<Vec<CaseEvent>, StoreError> {
    let rows: Vec<EventRow> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, case_id, kind, actor, occurred_at, record_time, from_status, to_status, closure_reason, \
             duplicate_of, note FROM case_events WHERE case_id = $1 ORDER BY occurred_at, id LIMIT $2 OFFSET $3",
        )
        .bind(id.0)
        .bind(i64::from(limit))
        .bind(offset as i64)
        .fetch_all(c)
        .await?
    });
    rows.into_iter().map(|row| decode_event(keys, row)).collect::<Result<_, _>>().map_err(Into::into)
}

/// One row per (case, data subject category) of the cases received by `as_of` and recorded before
/// `recorded_before`, with each case's status as at `as_of` and its data subjects as recorded then.
pub async fn statistics_rows(
    tx: &mut Tx,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
) -> Result<Vec<CaseSnapshot>, StoreError> {
    let sql = format!(
        "SELECT c.id, c.kind, c.received_at, {status} AS status, s.category \
         FROM cases c \
         LEFT JOIN case_subjects s ON s.case_id = c.id AND s.version = \
             (SELECT MAX(v.version) FROM case_subject_versions v WHERE v.case_id = c.id AND v.recorded_at < $2) \
         WHERE c.received_at <= $1 AND c.create_time < $2 \
         ORDER BY c.id",
        status = status_as_at!("$1", "$2"),
    );
    let rows: Vec<StatisticsRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql)
            .bind(Ts(as_of))
            .bind(recorded_before.map_or(Ts::max(), Ts))
            .fetch_all(c)
            .await?
    });
    Ok(decode_snapshots(rows)?)
}

/// Intake's late records (see [`doxwatch_kit::late_records`]): cases received and status changes
/// (events of kind STATUS_CHANGED, 2) at or before `$1` in business time and recorded at or after
/// `$2`, and changes of the data subjects of cases received by `$1` recorded at or after `$2`
/// (versions after the first, with the actor of the UPDATED event, 3, recorded with them: the
/// figures take a case's subjects as last recorded, whatever the moment asked).
pub const LATE_RECORDS: doxwatch_kit::late_records::LateRecordsQuery = "\
    SELECT r.kind, r.id, r.parent, r.reference, r.business_time, r.record_time, r.recorded_by FROM ( \
      SELECT 1 AS kind, c.id AS id, c.id AS parent, COALESCE(c.reference, '') AS reference, \
             c.received_at AS business_time, c.create_time AS record_time, c.created_by AS recorded_by \
      FROM cases c WHERE c.received_at <= $1 AND c.create_time >= $2 \
      UNION ALL \
      SELECT 2, e.id, e.case_id, COALESCE(c.reference, ''), e.occurred_at, e.record_time, e.actor \
      FROM case_events e JOIN cases c ON c.id = e.case_id \
      WHERE e.kind = 2 AND e.occurred_at <= $1 AND e.record_time >= $2 \
      UNION ALL \
      SELECT 3, v.case_id, v.case_id, COALESCE(c.reference, ''), v.recorded_at, v.recorded_at, \
             COALESCE((SELECT MIN(e.actor) FROM case_events e \
                       WHERE e.case_id = v.case_id AND e.kind = 3 AND e.record_time = v.recorded_at), '') \
      FROM case_subject_versions v JOIN cases c ON c.id = v.case_id \
      WHERE v.version > 1 AND v.recorded_at >= $2 AND c.received_at <= $1 \
    ) r ORDER BY r.record_time, r.kind, r.id, r.parent LIMIT $3 OFFSET $4";
