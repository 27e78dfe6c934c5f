//! The rechecker's claims: when each link is next due, and which replica holds it now. A replica
//! claims due links before it checks them (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single
//! writer on SQLite), so each due link is checked by one replica; a claim that is not released
//! expires, so a crashed replica's links come due again.

use doxwatch_kit::{
    db::{Db, Ts, Tx},
    on_pool, on_tx,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError, code, link_status_as_at, push_list};
use crate::domain::*;

/// Adds the links the rechecker has not seen yet, due since they were created (so that a round
/// that began before another replica enrolled them still finds them due).
pub async fn enroll(db: &Db) -> Result<u64, StoreError> {
    let added = on_pool!(db.write(), p => {
        sqlx::query(
            "INSERT INTO recheck_claims (link_id, next_due_at, consecutive_failures) \
             SELECT l.id, l.create_time, 0 FROM links l \
             WHERE NOT EXISTS (SELECT 1 FROM recheck_claims c WHERE c.link_id = l.id) \
             ON CONFLICT DO NOTHING",
        )
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(added)
}

/// How many links are due at `at` (claimed or not).
pub async fn count_due(db: &Db, at: OffsetDateTime) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_pool!(db.read(), p => {
        sqlx::query_as("SELECT COUNT(*) FROM recheck_claims WHERE next_due_at <= $1").bind(Ts(at)).fetch_one(p).await?
    });
    Ok(n)
}

/// Claims up to `limit` links that were due at `due_by` and that no live claim holds, for
/// `worker` until `until`. Returns their ids.
pub async fn claim(
    db: &Db,
    worker: &str,
    due_by: OffsetDateTime,
    now: OffsetDateTime,
    until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<LinkId>, StoreError> {
    let lock = if db.is_postgres() { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE recheck_claims SET claimed_by = $1, claimed_until = $2 WHERE link_id IN (\
           SELECT c.link_id FROM recheck_claims c \
           WHERE c.next_due_at <= $3 AND (c.claimed_until IS NULL OR c.claimed_until < $4) \
           ORDER BY c.next_due_at, c.link_id LIMIT $5 {lock}) \
         RETURNING link_id"
    );
    let rows: Vec<(Uuid,)> = on_pool!(db.write(), p => {
        sqlx::query_as(&sql)
            .bind(worker)
            .bind(Ts(until))
            .bind(Ts(due_by))
            .bind(Ts(now))
            .bind(limit)
            .fetch_all(p)
            .await?
    });
    Ok(rows.into_iter().map(|(id,)| LinkId(id)).collect())
}

/// A claimed link, with what a check of it needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub link: LinkId,
    pub url: String,
    /// The registry key of the link's platform, which selects its "not available" rules.
    pub platform_key: Option<String>,
    /// The link's status before the check.
    pub status: LinkStatus,
    pub consecutive_failures: i32,
}

pub async fn targets(tx: &mut Tx, ids: &[LinkId]) -> Result<Vec<Target>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The moment "now, whatever was recorded" is bound once, as `m.t`.
    let select = format!(
        "SELECT l.id, l.canonical_url, p.registry_key, {status} AS status, c.consecutive_failures \
         FROM links l JOIN platforms p ON p.id = l.platform_id JOIN recheck_claims c ON c.link_id = l.id, (SELECT ",
        status = link_status_as_at!("m.t", "m.t"),
    );
    type Row = (Uuid, String, Option<String>, Option<i16>, i32);
    let mut rows: Vec<Row> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let found: Vec<Row> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(&select);
            q.push_bind(Ts::max()).push(" AS t) m WHERE l.id IN ");
            push_list(&mut q, chunk.iter().map(|id| id.0));
            q.build_query_as().fetch_all(c).await?
        });
        rows.extend(found);
    }
    rows.into_iter()
        .map(|(id, url, platform_key, status, consecutive_failures)| {
            Ok(Target {
                link: LinkId(id),
                url,
                platform_key,
                status: match status {
                    Some(s) => code(s, LinkStatus::from_code, "observations.status")?,
                    None => LinkStatus::Online,
                },
                consecutive_failures,
            })
        })
        .collect()
}

/// Releases `worker`'s claim of a checked link with its next due time. False when the claim was
/// lost (it expired and another replica took the link): the caller then records nothing.
/// Gives back `links` that `worker` claimed and did not check: due again at once.
pub async fn unclaim(db: &Db, worker: &str, links: &[LinkId]) -> Result<(), StoreError> {
    for chunk in links.chunks(500) {
        on_pool!(db.write(), p => {
            let mut q = sqlx::QueryBuilder::new("UPDATE recheck_claims SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ");
            q.push_bind(worker);
            q.push(" AND link_id IN (");
            let mut ids = q.separated(", ");
            for link in chunk {
                ids.push_bind(link.0);
            }
            q.push(")");
            q.build().execute(p).await?;
        });
    }
    Ok(())
}

pub async fn release(
    tx: &mut Tx,
    link: LinkId,
    worker: &str,
    checked_at: OffsetDateTime,
    next_due_at: OffsetDateTime,
    consecutive_failures: i32,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE recheck_claims SET claimed_by = NULL, claimed_until = NULL, next_due_at = $3, \
               consecutive_failures = $4, last_checked_at = $5 \
             WHERE link_id = $1 AND claimed_by = $2",
        )
        .bind(link.0)
        .bind(worker)
        .bind(Ts(next_due_at))
        .bind(consecutive_failures)
        .bind(Ts(checked_at))
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Gives up `worker`'s claims without checking (the round was stopped).
pub async fn abandon(db: &Db, worker: &str, links: &[LinkId]) -> Result<(), StoreError> {
    for link in links {
        on_pool!(db.write(), p => {
            sqlx::query("UPDATE recheck_claims SET claimed_by = NULL, claimed_until = NULL WHERE link_id = $1 AND claimed_by = $2")
                .bind(link.0)
                .bind(worker)
                .execute(p)
                .await?;
        });
    }
    Ok(())
}
