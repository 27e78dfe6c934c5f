//! Liaison's SQL, one query text for both backends: platform contacts, notices with their items,
//! cases and replies, and each notice's timeline. A notice is read back whole.

pub mod contacts;
pub mod erasure;
pub mod events;
pub mod late_records;
pub mod notices;
pub mod replies;
pub mod rollups;

use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

use crate::domain::NoticeId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("{column} holds {value}, which is not a known value")]
    UnknownCode { column: &'static str, value: i64 },
    #[error("{column} holds a malformed name")]
    BadName { column: &'static str },
    #[error("a sealed value")]
    Sealed(#[from] doxwatch_kit::sealing::SealError),
}

/// Every sealed column of the store, for the re-sealing sweep.
pub const SEALED: &[doxwatch_kit::data_keys::SealedColumn] = {
    use doxwatch_kit::data_keys::{Form::Text, Part, SealedColumn};
    const ID: &[Part] = &[Part::Uuid("id")];
    &[
        SealedColumn { table: "notice_events", column: "note", field: events::NOTE, record: ID, form: Text },
        SealedColumn { table: "notice_replies", column: "text", field: replies::TEXT, record: ID, form: Text },
    ]
};

/// Rows written or ids read in one statement: well under the bound parameters either backend
/// takes in one statement (SQLite's is the lower, 32,766).
const BATCH: usize = 500;

fn code<T>(value: i16, from: fn(i32) -> Option<T>, column: &'static str) -> Result<T, StoreError> {
    from(i32::from(value)).ok_or(StoreError::UnknownCode { column, value: i64::from(value) })
}

fn name<T>(value: &str, parse: fn(&str) -> Result<T, String>, column: &'static str) -> Result<T, StoreError> {
    parse(value).map_err(|_| StoreError::BadName { column })
}

/// Appends ` WHERE {column} IN (…)` with one bound parameter per notice.
fn where_notice_in<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, column: &str, ids: &[NoticeId])
where
    Uuid: Encode<'a, DB> + Type<DB>,
{
    q.push(" WHERE ").push(column).push(" IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.0);
    }
    list.push_unseparated(")");
}
