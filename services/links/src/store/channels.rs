//! Channels and their status history.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code};
use crate::domain::*;

/// The status of channel `ch.id` as at `$as_of` among entries recorded before `$recorded_before`.
macro_rules! channel_status_as_at {
    ($as_of:literal, $recorded_before:literal, $column:literal) => {
        concat!(
            "(SELECT s.",
            $column,
            " FROM channel_statuses s WHERE s.channel_id = ch.id",
            " AND s.effective_at <= ",
            $as_of,
            " AND s.record_time < ",
            $recorded_before,
            " ORDER BY s.effective_at DESC, s.record_time DESC, s.id DESC LIMIT 1)"
        )
    };
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: Uuid,
    platform_id: Uuid,
    handle: String,
    url: String,
    create_time: Ts,
    status: Option<i16>,
    status_since: Option<Ts>,
    /// Not read where it is not shown.
    #[sqlx(default)]
    first_seen: Option<Ts>,
}

fn decode(r: ChannelRow) -> Result<Channel, StoreError> {
    Ok(Channel {
        id: ChannelId(r.id),
        platform: PlatformId(r.platform_id),
        handle: r.handle,
        url: r.url,
        status: match r.status {
            Some(s) => code(s, ChannelStatus::from_code, "channel_statuses.status")?,
            // Before its first status entry took effect the channel was not yet known to be
            // anything but active.
            None => ChannelStatus::Active,
        },
        status_since: r.status_since.or(r.first_seen).map_or(r.create_time.0, |t| t.0),
        create_time: r.create_time.0,
    })
}

/// The channel `handle` on `platform`, created if new. No status is recorded for a new channel:
/// it is ACTIVE, since it was first seen, until something says otherwise, so that a backfilled
/// earlier sighting never hides a later suspension.
pub async fn find_or_create(
    tx: &mut Tx,
    platform: PlatformId,
    handle: &str,
    url: &str,
    now: OffsetDateTime,
) -> Result<ChannelId, StoreError> {
    let found: Option<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM channels WHERE platform_id = $1 AND handle = $2")
            .bind(platform.0)
            .bind(handle)
            .fetch_optional(c)
            .await?
    });
    if let Some((id,)) = found {
        return Ok(ChannelId(id));
    }
    let id = ChannelId::new();
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO channels (id, platform_id, handle, url, create_time) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.0)
            .bind(platform.0)
            .bind(handle)
            .bind(url)
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(id)
}

pub async fn record_status(
    tx: &mut Tx,
    channel: ChannelId,
    status: ChannelStatus,
    effective_at: OffsetDateTime,
    source: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO channel_statuses (id, channel_id, status, effective_at, source, recorded_by, record_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::now_v7())
        .bind(channel.0)
        .bind(status.code() as i16)
        .bind(Ts(effective_at))
        .bind(source)
        .bind(actor)
        .bind(Ts(now))
        .execute(c)
        .await?;
    });
    Ok(())
}

/// When a channel was first seen: the earliest sighting of any of its links.
const FIRST_SEEN: &str =
    "(SELECT MIN(s.seen_at) FROM link_sightings s JOIN links l ON l.id = s.link_id WHERE l.channel_id = ch.id)";

fn select(filter: &str) -> String {
    format!(
        "SELECT ch.id, ch.platform_id, ch.handle, ch.url, ch.create_time, {} AS status, {} AS status_since, \
         {FIRST_SEEN} AS first_seen FROM channels ch WHERE {filter}",
        channel_status_as_at!("$1", "$2", "status"),
        channel_status_as_at!("$1", "$2", "effective_at"),
    )
}

pub async fn get(tx: &mut Tx, id: ChannelId, as_of: OffsetDateTime) -> Result<Option<Channel>, StoreError> {
    let sql = select("ch.id = $3");
    let row: Option<ChannelRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(Ts(as_of)).bind(Ts::max()).bind(id.0).fetch_optional(c).await?
    });
    row.map(decode).transpose()
}

/// A page of channels in id order, by platform and by status as at `as_of`.
pub async fn list(
    tx: &mut Tx,
    platform: Option<PlatformId>,
    status: Option<ChannelStatus>,
    as_of: OffsetDateTime,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Channel>, StoreError> {
    let inner = select("ch.id > $3 AND ($4 OR ch.platform_id = $5)");
    let sql = format!("SELECT * FROM ({inner}) x WHERE ($6 = 0 OR COALESCE(x.status, 1) = $6) ORDER BY x.id LIMIT $7");
    let rows: Vec<ChannelRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql)
            .bind(Ts(as_of))
            .bind(Ts::max())
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(platform.is_none())
            .bind(platform.map_or(Uuid::nil(), |p| p.0))
            .bind(status.map_or(0, ChannelStatus::code) as i16)
            .bind(i64::from(limit))
            .fetch_all(c)
            .await?
    });
    rows.into_iter().map(decode).collect()
}

/// Every channel's status as at `as_of` (recorded before `recorded_before`), for the figures.
/// The moment a status holds since is its entry's; a channel without one (active since it was
/// first seen) gets its creation time instead of its first sighting, which the figures do not
/// show and which would read every link of every channel.
pub async fn all_as_at(
    tx: &mut Tx,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
) -> Result<Vec<Channel>, StoreError> {
    let sql = format!(
        "SELECT ch.id, ch.platform_id, ch.handle, ch.url, ch.create_time, {} AS status, {} AS status_since \
         FROM channels ch WHERE ch.create_time < $2",
        channel_status_as_at!("$1", "$2", "status"),
        channel_status_as_at!("$1", "$2", "effective_at"),
    );
    let rows: Vec<ChannelRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(Ts(as_of)).bind(recorded_before.map_or(Ts::max(), Ts)).fetch_all(c).await?
    });
    rows.into_iter().map(decode).collect()
}
