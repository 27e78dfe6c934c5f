//! Notices: the row, the items and cases a draft may change, and the whole notice read back with
//! its service, closure and replies.

use std::collections::HashMap;

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use sqlx::{QueryBuilder, postgres::PgRow, sqlite::SqliteRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError, code, name, where_notice_in};
use crate::domain::*;

/// The notice with this reference, if any.
pub async fn with_reference(tx: &mut Tx, reference: &str) -> Result<Option<NoticeId>, StoreError> {
    let id: Option<Uuid> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT id FROM notices WHERE reference = $1").bind(reference).fetch_optional(c).await?
    });
    Ok(id.map(NoticeId))
}

pub async fn insert(tx: &mut Tx, n: &Notice) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notices (id, platform, kind, legal_basis, channel, follows, reminds_kind, deadline_override, \
             created_by, create_time, update_time, reference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(n.id.0)
        .bind(n.platform.name())
        .bind(n.kind.code() as i16)
        .bind(&n.legal_basis)
        .bind(n.channel.map(|c| c.name()))
        .bind(n.follows.map(|f| f.0))
        .bind(n.reminds_kind.map(|k| k.code() as i16))
        .bind(n.deadline_override.map(Ts))
        .bind(&n.created_by)
        .bind(Ts(n.create_time))
        .bind(Ts(n.update_time))
        .bind(&n.reference)
        .execute(c)
        .await?;
    });
    replace_content(tx, n).await
}

/// Writes a draft's items and cases anew.
async fn replace_content(tx: &mut Tx, n: &Notice) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM notice_items WHERE notice_id = $1").bind(n.id.0).execute(&mut *c).await?;
        sqlx::query("DELETE FROM notice_cases WHERE notice_id = $1").bind(n.id.0).execute(&mut *c).await?;
    });
    for (chunk_index, chunk) in n.items.chunks(BATCH).enumerate() {
        let first = chunk_index * BATCH;
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new("INSERT INTO notice_items (notice_id, position, link, action) ");
            q.push_values(chunk.iter().enumerate(), |mut row, (i, item)| {
                row.push_bind(n.id.0)
                    .push_bind((first + i) as i32)
                    .push_bind(item.link.name())
                    .push_bind(item.action.code() as i16);
            });
            q.build().execute(c).await?;
        });
    }
    for chunk in n.cases.chunks(BATCH) {
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new("INSERT INTO notice_cases (notice_id, case_name) ");
            q.push_values(chunk, |mut row, case| {
                row.push_bind(n.id.0).push_bind(case.name());
            });
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

pub async fn update_draft(tx: &mut Tx, n: &Notice) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE notices SET legal_basis = $2, channel = $3, deadline_override = $4, update_time = $5 WHERE id = $1")
            .bind(n.id.0)
            .bind(&n.legal_basis)
            .bind(n.channel.map(|c| c.name()))
            .bind(n.deadline_override.map(Ts))
            .bind(Ts(n.update_time))
            .execute(c)
            .await?;
    });
    replace_content(tx, n).await
}

pub async fn touch(tx: &mut Tx, id: NoticeId, now: OffsetDateTime) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE notices SET update_time = $2 WHERE id = $1").bind(id.0).bind(Ts(now)).execute(c).await?;
    });
    Ok(())
}

/// Locks a notice for a change (on PostgreSQL) and says whether it exists.
pub async fn lock(tx: &mut Tx, id: NoticeId) -> Result<bool, StoreError> {
    let sql = if tx.is_postgres() {
        "SELECT id FROM notices WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM notices WHERE id = $1"
    };
    let row: Option<(Uuid,)> = on_tx!(tx, c => sqlx::query_as(sql).bind(id.0).fetch_optional(c).await?);
    Ok(row.is_some())
}

/// Whether the notice exists, without locking it: for reads.
pub async fn exists(tx: &mut Tx, id: NoticeId) -> Result<bool, StoreError> {
    let row: Option<(Uuid,)> =
        on_tx!(tx, c => sqlx::query_as("SELECT id FROM notices WHERE id = $1").bind(id.0).fetch_optional(c).await?);
    Ok(row.is_some())
}

/// Ids of notices after `after` in id order, optionally of one platform and kind.
pub async fn ids(
    tx: &mut Tx,
    platform: Option<PlatformRef>,
    kind: Option<NoticeKind>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<NoticeId>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id FROM notices WHERE id > $1 AND ($2 = '' OR platform = $2) AND ($3 = 0 OR kind = $3) ORDER BY id LIMIT $4",
        )
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(platform.map(|p| p.name()).unwrap_or_default())
        .bind(kind.map_or(0, NoticeKind::code) as i16)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    Ok(rows.into_iter().map(|(id,)| NoticeId(id)).collect())
}

/// Every notice recorded before `recorded_before`, for the figures.
pub async fn all(tx: &mut Tx, keys: &Keyring, recorded_before: OffsetDateTime) -> Result<Vec<Notice>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM notices WHERE create_time < $1 ORDER BY id").bind(Ts(recorded_before)).fetch_all(c).await?
    });
    let ids: Vec<NoticeId> = rows.into_iter().map(|(id,)| NoticeId(id)).collect();
    load(tx, keys, &ids).await
}

/// One notice, whole.
pub async fn get(tx: &mut Tx, keys: &Keyring, id: NoticeId) -> Result<Option<Notice>, StoreError> {
    Ok(load(tx, keys, &[id]).await?.into_iter().next())
}

/// Notices by id, whole, in the order given; unknown ids are left out.
pub async fn load(tx: &mut Tx, keys: &Keyring, ids: &[NoticeId]) -> Result<Vec<Notice>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<NoticeRow> = fetch(tx, NOTICE_SELECT, "id", chunk, "").await?;
        let mut parts = NoticeParts::fetch(tx, keys, chunk).await?;
        for row in rows {
            out.push(row.decode(&mut parts)?);
        }
    }
    let mut position = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        position.entry(*id).or_insert(i);
    }
    out.sort_by_key(|n| position.get(&n.id).copied().unwrap_or(usize::MAX));
    Ok(out)
}

/// `{select} WHERE {column} IN (ids){rest}`, one row of `T` per row found.
async fn fetch<T>(tx: &mut Tx, select: &str, column: &str, ids: &[NoticeId], rest: &str) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
{
    Ok(on_tx!(tx, c => {
        let mut q = QueryBuilder::new(select);
        where_notice_in(&mut q, column, ids);
        q.push(rest);
        q.build_query_as().fetch_all(c).await?
    }))
}

const NOTICE_SELECT: &str = "SELECT id, platform, kind, legal_basis, channel, follows, reminds_kind, deadline_override, \
     created_by, create_time, update_time, reference FROM notices";

#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: Uuid,
    platform: String,
    kind: i16,
    legal_basis: String,
    channel: Option<String>,
    follows: Option<Uuid>,
    reminds_kind: Option<i16>,
    deadline_override: Option<Ts>,
    created_by: String,
    create_time: Ts,
    update_time: Ts,
    reference: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    notice_id: Uuid,
    link: String,
    action: i16,
}

#[derive(sqlx::FromRow)]
struct CaseRow {
    notice_id: Uuid,
    case_name: String,
}

/// A timeline entry that shapes the notice's state (see [`LIFECYCLE`]).
#[derive(sqlx::FromRow)]
struct LifecycleRow {
    notice_id: Uuid,
    kind: i16,
    occurred_at: Ts,
    record_time: Ts,
    service_method: Option<i16>,
    deadline: Option<Ts>,
}

#[derive(sqlx::FromRow)]
struct ReplyRow {
    id: Uuid,
    notice_id: Uuid,
    /// Empty for the reply as a whole.
    link: String,
    /// 0 when a reply as a whole gave no single outcome.
    outcome: i16,
    text: String,
    received_at: Ts,
    record_time: Ts,
}

/// The timeline entries a notice's service and closure are read from; the others are history.
const LIFECYCLE: [NoticeEventKind; 2] = [NoticeEventKind::Served, NoticeEventKind::Closed];

/// Everything a batch of notices is assembled from besides their rows, by notice id, each list in
/// the order the notice shows it.
struct NoticeParts {
    items: HashMap<Uuid, Vec<ItemRow>>,
    cases: HashMap<Uuid, Vec<CaseRow>>,
    lifecycle: HashMap<Uuid, Vec<LifecycleRow>>,
    whole_replies: HashMap<Uuid, Vec<WholeReply>>,
    item_replies: HashMap<(Uuid, String), Vec<ItemReply>>,
}

fn by_notice<T>(rows: Vec<T>, notice: fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(notice(&row)).or_default().push(row);
    }
    out
}

impl NoticeParts {
    async fn fetch(tx: &mut Tx, keys: &Keyring, ids: &[NoticeId]) -> Result<Self, StoreError> {
        let items: Vec<ItemRow> = fetch(
            tx,
            "SELECT notice_id, link, action FROM notice_items",
            "notice_id",
            ids,
            " ORDER BY notice_id, position",
        )
        .await?;
        let cases: Vec<CaseRow> =
            fetch(tx, "SELECT notice_id, case_name FROM notice_cases", "notice_id", ids, " ORDER BY case_name").await?;
        let replies: Vec<ReplyRow> = fetch(
            tx,
            "SELECT id, notice_id, link, outcome, text, received_at, record_time FROM notice_replies",
            "notice_id",
            ids,
            " ORDER BY received_at, id",
        )
        .await?;
        let mut parts = NoticeParts {
            items: by_notice(items, |r| r.notice_id),
            cases: by_notice(cases, |r| r.notice_id),
            lifecycle: by_notice(lifecycle(tx, ids).await?, |r| r.notice_id),
            whole_replies: HashMap::new(),
            item_replies: HashMap::new(),
        };
        for reply in replies {
            parts.add_reply(keys, reply)?;
        }
        Ok(parts)
    }

    fn add_reply(&mut self, keys: &Keyring, r: ReplyRow) -> Result<(), StoreError> {
        let outcome = |value| code(value, ReplyOutcome::from_code, "notice_replies.outcome");
        let text = keys.open_text(super::replies::TEXT, &r.id.to_string(), &r.text)?;
        if r.link.is_empty() {
            self.whole_replies.entry(r.notice_id).or_default().push(WholeReply {
                outcome: if r.outcome == 0 { None } else { Some(outcome(r.outcome)?) },
                text,
                received_at: r.received_at.0,
                record_time: r.record_time.0,
            });
        } else {
            self.item_replies.entry((r.notice_id, r.link)).or_default().push(ItemReply {
                outcome: outcome(r.outcome)?,
                text,
                received_at: r.received_at.0,
                record_time: r.record_time.0,
            });
        }
        Ok(())
    }

    /// The notice's service and closure: the latest of each on its timeline.
    fn lifecycle_of(&mut self, id: Uuid) -> Result<(Option<Service>, Option<Closure>), StoreError> {
        let (mut service, mut closure) = (None, None);
        for e in self.lifecycle.remove(&id).unwrap_or_default() {
            let kind = code(e.kind, NoticeEventKind::from_code, "notice_events.kind")?;
            match (kind, e.service_method, e.deadline) {
                (NoticeEventKind::Served, Some(method), Some(deadline)) => {
                    service = Some(Service {
                        served_at: e.occurred_at.0,
                        method: code(method, ServiceMethod::from_code, "notice_events.service_method")?,
                        deadline: deadline.0,
                        record_time: e.record_time.0,
                    })
                }
                (NoticeEventKind::Closed, _, _) => {
                    closure = Some(Closure { closed_at: e.occurred_at.0, record_time: e.record_time.0 })
                }
                _ => {}
            }
        }
        Ok((service, closure))
    }

    fn items_of(&mut self, id: Uuid) -> Result<Vec<Item>, StoreError> {
        let rows = self.items.remove(&id).unwrap_or_default();
        rows.into_iter()
            .map(|row| {
                Ok(Item {
                    link: name(&row.link, LinkRef::parse_name, "notice_items.link")?,
                    action: code(row.action, NoticeAction::from_code, "notice_items.action")?,
                    replies: self.item_replies.remove(&(id, row.link)).unwrap_or_default(),
                })
            })
            .collect()
    }

    fn cases_of(&mut self, id: Uuid) -> Result<Vec<CaseRef>, StoreError> {
        let rows = self.cases.remove(&id).unwrap_or_default();
        rows.iter().map(|row| name(&row.case_name, CaseRef::parse_name, "notice_cases.case_name")).collect()
    }
}

/// The lifecycle entries of the notices' timelines, in business-time order.
async fn lifecycle(tx: &mut Tx, ids: &[NoticeId]) -> Result<Vec<LifecycleRow>, StoreError> {
    Ok(on_tx!(tx, c => {
        let mut q = QueryBuilder::new(
            "SELECT notice_id, kind, occurred_at, record_time, service_method, deadline FROM notice_events",
        );
        where_notice_in(&mut q, "notice_id", ids);
        q.push(" AND kind IN (");
        let mut kinds = q.separated(", ");
        for kind in LIFECYCLE {
            kinds.push_bind(kind.code() as i16);
        }
        kinds.push_unseparated(") ORDER BY occurred_at, id");
        q.build_query_as().fetch_all(c).await?
    }))
}

impl NoticeRow {
    fn decode(self, parts: &mut NoticeParts) -> Result<Notice, StoreError> {
        let (service, closure) = parts.lifecycle_of(self.id)?;
        Ok(Notice {
            id: NoticeId(self.id),
            reference: self.reference.unwrap_or_default(),
            platform: name(&self.platform, PlatformRef::parse_name, "notices.platform")?,
            kind: code(self.kind, NoticeKind::from_code, "notices.kind")?,
            items: parts.items_of(self.id)?,
            cases: parts.cases_of(self.id)?,
            channel: self.channel.as_deref().map(|c| name(c, ChannelRef::parse_name, "notices.channel")).transpose()?,
            legal_basis: self.legal_basis,
            deadline_override: self.deadline_override.map(|t| t.0),
            follows: self.follows.map(NoticeId),
            reminds_kind: self
                .reminds_kind
                .map(|k| code(k, NoticeKind::from_code, "notices.reminds_kind"))
                .transpose()?,
            service,
            replies: parts.whole_replies.remove(&self.id).unwrap_or_default(),
            closure,
            created_by: self.created_by,
            create_time: self.create_time.0,
            update_time: self.update_time.0,
        })
    }
}
