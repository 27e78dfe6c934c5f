//! The removal figures as at a moment, recorded before another: from the sums and the edge
//! seconds' points (see `doxwatch_kit::rollup::store`), whatever the length of the history; and, as the
//! specification they are checked against, one snapshot per link involved, computed directly.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code, link_status_as_at, link_was_removed_as_at, rollups};
use crate::domain::{
    rollups::{Measure, figures as from_sums},
    *,
};

/// The figures as at `as_of`, recorded before `recorded_before`, from the sums kept per grain
/// (see `doxwatch_kit::rollup::store`): the whole months before both moments' months, then for
/// each finer unit the periods next to the two moments, and the points of their two seconds and
/// those not yet folded. So it reads the same however long the history and however many links.
pub async fn figures(
    tx: &mut Tx,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
) -> Result<LinkFigures, StoreError> {
    let rows = rollups::TABLES.sums(tx, as_of, recorded_before).await?;
    let mut sums = Vec::with_capacity(rows.len());
    for ([platform, channel], measure, value, n) in rows {
        let measure = Measure::from_code(measure)
            .ok_or(StoreError::UnknownCode { column: "link_figure_points.measure", value: measure })?;
        let channel = (!channel.is_nil()).then_some(ChannelId(channel));
        sums.push((PlatformId(platform), channel, measure, value, n));
    }
    Ok(from_sums(sums))
}

/// One snapshot per link involved as at `as_of`, recorded before `recorded_before`, read from
/// the links' rows: what [`figures`] must equal once tallied. Not for serving: it reads every
/// link.
pub async fn snapshots(
    tx: &mut Tx,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
) -> Result<Vec<LinkSnapshot>, StoreError> {
    let sql = format!(
        "SELECT x.platform_id, x.channel_id, x.first_request, x.status, x.was_removed, \
           (SELECT MIN(o.observed_at) FROM observations o WHERE o.link_id = x.id AND o.source <> 3 \
              AND o.status IN (2, 4) AND o.observed_at <= $1 AND o.record_time < $2 \
              AND o.observed_at >= x.first_request) AS removed_at \
         FROM (SELECT l.id, l.platform_id, l.channel_id, \
                 (SELECT MIN(r.served_at) FROM removal_requests r WHERE r.link_id = l.id \
                    AND r.served_at <= $1 AND r.record_time < $2) AS first_request, \
                 {status} AS status, {was_removed} AS was_removed \
               FROM links l \
               WHERE EXISTS (SELECT 1 FROM link_sightings s WHERE s.link_id = l.id \
                               AND s.seen_at <= $1 AND s.record_time < $2)) x",
        status = link_status_as_at!("$1", "$2"),
        was_removed = link_was_removed_as_at!("$1", "$2"),
    );
    type Row = (Uuid, Option<Uuid>, Option<Ts>, Option<i16>, bool, Option<Ts>);
    let rows: Vec<Row> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(Ts(as_of)).bind(recorded_before.map_or(Ts::max(), Ts)).fetch_all(c).await?
    });
    rows.into_iter()
        .map(|(platform, channel, first_request, status, was_removed, removed_at)| {
            Ok(LinkSnapshot {
                platform: PlatformId(platform),
                channel: channel.map(ChannelId),
                first_request: first_request.map(|t| t.0),
                status: match status {
                    Some(s) => code(s, LinkStatus::from_code, "observations.status")?,
                    None => LinkStatus::Online,
                },
                removed_at: removed_at.map(|t| t.0),
                reappeared: was_removed && status == Some(LinkStatus::Online.code() as i16),
            })
        })
        .collect()
}
