//! The referral service's SQL, one query text for both backends: assessments, referrals with their
//! bundle and timeline, and the agencies' feed.

pub mod assessments;
pub mod erasure;
pub mod feed;
pub mod late_records;
pub mod referrals;
pub mod rollups;

use doxwatch_kit::{
    db::{Tx, TxConn},
    on_tx,
};

use crate::domain::CaseRef;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("{column} holds {value}, which is not a known value")]
    UnknownCode { column: &'static str, value: String },
    #[error("{column} holds a malformed name")]
    BadName { column: &'static str },
    #[error("a sealed value")]
    Sealed(#[from] doxwatch_kit::sealing::SealError),
}

/// Every sealed column of the store, for the re-sealing sweep.
pub const SEALED: &[doxwatch_kit::data_keys::SealedColumn] = {
    use doxwatch_kit::data_keys::{Form::Text, Part, SealedColumn};
    const ID: &[Part] = &[Part::Uuid("id")];
    const EVENT: &[Part] = &[Part::Uuid("referral_id"), Part::I16("status")];
    use referrals::{NOTE, OFFENCE, REASON, SENTENCE, SUMMARY};
    &[
        SealedColumn { table: "referrals", column: "summary", field: SUMMARY, record: ID, form: Text },
        SealedColumn { table: "assessments", column: "reason", field: assessments::REASON, record: ID, form: Text },
        SealedColumn { table: "referral_events", column: "offence", field: OFFENCE, record: EVENT, form: Text },
        SealedColumn { table: "referral_events", column: "sentence", field: SENTENCE, record: EVENT, form: Text },
        SealedColumn { table: "referral_events", column: "reason", field: REASON, record: EVENT, form: Text },
        SealedColumn { table: "referral_events", column: "note", field: NOTE, record: EVENT, form: Text },
    ]
};

fn code<T>(value: i16, from: fn(i32) -> Option<T>, column: &'static str) -> Result<T, StoreError> {
    from(i32::from(value)).ok_or(StoreError::UnknownCode { column, value: value.to_string() })
}

fn name<T>(value: &str, parse: fn(&str) -> Result<T, String>, column: &'static str) -> Result<T, StoreError> {
    parse(value).map_err(|_| StoreError::BadName { column })
}

/// A list of vocabulary values as the store keeps it: their numbers, comma-separated.
fn codes_text(codes: impl IntoIterator<Item = i32>) -> String {
    codes.into_iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

fn codes_list<T>(text: &str, from: fn(i32) -> Option<T>, column: &'static str) -> Result<Vec<T>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i32>().ok().and_then(from).ok_or(StoreError::UnknownCode { column, value: s.to_owned() }))
        .collect()
}

/// Serializes the changes to one case's assessments and referrals across replicas of one
/// PostgreSQL database (a transaction-scoped advisory lock); SQLite's single writer already does.
pub async fn lock_case(tx: &mut Tx, case: CaseRef) -> Result<(), StoreError> {
    advisory_lock(tx, &format!("referral:case:{}", case.name())).await
}

async fn advisory_lock(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    if let TxConn::Postgres(t) = &mut tx.conn {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut **t).await?;
    }
    Ok(())
}

/// Whether a row with this id exists in `table`, locking it for a change on PostgreSQL.
async fn lock_row(tx: &mut Tx, table: &'static str, id: uuid::Uuid) -> Result<bool, StoreError> {
    let sql = if tx.is_postgres() {
        format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE")
    } else {
        format!("SELECT id FROM {table} WHERE id = $1")
    };
    let row: Option<(uuid::Uuid,)> = on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await?);
    Ok(row.is_some())
}
