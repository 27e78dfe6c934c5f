//! Link-tracking's SQL, one query text for both backends. Status is derived from observations and
//! channel status from its history; figures as at a moment read only what was recorded before the
//! moment asked.

pub mod channels;
pub mod citations;
pub mod erasure;
pub mod evidence;
pub mod imports;
pub mod late_records;
pub mod links;
pub mod platforms;
pub mod recheck;
pub mod rollups;
pub mod statistics;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("{column} holds {value}, which is not a known value")]
    UnknownCode { column: &'static str, value: i64 },
    #[error("{column} holds {value:?}, which is not valid")]
    Invalid { column: &'static str, value: String },
    #[error("a sealed value")]
    Sealed(#[from] doxwatch_kit::sealing::SealError),
}

/// Every sealed column of the store, for the re-sealing sweep.
pub const SEALED: &[doxwatch_kit::data_keys::SealedColumn] = {
    use doxwatch_kit::data_keys::{Form::Text, Part, SealedColumn};
    const ID: &[Part] = &[Part::Uuid("id")];
    &[
        SealedColumn {
            table: "evidence_captures",
            column: "note",
            field: evidence::CAPTURE_NOTE,
            record: ID,
            form: Text,
        },
        SealedColumn {
            table: "custody_events",
            column: "reason",
            field: evidence::CUSTODY_REASON,
            record: ID,
            form: Text,
        },
        SealedColumn { table: "observations", column: "note", field: links::OBSERVATION_NOTE, record: ID, form: Text },
    ]
};

pub(crate) fn code<T>(value: i16, from: fn(i32) -> Option<T>, column: &'static str) -> Result<T, StoreError> {
    from(i32::from(value)).ok_or(StoreError::UnknownCode { column, value: i64::from(value) })
}

/// Rows written or ids read in one statement: at most 7 columns of 1,000 rows, well under the
/// parameters either backend binds in one statement (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const BATCH: usize = 1000;

pub(crate) use doxwatch_kit::db::push_list;

/// The confirmed status of link `l.id` as at `$as_of`, recorded before `$recorded_before`
/// (platform reports, source 3, never count).
macro_rules! link_status_as_at {
    ($as_of:literal, $recorded_before:literal) => {
        concat!(
            "(SELECT o.status FROM observations o WHERE o.link_id = l.id AND o.source <> 3",
            " AND o.observed_at <= ",
            $as_of,
            " AND o.record_time < ",
            $recorded_before,
            " ORDER BY o.observed_at DESC, o.record_time DESC, o.id DESC LIMIT 1)"
        )
    };
}
pub(crate) use link_status_as_at;

/// Whether a confirmed observation found link `l.id` REMOVED or CHANNEL_REMOVED as at `$as_of`,
/// recorded before `$recorded_before`. With a confirmed ONLINE status, the link has reappeared.
macro_rules! link_was_removed_as_at {
    ($as_of:literal, $recorded_before:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM observations r WHERE r.link_id = l.id AND r.source <> 3 AND r.status IN (2, 4)",
            " AND r.observed_at <= ",
            $as_of,
            " AND r.record_time < ",
            $recorded_before,
            ")"
        )
    };
}
pub(crate) use link_was_removed_as_at;
