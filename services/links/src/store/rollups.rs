//! Keeps the figure points (`link_figure_pending`, folded into `link_figure_grains` by the kit)
//! in step with every write that can change a figure: sightings, removal requests and
//! observations (an erasure changes no figure: it keeps a link's sightings, requests and
//! observations). A write reads its links' histories before and after, in its own transaction,
//! and adds the difference (see `domain::rollups`); on PostgreSQL it first locks its links' rows,
//! in id order, so that two writers of one link take turns and each sees the other's rows. A
//! sighting that an earlier one covers moves no figure, and its link's history is not read
//! (`moving_sightings`).

use std::collections::{BTreeMap, HashMap};

use doxwatch_kit::{
    db::{Ts, Tx, TxConn},
    on_tx,
    rollup::store::Tables,
};
use sqlx::QueryBuilder;
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

use super::{BATCH, StoreError, code, push_list};
use crate::domain::{
    rollups::{Confirmed, LinkHistory, Points, correction},
    *,
};

/// Where a link's points are counted: its platform and its channel (the nil id for none).
pub type Scope = (Uuid, Uuid);

/// The links a write is about to change, as they stood before it.
pub struct BeforeWrite {
    from: OffsetDateTime,
    scopes: BTreeMap<Uuid, Scope>,
    histories: HashMap<Uuid, LinkHistory>,
}

/// Locks `links` on PostgreSQL, in id order, until the commit (SQLite has one writer): the links
/// whose figures a write moves. A sighting that moves no figure locks nothing: a link cited by
/// case after case is not a queue.
async fn lock(tx: &mut Tx, links: &[LinkId]) -> Result<(), StoreError> {
    if let TxConn::Postgres(c) = &mut tx.conn {
        let mut ids: Vec<Uuid> = links.iter().map(|l| l.0).collect();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(BATCH) {
            sqlx::query("SELECT id FROM links WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE")
                .bind(chunk)
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
}

/// Locks `links` (PostgreSQL; SQLite has one writer) and reads their histories from `now` on.
pub async fn before_write(tx: &mut Tx, links: &[LinkId], now: OffsetDateTime) -> Result<BeforeWrite, StoreError> {
    // The store keeps microseconds: the rows this write adds carry `now` truncated so.
    let from = doxwatch_kit::rollup::stored(now);
    let mut ids: Vec<Uuid> = links.iter().map(|l| l.0).collect();
    ids.sort_unstable();
    ids.dedup();
    lock(tx, links).await?;
    let mut scopes = BTreeMap::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<(Uuid, Uuid, Option<Uuid>)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT id, platform_id, channel_id FROM links WHERE id IN ");
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        scopes.extend(rows.into_iter().map(|(id, p, c)| (id, (p, c.unwrap_or(Uuid::nil())))));
    }
    let ids: Vec<Uuid> = scopes.keys().copied().collect();
    let histories = histories(tx, &ids, from).await?;
    Ok(BeforeWrite { from, scopes, histories })
}

impl BeforeWrite {
    /// Reads the histories again, now that the write is made, and adds the difference.
    pub async fn after_write(self, tx: &mut Tx) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = self.scopes.keys().copied().collect();
        let after = histories(tx, &ids, self.from).await?;
        let empty = LinkHistory::default();
        let mut points = Vec::new();
        for (id, scope) in &self.scopes {
            let before = self.histories.get(id).unwrap_or(&empty);
            let changed = correction(before, after.get(id).unwrap_or(&empty), self.from);
            if !changed.is_empty() {
                points.push((*scope, changed));
            }
        }
        add(tx, points).await
    }
}

/// Adds the points of links this write created, from the sightings it recorded of them (link and
/// seen at). A created link had no rows before the write, so its points are its whole history and
/// are known without reading it back: the points [`before_write`] and [`BeforeWrite::after_write`]
/// would find, for none of the rows a bulk import reads twice per link otherwise.
pub async fn add_created(
    tx: &mut Tx,
    created: &HashMap<LinkId, Scope>,
    sightings: impl IntoIterator<Item = (LinkId, OffsetDateTime)>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let from = doxwatch_kit::rollup::stored(now);
    let mut histories: BTreeMap<LinkId, LinkHistory> = BTreeMap::new();
    for (link, seen_at) in sightings {
        histories.entry(link).or_default().sightings.push((doxwatch_kit::rollup::stored(seen_at), from));
    }
    let empty = LinkHistory::default();
    let points = histories
        .iter()
        .filter_map(|(link, history)| {
            let scope = created.get(link)?;
            let changed = correction(&empty, history, from);
            (!changed.is_empty()).then_some((*scope, changed))
        })
        .collect();
    add(tx, points).await
}

/// Builds the points and sums of every link from its rows, in the caller's transaction, if the
/// store still has them to build (a store migrated with links in it). Returns whether it found
/// any to build.
pub async fn build_if_unbuilt(tx: &mut Tx) -> Result<bool, StoreError> {
    let claimed = on_tx!(tx, c => {
        sqlx::query("DELETE FROM link_figures_unbuilt").execute(c).await?.rows_affected()
    });
    if claimed == 0 {
        return Ok(false);
    }
    // Earlier than any record time: every row enters the points.
    let from = datetime!(1900-01-01 0:00 UTC);
    let mut after = Uuid::nil();
    let mut built = false;
    loop {
        let rows: Vec<(Uuid, Uuid, Option<Uuid>)> = on_tx!(tx, c => {
            sqlx::query_as("SELECT id, platform_id, channel_id FROM links WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(BATCH as i64)
                .fetch_all(c)
                .await?
        });
        let Some(last) = rows.last() else { break };
        built = true;
        after = last.0;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
        let mut histories = histories(tx, &ids, from).await?;
        let points = rows
            .into_iter()
            .filter_map(|(id, p, c)| {
                let points = histories.remove(&id)?.points_from(from);
                (!points.is_empty()).then_some(((p, c.unwrap_or(Uuid::nil())), points))
            })
            .collect();
        add(tx, points).await?;
    }
    Ok(built)
}

/// The histories of `ids` (sorted, distinct, at most a few thousand) from record time `from` on.
async fn histories(tx: &mut Tx, ids: &[Uuid], from: OffsetDateTime) -> Result<HashMap<Uuid, LinkHistory>, StoreError> {
    let mut out: HashMap<Uuid, LinkHistory> = ids.iter().map(|id| (*id, LinkHistory::default())).collect();
    for chunk in ids.chunks(BATCH) {
        let firsts = first_sightings(tx, chunk, "<", from).await?;
        let sightings: Vec<(Uuid, Ts, Ts)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT link_id, seen_at, record_time FROM link_sightings WHERE record_time >= ");
            q.push_bind(Ts(from)).push(" AND link_id IN ");
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        let requests: Vec<(Uuid, Ts, Ts)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT link_id, served_at, record_time FROM removal_requests WHERE link_id IN ");
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        let observations: Vec<(Uuid, Uuid, i16, Ts, Ts)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "SELECT link_id, id, status, observed_at, record_time FROM observations WHERE source <> 3 AND link_id IN ",
            );
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        for (id, first) in firsts {
            if let Some(h) = out.get_mut(&id) {
                h.first_seen_before = first.map(|t| t.0);
            }
        }
        for (id, seen_at, record_time) in sightings {
            if let Some(h) = out.get_mut(&id) {
                h.sightings.push((seen_at.0, record_time.0));
            }
        }
        for (id, served_at, record_time) in requests {
            if let Some(h) = out.get_mut(&id) {
                h.requests.push((served_at.0, record_time.0));
            }
        }
        for (link, id, status, observed_at, record_time) in observations {
            if let Some(h) = out.get_mut(&link) {
                let status = code(status, LinkStatus::from_code, "observations.status")?;
                h.observations.push(Confirmed { id, status, observed_at: observed_at.0, record_time: record_time.0 });
            }
        }
    }
    Ok(out)
}

/// Each link's earliest seen-at among its sightings whose record time compares with `bound`
/// (`"<"` or `"<="`) to `time`, by a seek on (link, seen at, record time): the first index entry in
/// seen-at order whose record time qualifies (migration 0008). At most [`BATCH`] links.
async fn first_sightings(
    tx: &mut Tx,
    ids: &[Uuid],
    bound: &'static str,
    time: OffsetDateTime,
) -> Result<Vec<(Uuid, Option<Ts>)>, StoreError> {
    Ok(on_tx!(tx, c => {
        let mut q = QueryBuilder::new(
            "SELECT l.id, (SELECT s.seen_at FROM link_sightings s WHERE s.link_id = l.id AND s.record_time ",
        );
        q.push(bound).push(" ").push_bind(Ts(time)).push(" ORDER BY s.seen_at LIMIT 1) FROM links l WHERE l.id IN ");
        push_list(&mut q, ids.iter().copied());
        q.build_query_as().fetch_all(c).await?
    }))
}

/// Of the links a write sees again, those whose new sightings can move a figure; the rest need no
/// history read.
///
/// Sightings enter the figures only through the earliest one a cut keeps. A new sighting (seen at
/// `s`, recorded at `now`) is covered by a stored one seen at or before `s` and recorded at or
/// before `now`: every cut that keeps the new row keeps the stored one, so no figure moves. Stored
/// sightings are never deleted, so the cover holds whatever writes commit later.
pub async fn moving_sightings(
    tx: &mut Tx,
    earliest: &BTreeMap<LinkId, OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Vec<LinkId>, StoreError> {
    let now = doxwatch_kit::rollup::stored(now);
    let ids: Vec<Uuid> = earliest.keys().map(|l| l.0).collect();
    let mut moving = Vec::new();
    for chunk in ids.chunks(BATCH) {
        for (id, first) in first_sightings(tx, chunk, "<=", now).await? {
            let link = LinkId(id);
            let Some(seen) = earliest.get(&link) else { continue };
            if first.is_none_or(|f| f.0 > doxwatch_kit::rollup::stored(*seen)) {
                moving.push(link);
            }
        }
    }
    Ok(moving)
}

/// The links' points and sums (migrations 0007 and 0009), broken down by platform and channel.
pub static TABLES: Tables<2> = Tables {
    pending: "link_figure_pending",
    points: "link_figure_points",
    sums: "link_figure_grains",
    scope: ["platform_id", "channel_id"],
};

/// Appends the points, for the fold to add to the sums.
async fn add(tx: &mut Tx, points: Vec<(Scope, Points)>) -> Result<(), StoreError> {
    let points = points.into_iter().map(|((platform, channel), p)| ([platform, channel], p)).collect();
    Ok(TABLES.add(tx, points).await?)
}
