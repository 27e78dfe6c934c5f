//! Which cases cite each link: one row per (link, case) beside the sightings, and the link's count
//! kept in the same transaction (see the migrations `0006_link_citations` and
//! `0013_link_case_counts`). A link is answered with
//! its count and its first few cases, read by a seek however many cases cite it; the rest are
//! listed a page at a time.

use std::collections::{BTreeMap, HashMap};

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError};
use crate::domain::*;

/// How many counter rows a link's count of citing cases is spread over, on PostgreSQL (the
/// migration `0013_link_case_counts`).
const COUNT_SHARDS: u32 = 16;

/// Links whose first cases are read in one statement, each by its own seek.
const SEEKS: usize = 100;

/// Records the citations not yet recorded and adds each to its link's count.
pub async fn add(tx: &mut Tx, citations: &[(LinkId, CaseRef)], now: OffsetDateTime) -> Result<(), StoreError> {
    // In (link, case) order, so that concurrent writers take their row locks in one order.
    let mut distinct: Vec<(Uuid, String)> = citations.iter().map(|(l, c)| (l.0, c.name())).collect();
    distinct.sort();
    distinct.dedup();
    let mut added: BTreeMap<Uuid, i64> = BTreeMap::new();
    for chunk in distinct.chunks(BATCH) {
        let new: Vec<(Uuid,)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("INSERT INTO link_citations (link_id, case_name, record_time) ");
            q.push_values(chunk, |mut row, (link, case)| {
                row.push_bind(*link).push_bind(case.as_str()).push_bind(Ts(now));
            });
            q.push(" ON CONFLICT DO NOTHING RETURNING link_id");
            q.build_query_as().fetch_all(c).await?
        });
        for (link,) in new {
            *added.entry(link).or_default() += 1;
        }
    }
    // On PostgreSQL a write adds to one of each link's counter rows, picked by the moment it
    // writes, so that writers citing one link do not all wait for one row; SQLite has one writer.
    let shard = if tx.is_postgres() { (now.nanosecond() / 1000 % COUNT_SHARDS) as i16 } else { 0 };
    let added: Vec<(Uuid, i64)> = added.into_iter().collect();
    for chunk in added.chunks(BATCH) {
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new("INSERT INTO link_case_counts (link_id, shard, n) ");
            q.push_values(chunk, |mut row, (link, n)| {
                row.push_bind(*link).push_bind(shard).push_bind(*n);
            });
            q.push(" ON CONFLICT (link_id, shard) DO UPDATE SET n = link_case_counts.n + excluded.n");
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

/// The first [`CASES_ON_LINK`] citing cases of each link, in name order, given each link's count.
/// A link cited by a few cases has them read together with the others'; a link cited by more has
/// only its first few read, by a seek of its own.
pub async fn first_cases(tx: &mut Tx, links: &[(Uuid, i64)]) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let few: Vec<Uuid> = links.iter().filter(|(_, n)| (1..=CASES_ON_LINK as i64).contains(n)).map(|l| l.0).collect();
    let many: Vec<Uuid> = links.iter().filter(|(_, n)| *n > CASES_ON_LINK as i64).map(|l| l.0).collect();
    let mut rows: Vec<(Uuid, String)> = Vec::new();
    for chunk in few.chunks(BATCH) {
        let found: Vec<(Uuid, String)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT link_id, case_name FROM link_citations WHERE link_id IN ");
            super::push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        rows.extend(found);
    }
    for chunk in many.chunks(SEEKS) {
        let found: Vec<(Uuid, String)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("");
            for (i, link) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(" UNION ALL ");
                }
                q.push("SELECT * FROM (SELECT link_id, case_name FROM link_citations WHERE link_id = ")
                    .push_bind(*link)
                    .push(" ORDER BY case_name LIMIT ")
                    .push_bind(CASES_ON_LINK as i64)
                    .push(") AS first");
            }
            q.build_query_as().fetch_all(c).await?
        });
        rows.extend(found);
    }
    rows.sort();
    let mut cases: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (link, case) in rows {
        cases.entry(link).or_default().push(case);
    }
    Ok(cases)
}

/// Up to `limit` citations of `link` after the case named `after`, in case name order.
pub async fn list(tx: &mut Tx, link: LinkId, after: &str, limit: u32) -> Result<Vec<Citation>, StoreError> {
    let rows: Vec<(String, Option<Ts>, Ts)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT c.case_name, \
                    (SELECT MIN(s.seen_at) FROM link_sightings s WHERE s.link_id = c.link_id AND s.case_name = c.case_name), \
                    c.record_time \
             FROM link_citations c WHERE c.link_id = $1 AND c.case_name > $2 ORDER BY c.case_name LIMIT $3",
        )
        .bind(link.0)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    rows.into_iter()
        .map(|(case_name, first_seen_at, record_time)| {
            let case = CaseRef::parse_name(&case_name)
                .map_err(|_| StoreError::Invalid { column: "link_citations.case_name", value: case_name.clone() })?;
            Ok(Citation {
                link,
                case,
                first_seen_at: first_seen_at.map_or(record_time.0, |t| t.0),
                create_time: record_time.0,
            })
        })
        .collect()
}
