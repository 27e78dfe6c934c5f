//! The registrations of an ImportLinks stream, staged a message at a time while the stream
//! arrives and read back in order when it is merged (see the migrations `0005_import_staging` and
//! `0011_import_staging_messages`). A message's registrations are kept as one encoded value: the
//! merge reads a row per message, not one per registration.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;
use crate::domain::*;

/// One message's registrations as staged.
#[derive(Clone, PartialEq, Message)]
struct StagedMessage {
    #[prost(message, repeated, tag = "1")]
    registrations: Vec<StagedRegistration>,
}

/// A registration as staged: its case's name (empty for none) and when it was seen, in whole
/// microseconds since the Unix epoch, as the store keeps times.
#[derive(Clone, PartialEq, Message)]
struct StagedRegistration {
    #[prost(string, tag = "1")]
    url: String,
    #[prost(string, tag = "2")]
    case_name: String,
    #[prost(int64, tag = "3")]
    seen_at_micros: i64,
}

/// Stages one message's registrations of import `import`, the first at stream position `first`.
pub async fn stage(
    tx: &mut Tx,
    import: Uuid,
    first: i64,
    registrations: &[Registration],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let message = StagedMessage {
        registrations: registrations
            .iter()
            .map(|r| StagedRegistration {
                url: r.url.clone(),
                case_name: r.case.map(|c| c.name()).unwrap_or_default(),
                // Whole microseconds, as `Ts` keeps a time; a business time is within years 0000–9999.
                seen_at_micros: i64::try_from(r.seen_at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX),
            })
            .collect(),
    };
    let encoded = message.encode_to_vec();
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO import_staging (import_id, position, registrations, stage_time) VALUES ($1, $2, $3, $4)")
            .bind(import)
            .bind(first)
            .bind(encoded.as_slice())
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(())
}

/// The next message staged for `import` after stream position `after`: the position of its first
/// registration, and its registrations in order.
pub async fn next_staged(
    tx: &mut Tx,
    import: Uuid,
    after: i64,
) -> Result<Option<(i64, Vec<Registration>)>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT position, registrations FROM import_staging \
             WHERE import_id = $1 AND position > $2 ORDER BY position LIMIT 1",
        )
        .bind(import)
        .bind(after)
        .fetch_optional(c)
        .await?
    });
    let Some((position, encoded)) = row else { return Ok(None) };
    let invalid = |value: String| StoreError::Invalid { column: "import_staging.registrations", value };
    let message = StagedMessage::decode(encoded.as_slice()).map_err(|e| invalid(e.to_string()))?;
    let registrations = message
        .registrations
        .into_iter()
        .map(|r| {
            let case = match r.case_name.as_str() {
                "" => None,
                name => Some(CaseRef::parse_name(name).map_err(|_| invalid(r.case_name.clone()))?),
            };
            let seen_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.seen_at_micros) * 1_000)
                .map_err(|_| invalid(format!("seen at {} µs", r.seen_at_micros)))?;
            Ok(Registration { url: r.url, case, seen_at })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some((position, registrations)))
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
