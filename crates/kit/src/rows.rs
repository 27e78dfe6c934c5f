//! Rows of several tables written in one round trip to the store.
//!
//! A write that makes a few rows in each of several tables (a case, its data subjects, their
//! indexes, its first event) costs a round trip per statement, and on SQLite each round trip is
//! two hand-overs between the task and the connection's thread, which cost more than the rows.
//! [`insert_all`] sends them together: on SQLite as one script of `INSERT`s, on PostgreSQL as one
//! statement whose `INSERT`s are data-modifying `WITH` queries (each runs once, to completion; the
//! foreign keys between them are checked at the statement's end).

use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::{
    db::{Ts, Tx},
    on_tx,
};

/// One value of a row: borrowed, or owned where the rows outlive what they were made from (rows
/// held by a transaction, [`hold`]).
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Uuid(Uuid),
    OptionalUuid(Option<Uuid>),
    SmallInt(i16),
    Int(i32),
    BigInt(i64),
    Text(&'a str),
    OptionalText(Option<&'a str>),
    Bytes(&'a [u8]),
    Time(Ts),
    OwnedText(String),
    OptionalOwnedText(Option<String>),
    OwnedBytes(Vec<u8>),
}

impl Value<'_> {
    /// The same value, owning what it borrowed.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Uuid(v) => Value::Uuid(v),
            Value::OptionalUuid(v) => Value::OptionalUuid(v),
            Value::SmallInt(v) => Value::SmallInt(v),
            Value::Int(v) => Value::Int(v),
            Value::BigInt(v) => Value::BigInt(v),
            Value::Text(v) => Value::OwnedText(v.to_owned()),
            Value::OptionalText(v) => Value::OptionalOwnedText(v.map(str::to_owned)),
            Value::Bytes(v) => Value::OwnedBytes(v.to_vec()),
            Value::Time(v) => Value::Time(v),
            Value::OwnedText(v) => Value::OwnedText(v),
            Value::OptionalOwnedText(v) => Value::OptionalOwnedText(v),
            Value::OwnedBytes(v) => Value::OwnedBytes(v),
        }
    }
}

/// Rows to insert into one table, each with a value per column, in the columns' order.
#[derive(Debug, Clone)]
pub struct Rows<'a> {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<Value<'a>>>,
}

impl<'a> Rows<'a> {
    pub fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self { table, columns, rows: Vec::new() }
    }

    /// Adds a row; it must have a value for each column.
    pub fn push(&mut self, row: Vec<Value<'a>>) {
        debug_assert_eq!(row.len(), self.columns.len(), "a row of {} has a value per column", self.table);
        self.rows.push(row);
    }

    /// The same rows, owning what they borrowed.
    pub fn into_owned(self) -> Rows<'static> {
        let rows = self.rows.into_iter().map(|row| row.into_iter().map(Value::into_owned).collect()).collect();
        Rows { table: self.table, columns: self.columns, rows }
    }
}

/// Holds `tables`' rows in the caller's transaction, to be inserted at its commit with the other
/// writes it holds (see [`Tx`]), in one round trip with every other transaction's rows held the
/// same way: a group of requests committed together ([`crate::group_commit`]) writes its rows
/// once. Rows of a table already held with the same columns join them; tables keep the order they
/// were first held in, so a table whose rows refer to another's is held after it. The
/// transaction's own reads do not see held rows.
pub fn hold(tx: &mut Tx, tables: Vec<Rows<'_>>) {
    let held = &mut tx.held.rows;
    for table in tables.into_iter().filter(|t| !t.rows.is_empty()) {
        let same = held.iter_mut().find(|h| h.table == table.table && h.columns == table.columns);
        match same {
            Some(h) => h.rows.extend(table.into_owned().rows),
            None => held.push(table.into_owned()),
        }
    }
}

/// The most values one round trip binds: well inside PostgreSQL's 65,535 a statement and
/// SQLite's 32,766 (which count each statement of a script by itself).
const VALUES_PER_TRIP: usize = 30_000;

/// Inserts `tables`' rows in the caller's transaction, in the order given (a table whose rows
/// refer to another's comes after it), in as few round trips as the values allow: usually one.
pub async fn insert_all(tx: &mut Tx, tables: &[Rows<'_>]) -> Result<(), sqlx::Error> {
    // Each statement's rows: a table's rows, cut where a trip would bind too many values.
    let mut statements: Vec<(&Rows<'_>, &[Vec<Value<'_>>])> = Vec::new();
    for table in tables.iter().filter(|t| !t.rows.is_empty()) {
        let per_statement = (VALUES_PER_TRIP / table.columns.len().max(1)).max(1);
        statements.extend(table.rows.chunks(per_statement).map(|rows| (table, rows)));
    }
    let postgres = tx.is_postgres();
    let mut start = 0;
    while start < statements.len() {
        // As many statements as one trip can bind, at least one.
        let mut end = start;
        let mut values = 0;
        while let Some((table, rows)) = statements.get(end) {
            let these = rows.len() * table.columns.len();
            if end > start && values + these > VALUES_PER_TRIP {
                break;
            }
            values += these;
            end += 1;
        }
        let trip = &statements[start..end];
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new("");
            for (i, (table, rows)) in trip.iter().enumerate() {
                // PostgreSQL: each INSERT a WITH query of one statement; SQLite: a script.
                if postgres && trip.len() > 1 {
                    q.push(if i == 0 { "WITH w0 AS (".to_owned() } else { format!("), w{i} AS (") });
                } else if i > 0 {
                    q.push("; ");
                }
                q.push(format!("INSERT INTO {} ({}) ", table.table, table.columns.join(", ")));
                q.push_values(rows.iter(), |mut row, values| {
                    for value in values {
                        match value {
                            Value::Uuid(v) => row.push_bind(*v),
                            Value::OptionalUuid(v) => row.push_bind(*v),
                            Value::SmallInt(v) => row.push_bind(*v),
                            Value::Int(v) => row.push_bind(*v),
                            Value::BigInt(v) => row.push_bind(*v),
                            Value::Text(v) => row.push_bind(*v),
                            Value::OptionalText(v) => row.push_bind(*v),
                            Value::Bytes(v) => row.push_bind(*v),
                            Value::Time(v) => row.push_bind(*v),
                            Value::OwnedText(v) => row.push_bind(v.as_str()),
                            Value::OptionalOwnedText(v) => row.push_bind(v.as_deref()),
                            Value::OwnedBytes(v) => row.push_bind(v.as_slice()),
                        };
                    }
                });
            }
            if postgres && trip.len() > 1 {
                q.push(") SELECT 1");
            }
            q.build().execute(c).await?;
        });
        start = end;
    }
    Ok(())
}
