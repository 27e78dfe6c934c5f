//! The pending points a transaction adds, held until its commit (see [`Tx`]).

use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::store::BATCH;
use crate::{
    db::{Ts, Tx},
    on_tx,
};

/// Pending points a transaction has added to one table and not yet written.
pub(crate) struct HeldPoints {
    pub(super) table: &'static str,
    /// The scope's columns, each followed by ", ".
    pub(super) scope: String,
    pub(super) rows: Vec<(OffsetDateTime, OffsetDateTime, Vec<Uuid>, i64, i64, i64)>,
}

/// Writes the pending points `held`, a statement per [`BATCH`] rows of a table.
pub(crate) async fn write_held(tx: &mut Tx, held: Vec<HeldPoints>) -> Result<(), sqlx::Error> {
    for points in &held {
        for chunk in points.rows.chunks(BATCH) {
            on_tx!(tx, c => {
                let mut q = QueryBuilder::new(format!(
                    "INSERT INTO {} (business_time, record_time, {}measure, value, n) ",
                    points.table, points.scope
                ));
                q.push_values(chunk, |mut row, (b, r, ids, m, v, n)| {
                    row.push_bind(Ts(*b)).push_bind(Ts(*r));
                    for id in ids {
                        row.push_bind(*id);
                    }
                    row.push_bind(*m).push_bind(*v).push_bind(*n);
                });
                q.build().execute(c).await?;
            });
        }
    }
    Ok(())
}
