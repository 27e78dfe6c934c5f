//! Links, their sightings (citing cases and first-seen times), removal requests and observations.
//! The citations a sighting makes are kept by `citations`.

use doxwatch_kit::{
    db::{Ts, Tx, TxConn},
    on_tx,
    sealing::Keyring,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError, code, link_status_as_at, link_was_removed_as_at, push_list};
use crate::domain::*;

/// A new link row.
pub struct NewLink<'a> {
    pub id: LinkId,
    pub reported_url: &'a str,
    pub canonical_url: &'a str,
    pub platform: PlatformId,
    pub channel: Option<ChannelId>,
    pub message_id: Option<&'a str>,
    pub now: OffsetDateTime,
}

pub async fn find_by_canonical(tx: &mut Tx, canonical_url: &str) -> Result<Option<LinkId>, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM links WHERE canonical_url = $1").bind(canonical_url).fetch_optional(c).await?
    });
    Ok(row.map(|(id,)| LinkId(id)))
}

/// The links already known by these canonical URLs.
pub async fn find_many_by_canonical(
    tx: &mut Tx,
    canonical_urls: &[&str],
) -> Result<std::collections::HashMap<String, LinkId>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in canonical_urls.chunks(BATCH) {
        let rows: Vec<(String, Uuid)> = match &mut tx.conn {
            // One array: the statement is planned once.
            TxConn::Postgres(c) => {
                sqlx::query_as("SELECT canonical_url, id FROM links WHERE canonical_url = ANY($1::text[])")
                    .bind(chunk)
                    .fetch_all(&mut **c)
                    .await?
            }
            TxConn::Sqlite(c) => {
                let mut q = QueryBuilder::new("SELECT canonical_url, id FROM links WHERE canonical_url IN ");
                push_list(&mut q, chunk.iter().copied());
                q.build_query_as().fetch_all(&mut **c).await?
            }
        };
        found.extend(rows.into_iter().map(|(url, id)| (url, LinkId(id))));
    }
    Ok(found)
}

/// Inserts new links, many rows per statement. On PostgreSQL a statement binds one array per
/// column, so it is planned once however many rows a batch has.
pub async fn insert_many(tx: &mut Tx, links: &[NewLink<'_>]) -> Result<(), StoreError> {
    for chunk in links.chunks(BATCH) {
        match &mut tx.conn {
            TxConn::Postgres(c) => {
                sqlx::query(
                    "INSERT INTO links (id, reported_url, canonical_url, platform_id, channel_id, message_id, create_time) \
                     SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::text[], $7::timestamptz[])",
                )
                .bind(chunk.iter().map(|l| l.id.0).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.reported_url).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.canonical_url).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.platform.0).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.channel.map(|c| c.0)).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.message_id).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.now).collect::<Vec<_>>())
                .execute(&mut **c)
                .await?;
            }
            TxConn::Sqlite(c) => {
                let mut q = QueryBuilder::new(
                    "INSERT INTO links (id, reported_url, canonical_url, platform_id, channel_id, message_id, create_time) ",
                );
                q.push_values(chunk, |mut row, link| {
                    row.push_bind(link.id.0)
                        .push_bind(link.reported_url)
                        .push_bind(link.canonical_url)
                        .push_bind(link.platform.0)
                        .push_bind(link.channel.map(|c| c.0))
                        .push_bind(link.message_id)
                        .push_bind(Ts(link.now));
                });
                q.build().execute(&mut **c).await?;
            }
        }
    }
    Ok(())
}

/// A sighting to record: the link, the citing case (if any), and when it was seen.
pub type Sighting = (LinkId, Option<CaseRef>, OffsetDateTime);

/// Records sightings, many rows per statement; a sighting already recorded is kept once.
/// `created` are the links this write inserted (none of them has a row yet but these sightings).
pub async fn add_sightings(
    tx: &mut Tx,
    sightings: &[Sighting],
    created: &[NewLink<'_>],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut distinct: Vec<&Sighting> = Vec::with_capacity(sightings.len());
    let mut seen = std::collections::HashSet::new();
    for s in sightings {
        if seen.insert((s.0, s.1, s.2)) {
            distinct.push(s);
        }
    }
    let created: std::collections::HashMap<LinkId, super::rollups::Scope> =
        created.iter().map(|l| (l.id, (l.platform.0, l.channel.map_or(Uuid::nil(), |c| c.0)))).collect();
    // Only links that had rows before this write, and whose figures these sightings can move, need
    // their histories read around it: a link cited by case after case is not read twice a write.
    let mut earliest: std::collections::BTreeMap<LinkId, OffsetDateTime> = std::collections::BTreeMap::new();
    for (link, _, seen_at) in distinct.iter().filter(|s| !created.contains_key(&s.0)) {
        earliest.entry(*link).and_modify(|t| *t = (*t).min(*seen_at)).or_insert(*seen_at);
    }
    // Only those links are locked: a sighting that moves no figure changes nothing of its link's
    // but its count, kept in counter rows of its own (`store::citations`).
    let moving = super::rollups::moving_sightings(tx, &earliest, now).await?;
    let figures = super::rollups::before_write(tx, &moving, now).await?;
    for chunk in distinct.chunks(BATCH) {
        insert_sightings(tx, chunk, now).await?;
    }
    figures.after_write(tx).await?;
    let fresh = distinct.iter().filter(|s| created.contains_key(&s.0)).map(|s| (s.0, s.2));
    super::rollups::add_created(tx, &created, fresh, now).await?;
    let citations: Vec<(LinkId, CaseRef)> = distinct.iter().filter_map(|(l, c, _)| c.map(|c| (*l, c))).collect();
    super::citations::add(tx, &citations, now).await
}

/// Inserts a batch of sightings recorded at `now`, keeping once one already recorded; on
/// PostgreSQL as arrays, like [`insert_many`].
async fn insert_sightings(tx: &mut Tx, sightings: &[&Sighting], now: OffsetDateTime) -> Result<(), StoreError> {
    let case_name = |case: &Option<CaseRef>| case.map(|c| c.name()).unwrap_or_default();
    match &mut tx.conn {
        TxConn::Postgres(c) => {
            sqlx::query(
                "INSERT INTO link_sightings (link_id, case_name, seen_at, record_time) \
                 SELECT link_id, case_name, seen_at, $4 FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[]) \
                 AS s (link_id, case_name, seen_at) ON CONFLICT DO NOTHING",
            )
            .bind(sightings.iter().map(|s| s.0.0).collect::<Vec<_>>())
            .bind(sightings.iter().map(|s| case_name(&s.1)).collect::<Vec<_>>())
            .bind(sightings.iter().map(|s| s.2).collect::<Vec<_>>())
            .bind(Ts(now))
            .execute(&mut **c)
            .await?;
        }
        TxConn::Sqlite(c) => {
            let mut q = QueryBuilder::new("INSERT INTO link_sightings (link_id, case_name, seen_at, record_time) ");
            q.push_values(sightings.iter().copied(), |mut row, (link, case, seen_at)| {
                row.push_bind(link.0).push_bind(case_name(case)).push_bind(Ts(*seen_at)).push_bind(Ts(now));
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut **c).await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: Uuid,
    reported_url: String,
    canonical_url: String,
    platform_id: Uuid,
    channel_id: Option<Uuid>,
    message_id: Option<String>,
    create_time: Ts,
    case_count: i64,
    first_seen_at: Option<Ts>,
    status: Option<i16>,
    was_removed: bool,
}

/// A link's count of citing cases is the sum of its counter rows (`store::citations`).
const LINK_COLUMNS: &str = "l.id, l.reported_url, l.canonical_url, l.platform_id, l.channel_id, l.message_id, l.create_time, \
     (SELECT CAST(COALESCE(SUM(k.n), 0) AS BIGINT) FROM link_case_counts k WHERE k.link_id = l.id) AS case_count, \
     (SELECT MIN(s.seen_at) FROM link_sightings s WHERE s.link_id = l.id) AS first_seen_at";
async fn decode(tx: &mut Tx, rows: Vec<LinkRow>) -> Result<Vec<Link>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // A link carries its count and its first few cases, never every case citing it.
    let counts: Vec<(Uuid, i64)> = rows.iter().map(|r| (r.id, r.case_count)).collect();
    let mut first_cases = super::citations::first_cases(tx, &counts).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Link {
                id: LinkId(r.id),
                reported_url: r.reported_url,
                canonical_url: r.canonical_url,
                platform: PlatformId(r.platform_id),
                channel: r.channel_id.map(ChannelId),
                message_id: r.message_id,
                first_seen_at: r.first_seen_at.map_or(r.create_time.0, |t| t.0),
                case_count: r.case_count,
                first_cases: first_cases
                    .remove(&r.id)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|name| CaseRef::parse_name(name).ok())
                    .collect(),
                status: match r.status {
                    Some(s) => code(s, LinkStatus::from_code, "observations.status")?,
                    None => LinkStatus::Online,
                },
                reappeared: r.was_removed && r.status == Some(LinkStatus::Online.code() as i16),
                create_time: r.create_time.0,
            })
        })
        .collect()
}

/// The links with these ids, in the order given; unknown ids are left out.
pub async fn load(tx: &mut Tx, ids: &[LinkId]) -> Result<Vec<Link>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The moment "now, whatever was recorded" is bound once, as `m.t`, for both subqueries.
    let select = format!(
        "SELECT {LINK_COLUMNS}, {} AS status, {} AS was_removed FROM links l, (SELECT ",
        link_status_as_at!("m.t", "m.t"),
        link_was_removed_as_at!("m.t", "m.t"),
    );
    let mut rows: Vec<LinkRow> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let found: Vec<LinkRow> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(&select);
            q.push_bind(Ts::max()).push(" AS t) m WHERE l.id IN ");
            push_list(&mut q, chunk.iter().map(|id| id.0));
            q.build_query_as().fetch_all(c).await?
        });
        rows.extend(found);
    }
    let mut links = decode(tx, rows).await?;
    let position = |id: &LinkId| ids.iter().position(|x| x == id).unwrap_or(usize::MAX);
    links.sort_by_key(|l| position(&l.id));
    Ok(links)
}

/// Filters of ListLinks; `None` is "any".
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkFilter {
    pub platform: Option<Uuid>,
    pub channel: Option<Uuid>,
    pub status: Option<i32>,
    pub as_of: Option<OffsetDateTime>,
    pub case: Option<String>,
    pub first_seen_after: Option<OffsetDateTime>,
    pub first_seen_before: Option<OffsetDateTime>,
    /// Only links that reappeared as at `as_of` (or now).
    pub reappeared: bool,
}

pub async fn list(tx: &mut Tx, f: &LinkFilter, after: Option<Uuid>, limit: u32) -> Result<Vec<Link>, StoreError> {
    let sql = format!(
        "SELECT * FROM (SELECT {LINK_COLUMNS}, {status_now} AS status, {status_then} AS status_then, \
                {removed_now} AS was_removed, {removed_then} AS was_removed_then FROM links l \
           WHERE l.id > $1 \
             AND ($2 OR l.platform_id = $3) \
             AND ($4 OR l.channel_id = $5) \
             {by_case}) x \
         WHERE ($7 = 0 OR COALESCE(x.status_then, 1) = $7) \
           AND x.first_seen_at >= $9 AND x.first_seen_at < $10 \
           AND (NOT $13 OR (x.status_then = 1 AND x.was_removed_then)) \
         ORDER BY x.id LIMIT $11",
        status_now = link_status_as_at!("$12", "$12"),
        status_then = link_status_as_at!("$8", "$12"),
        removed_now = link_was_removed_as_at!("$12", "$12"),
        removed_then = link_was_removed_as_at!("$8", "$12"),
        // A case cites a few links: they are found by the (case_name, link_id) index of the
        // sightings, not by reading every link and asking each whether the case cites it.
        by_case = if f.case.is_some() {
            "AND l.id IN (SELECT s.link_id FROM link_sightings s WHERE s.case_name = $6)"
        } else {
            "AND $6 = ''"
        },
    );
    let min = Ts(time::macros::datetime!(1900-01-01 0:00 UTC));
    let rows: Vec<LinkRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(f.platform.is_none())
            .bind(f.platform.unwrap_or(Uuid::nil()))
            .bind(f.channel.is_none())
            .bind(f.channel.unwrap_or(Uuid::nil()))
            .bind(f.case.clone().unwrap_or_default())
            .bind(f.status.unwrap_or(0) as i16)
            .bind(f.as_of.map_or(Ts::max(), Ts))
            .bind(f.first_seen_after.map_or(min, Ts))
            .bind(f.first_seen_before.map_or(Ts::max(), Ts))
            .bind(i64::from(limit))
            .bind(Ts::max())
            .bind(f.reappeared)
            .fetch_all(c)
            .await?
    });
    decode(tx, rows).await
}

/// Which of `ids` exist, as a set.
pub async fn existing(tx: &mut Tx, ids: &[LinkId]) -> Result<std::collections::HashSet<LinkId>, StoreError> {
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT id FROM links WHERE id IN ");
            push_list(&mut q, chunk.iter().map(|id| id.0));
            q.build_query_as().fetch_all(c).await?
        });
        found.extend(rows.into_iter().map(|(id,)| LinkId(id)));
    }
    Ok(found)
}

/// Each of `ids` that exists, with its first sighting (the earliest time a case saw it), if a case
/// cites it.
pub async fn first_sightings(
    tx: &mut Tx,
    ids: &[LinkId],
) -> Result<std::collections::HashMap<LinkId, Option<OffsetDateTime>>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<(Uuid, Option<Ts>)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "SELECT l.id, (SELECT MIN(s.seen_at) FROM link_sightings s WHERE s.link_id = l.id) FROM links l \
                 WHERE l.id IN ",
            );
            push_list(&mut q, chunk.iter().map(|id| id.0));
            q.build_query_as().fetch_all(c).await?
        });
        found.extend(rows.into_iter().map(|(id, seen)| (LinkId(id), seen.map(|t| t.0))));
    }
    Ok(found)
}

/// The platform of each of `ids`.
pub async fn platforms_of(tx: &mut Tx, ids: &[LinkId]) -> Result<Vec<(LinkId, PlatformId)>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<(Uuid, Uuid)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT id, platform_id FROM links WHERE id IN ");
            push_list(&mut q, chunk.iter().map(|id| id.0));
            q.build_query_as().fetch_all(c).await?
        });
        out.extend(rows.into_iter().map(|(l, p)| (LinkId(l), PlatformId(p))));
    }
    Ok(out)
}

/// Records the removal requests of a notice; those already recorded for it are left alone.
/// Returns how many were new.
pub async fn record_removal_requests(
    tx: &mut Tx,
    notice: &str,
    links: &[LinkId],
    served_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    let figures = super::rollups::before_write(tx, links, now).await?;
    let mut recorded = 0;
    for link in links {
        let n = on_tx!(tx, c => {
            sqlx::query(
                "INSERT INTO removal_requests (notice, link_id, served_at, record_time) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(notice)
            .bind(link.0)
            .bind(Ts(served_at))
            .bind(Ts(now))
            .execute(c)
            .await?
            .rows_affected()
        });
        recorded += n as i64;
    }
    figures.after_write(tx).await?;
    Ok(recorded)
}

/// The field an observation's note is sealed as.
pub(crate) const OBSERVATION_NOTE: &str = "observations.note";

/// Records observations and their change to the figures.
pub async fn insert_observations(tx: &mut Tx, keys: &Keyring, observations: &[Observation]) -> Result<(), StoreError> {
    let Some(earliest) = observations.iter().map(|o| o.record_time).min() else { return Ok(()) };
    let links: Vec<LinkId> = observations.iter().map(|o| o.link).collect();
    let figures = super::rollups::before_write(tx, &links, earliest).await?;
    for o in observations {
        insert_observation_row(tx, keys, o).await?;
    }
    figures.after_write(tx).await
}

async fn insert_observation_row(tx: &mut Tx, keys: &Keyring, o: &Observation) -> Result<(), StoreError> {
    let note = keys.seal_text(OBSERVATION_NOTE, &o.id.to_string(), &o.note)?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO observations (id, link_id, status, observed_at, vantage, source, note, recorded_by, record_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(o.id)
        .bind(o.link.0)
        .bind(o.status.code() as i16)
        .bind(Ts(o.observed_at))
        .bind(o.vantage.code() as i16)
        .bind(o.source.code() as i16)
        .bind(&note)
        .bind(&o.recorded_by)
        .bind(Ts(o.record_time))
        .execute(c)
        .await?;
    });
    Ok(())
}

pub async fn list_observations(
    tx: &mut Tx,
    keys: &Keyring,
    link: LinkId,
    offset: u64,
    limit: u32,
) -> Result<Vec<Observation>, StoreError> {
    type Row = (Uuid, i16, Ts, i16, i16, String, String, Ts);
    let rows: Vec<Row> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, status, observed_at, vantage, source, note, recorded_by, record_time FROM observations \
             WHERE link_id = $1 ORDER BY observed_at, record_time, id LIMIT $2 OFFSET $3",
        )
        .bind(link.0)
        .bind(i64::from(limit))
        .bind(offset as i64)
        .fetch_all(c)
        .await?
    });
    rows.into_iter()
        .map(|(id, status, observed_at, vantage, source, note, recorded_by, record_time)| {
            Ok(Observation {
                id,
                link,
                status: code(status, LinkStatus::from_code, "observations.status")?,
                observed_at: observed_at.0,
                vantage: code(vantage, Vantage::from_code, "observations.vantage")?,
                source: code(source, ObservationSource::from_code, "observations.source")?,
                note: keys.open_text(OBSERVATION_NOTE, &id.to_string(), &note)?,
                recorded_by,
                record_time: record_time.0,
            })
        })
        .collect()
}
