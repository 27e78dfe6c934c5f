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

/// A time in whole microseconds since the Unix epoch, rounded down as `Ts` keeps a time (before
/// 1970 too); a business time is within years 0000–9999, far inside the range.
fn whole_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000)).unwrap_or(i64::MAX)
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
                seen_at_micros: whole_micros(r.seen_at),
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

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_staged_time_keeps_the_microsecond_the_store_would() {
        assert_eq!(whole_micros(datetime!(1970-01-01 0:00:00.000_001_9 UTC)), 1);
        // Before 1970 the microsecond is still the one the time falls in, not the one nearer 1970.
        assert_eq!(whole_micros(datetime!(1969-12-31 23:59:59.999_999_5 UTC)), -1);
        let t = datetime!(2019-06-14 08:30:00.123_456_789 UTC);
        let back = OffsetDateTime::from_unix_timestamp_nanos(i128::from(whole_micros(t)) * 1_000).expect("in range");
        assert_eq!(back, doxwatch_kit::rollup::stored(t));
    }
}
