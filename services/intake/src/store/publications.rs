//! Publications' SQL: one row each, its figures as a JSON array of `[name, value]` pairs (whole
//! numbers by name; nothing sealed, as nothing in them is personal data).

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use uuid::Uuid;

use super::{StoreDecodeError, StoreError};
use crate::domain::{Publication, PublicationId};

const COLUMNS: &str = "id, reference, as_of, recorded_before, figures, published_by, publish_time";

#[derive(sqlx::FromRow)]
struct PublicationRow {
    id: Uuid,
    reference: String,
    as_of: Ts,
    recorded_before: Ts,
    figures: String,
    published_by: String,
    publish_time: Ts,
}

impl TryFrom<PublicationRow> for Publication {
    type Error = StoreDecodeError;

    fn try_from(row: PublicationRow) -> Result<Self, Self::Error> {
        let figures = serde_json::from_str(&row.figures)
            .map_err(|source| StoreDecodeError::Json { column: "publications.figures", source })?;
        Ok(Publication {
            id: PublicationId(row.id),
            reference: row.reference,
            as_of: row.as_of.0,
            recorded_before: row.recorded_before.0,
            figures,
            published_by: row.published_by,
            publish_time: row.publish_time.0,
        })
    }
}

pub async fn insert_publication(tx: &mut Tx, p: &Publication) -> Result<(), StoreError> {
    let figures = serde_json::to_string(&p.figures)?;
    on_tx!(tx, c => {
        sqlx::query(&format!("INSERT INTO publications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(p.id.0)
            .bind(&p.reference)
            .bind(Ts(p.as_of))
            .bind(Ts(p.recorded_before))
            .bind(&figures)
            .bind(&p.published_by)
            .bind(Ts(p.publish_time))
            .execute(c)
            .await?;
    });
    Ok(())
}

/// The publication with this id, or else with this reference (as
/// [`doxwatch_kit::reference::normalize`] writes it).
pub async fn get_publication(
    tx: &mut Tx,
    id: Option<PublicationId>,
    reference: Option<&str>,
) -> Result<Option<Publication>, StoreError> {
    let row: Option<PublicationRow> = on_tx!(tx, c => {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM publications WHERE id = $1 OR reference = $2"))
            .bind(id.map_or(Uuid::nil(), |id| id.0))
            .bind(reference.unwrap_or(""))
            .fetch_optional(c)
            .await?
    });
    Ok(row.map(Publication::try_from).transpose()?)
}

/// A page of publications after `after`, in id order (which is record order).
pub async fn list_publications(tx: &mut Tx, after: Option<Uuid>, limit: u32) -> Result<Vec<Publication>, StoreError> {
    let rows: Vec<PublicationRow> = on_tx!(tx, c => {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM publications WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(i64::from(limit))
            .fetch_all(c)
            .await?
    });
    Ok(rows.into_iter().map(Publication::try_from).collect::<Result<_, _>>()?)
}
