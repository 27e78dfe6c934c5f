//! Platforms, their domains, and which platform a host belongs to.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError, code, push_list};
use crate::domain::*;

#[derive(sqlx::FromRow)]
struct PlatformRow {
    id: Uuid,
    display_name: String,
    kind: i16,
    registry_key: Option<String>,
    create_time: Ts,
    update_time: Ts,
}

pub async fn insert(tx: &mut Tx, p: &Platform) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO platforms (id, display_name, kind, registry_key, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id.0)
        .bind(&p.display_name)
        .bind(p.kind.code() as i16)
        .bind(&p.registry_key)
        .bind(Ts(p.create_time))
        .bind(Ts(p.update_time))
        .execute(&mut *c)
        .await?;
    });
    for domain in &p.domains {
        add_domain(tx, p.id, domain, p.create_time).await?;
    }
    Ok(())
}

/// The platform that owns `domain`, if any.
pub async fn domain_owner(tx: &mut Tx, domain: &str) -> Result<Option<PlatformId>, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT platform_id FROM platform_domains WHERE domain = $1").bind(domain).fetch_optional(c).await?
    });
    Ok(row.map(|(id,)| PlatformId(id)))
}

pub async fn add_domain(
    tx: &mut Tx,
    platform: PlatformId,
    domain: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO platform_domains (domain, platform_id, added_at) VALUES ($1, $2, $3)")
            .bind(domain)
            .bind(platform.0)
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(())
}

pub async fn remove_domain(tx: &mut Tx, platform: PlatformId, domain: &str) -> Result<bool, StoreError> {
    let done = on_tx!(tx, c => {
        sqlx::query("DELETE FROM platform_domains WHERE domain = $1 AND platform_id = $2")
            .bind(domain)
            .bind(platform.0)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(done > 0)
}

pub async fn update(
    tx: &mut Tx,
    id: PlatformId,
    display_name: &str,
    kind: PlatformKind,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE platforms SET display_name = $2, kind = $3, update_time = $4 WHERE id = $1")
            .bind(id.0)
            .bind(display_name)
            .bind(kind.code() as i16)
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(())
}

pub async fn touch(tx: &mut Tx, id: PlatformId, now: OffsetDateTime) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE platforms SET update_time = $2 WHERE id = $1").bind(id.0).bind(Ts(now)).execute(c).await?;
    });
    Ok(())
}

/// Locks a platform for a change (on PostgreSQL) and says whether it exists.
pub async fn lock(tx: &mut Tx, id: PlatformId) -> Result<bool, StoreError> {
    let sql = if tx.is_postgres() {
        "SELECT id FROM platforms WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM platforms WHERE id = $1"
    };
    let row: Option<(Uuid,)> = on_tx!(tx, c => sqlx::query_as(sql).bind(id.0).fetch_optional(c).await?);
    Ok(row.is_some())
}

async fn with_domains(tx: &mut Tx, rows: Vec<PlatformRow>) -> Result<Vec<Platform>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut domains: Vec<(Uuid, String)> = Vec::new();
    for chunk in rows.chunks(BATCH) {
        let found: Vec<(Uuid, String)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT platform_id, domain FROM platform_domains WHERE platform_id IN ");
            push_list(&mut q, chunk.iter().map(|r| r.id));
            q.build_query_as().fetch_all(c).await?
        });
        domains.extend(found);
    }
    // Each platform's domains in alphabetical order, whichever chunk they came from.
    domains.sort_by(|a, b| a.1.cmp(&b.1));
    rows.into_iter()
        .map(|r| {
            Ok(Platform {
                id: PlatformId(r.id),
                display_name: r.display_name,
                kind: code(r.kind, PlatformKind::from_code, "platforms.kind")?,
                domains: domains.iter().filter(|(p, _)| *p == r.id).map(|(_, d)| d.clone()).collect(),
                registry_key: r.registry_key,
                create_time: r.create_time.0,
                update_time: r.update_time.0,
            })
        })
        .collect()
}

pub async fn get(tx: &mut Tx, id: PlatformId) -> Result<Option<Platform>, StoreError> {
    let rows: Vec<PlatformRow> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id, display_name, kind, registry_key, create_time, update_time FROM platforms WHERE id = $1")
            .bind(id.0)
            .fetch_all(c)
            .await?
    });
    Ok(with_domains(tx, rows).await?.into_iter().next())
}

pub async fn get_many(tx: &mut Tx, ids: &[PlatformId]) -> Result<Vec<Platform>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<PlatformRow> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let found: Vec<PlatformRow> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "SELECT id, display_name, kind, registry_key, create_time, update_time FROM platforms WHERE id IN ",
            );
            push_list(&mut q, chunk.iter().map(|id| id.0));
            q.build_query_as().fetch_all(c).await?
        });
        rows.extend(found);
    }
    with_domains(tx, rows).await
}

pub async fn list(
    tx: &mut Tx,
    kind: Option<PlatformKind>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Platform>, StoreError> {
    let rows: Vec<PlatformRow> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, display_name, kind, registry_key, create_time, update_time FROM platforms \
             WHERE id > $1 AND ($2 = 0 OR kind = $2) ORDER BY id LIMIT $3",
        )
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(kind.map_or(0, PlatformKind::code) as i16)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    with_domains(tx, rows).await
}

/// The platform owning the most specific of `candidates` (see `candidate_domains`).
pub async fn resolve(tx: &mut Tx, candidates: &[String]) -> Result<Option<PlatformId>, StoreError> {
    if candidates.is_empty() {
        return Ok(None);
    }
    // A host has a handful of candidate domains (one per label): one statement.
    let rows: Vec<(String, Uuid)> = on_tx!(tx, c => {
        let mut q = QueryBuilder::new("SELECT domain, platform_id FROM platform_domains WHERE domain IN ");
        push_list(&mut q, candidates.iter().take(BATCH));
        q.build_query_as().fetch_all(c).await?
    });
    Ok(candidates.iter().find_map(|d| rows.iter().find(|(domain, _)| domain == d).map(|(_, p)| PlatformId(*p))))
}

/// Adds the registry's platforms whose keys the store does not have yet. Returns how many.
pub async fn seed(tx: &mut Tx, registry: &[RegistryPlatform], now: OffsetDateTime) -> Result<usize, StoreError> {
    let mut added = 0;
    for entry in registry {
        let exists: Option<(Uuid,)> = on_tx!(tx, c => {
            sqlx::query_as("SELECT id FROM platforms WHERE registry_key = $1").bind(&entry.key).fetch_optional(c).await?
        });
        if exists.is_some() {
            continue;
        }
        let mut domains = Vec::new();
        for d in &entry.domains {
            // A domain an officer has since given to another platform stays there.
            if domain_owner(tx, d).await?.is_none() {
                domains.push(d.clone());
            }
        }
        let platform = Platform {
            id: PlatformId::new(),
            display_name: entry.display_name.clone(),
            kind: entry.kind,
            domains,
            registry_key: Some(entry.key.clone()),
            create_time: now,
            update_time: now,
        };
        insert(tx, &platform).await?;
        added += 1;
    }
    Ok(added)
}
