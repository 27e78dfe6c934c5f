//! The registrations of an ImportLinks stream, staged while the stream arrives and read back in
//! order when it is merged (see the migration `0005_import_staging`).

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError};
use crate::domain::*;

/// Stages registrations of import `import` at positions `first`, `first + 1`, ….
pub async fn stage(
    tx: &mut Tx,
    import: Uuid,
    first: i64,
    registrations: &[Registration],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let positioned: Vec<(i64, &Registration)> = (first..).zip(registrations).collect();
    for chunk in positioned.chunks(BATCH) {
        on_tx!(tx, c => {
            let mut q =
                QueryBuilder::new("INSERT INTO import_staging (import_id, position, url, case_name, seen_at, stage_time) ");
            q.push_values(chunk, |mut row, (position, r)| {
                row.push_bind(import)
                    .push_bind(*position)
                    .push_bind(r.url.as_str())
                    .push_bind(r.case.map(|c| c.name()).unwrap_or_default())
                    .push_bind(Ts(r.seen_at))
                    .push_bind(Ts(now));
            });
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

/// Up to `limit` staged registrations of `import` after position `after`, in order, each with
/// its position.
pub async fn staged(tx: &mut Tx, import: Uuid, after: i64, limit: u32) -> Result<Vec<(i64, Registration)>, StoreError> {
    let rows: Vec<(i64, String, String, Ts)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT position, url, case_name, seen_at FROM import_staging \
             WHERE import_id = $1 AND position > $2 ORDER BY position LIMIT $3",
        )
        .bind(import)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    rows.into_iter()
        .map(|(position, url, case_name, seen_at)| {
            let case = match case_name.as_str() {
                "" => None,
                name => Some(CaseRef::parse_name(name).map_err(|_| StoreError::Invalid {
                    column: "import_staging.case_name",
                    value: case_name.clone(),
                })?),
            };
            Ok((position, Registration { url, case, seen_at: seen_at.0 }))
        })
        .collect()
}

/// Forgets what import `import` staged.
pub async fn discard(tx: &mut Tx, import: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM import_staging WHERE import_id = $1").bind(import).execute(c).await?;
    });
    Ok(())
}

/// Forgets what imports staged before `before` (those of a server that died mid-stream).
pub async fn sweep(tx: &mut Tx, before: OffsetDateTime) -> Result<u64, StoreError> {
    let done = on_tx!(tx, c => {
        sqlx::query("DELETE FROM import_staging WHERE stage_time < $1").bind(Ts(before)).execute(c).await?.rows_affected()
    });
    Ok(done)
}
