//! Liaison's SQL, one query text for both backends. A notice is stored as its row, items, cases,
//! timeline and replies, and read back whole.

use std::collections::HashMap;

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    #[error("{column} holds {value}, which is not a known value")]
    UnknownCode { column: &'static str, value: i64 },
    #[error("{column} holds a malformed name")]
    BadName { column: &'static str },
}

fn code<T>(value: i16, from: fn(i32) -> Option<T>, column: &'static str) -> Result<T, StoreError> {
    from(i32::from(value)).ok_or(StoreError::UnknownCode { column, value: i64::from(value) })
}

fn name<T>(value: &str, parse: fn(&str) -> Result<T, String>, column: &'static str) -> Result<T, StoreError> {
    parse(value).map_err(|_| StoreError::BadName { column })
}

fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

// --- contacts ---

pub async fn upsert_contact(tx: &mut Tx, c: &PlatformContact) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO platform_contacts (platform, legal_entity, jurisdiction, email, postal_address, web_form_url, \
             in_app, language, accepted_service_before, notes, update_time, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (platform) DO UPDATE SET legal_entity = $2, jurisdiction = $3, email = $4, postal_address = $5, \
             web_form_url = $6, in_app = $7, language = $8, accepted_service_before = $9, notes = $10, update_time = $11, \
             updated_by = $12",
        )
        .bind(c.platform.name())
        .bind(&c.legal_entity)
        .bind(&c.jurisdiction)
        .bind(&c.email)
        .bind(&c.postal_address)
        .bind(&c.web_form_url)
        .bind(&c.in_app)
        .bind(c.language.code() as i16)
        .bind(c.accepted_service_before)
        .bind(&c.notes)
        .bind(Ts(c.update_time))
        .bind(&c.updated_by)
        .execute(conn)
        .await?;
    });
    Ok(())
}

type ContactRow = (String, String, String, String, String, String, String, i16, bool, String, Ts, String);

fn decode_contact(r: ContactRow) -> Result<PlatformContact, StoreError> {
    Ok(PlatformContact {
        platform: name(&r.0, PlatformRef::parse_name, "platform_contacts.platform")?,
        legal_entity: r.1,
        jurisdiction: r.2,
        email: r.3,
        postal_address: r.4,
        web_form_url: r.5,
        in_app: r.6,
        language: code(r.7, Language::from_code, "platform_contacts.language")?,
        accepted_service_before: r.8,
        notes: r.9,
        update_time: r.10.0,
        updated_by: r.11,
    })
}

const CONTACT_COLUMNS: &str = "platform, legal_entity, jurisdiction, email, postal_address, web_form_url, in_app, language, \
     accepted_service_before, notes, update_time, updated_by";

pub async fn get_contact(tx: &mut Tx, platform: PlatformRef) -> Result<Option<PlatformContact>, StoreError> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM platform_contacts WHERE platform = $1");
    let row: Option<ContactRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(platform.name()).fetch_optional(c).await?);
    row.map(decode_contact).transpose()
}

pub async fn list_contacts(tx: &mut Tx, after: &str, limit: u32) -> Result<Vec<PlatformContact>, StoreError> {
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM platform_contacts WHERE platform > $1 ORDER BY platform LIMIT $2");
    let rows: Vec<ContactRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(after).bind(i64::from(limit)).fetch_all(c).await?);
    rows.into_iter().map(decode_contact).collect()
}

// --- notices ---

pub async fn insert_notice(tx: &mut Tx, n: &Notice) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notices (id, platform, kind, legal_basis, channel, follows, reminds_kind, deadline_override, \
             created_by, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .execute(c)
        .await?;
    });
    replace_content(tx, n).await
}

/// Writes a draft's items and cases anew.
pub async fn replace_content(tx: &mut Tx, n: &Notice) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM notice_items WHERE notice_id = $1").bind(n.id.0).execute(&mut *c).await?;
        sqlx::query("DELETE FROM notice_cases WHERE notice_id = $1").bind(n.id.0).execute(&mut *c).await?;
    });
    for (chunk_index, chunk) in n.items.chunks(500).enumerate() {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({})", placeholders(i * 4 + 1, 4))).collect();
        let sql = format!("INSERT INTO notice_items (notice_id, position, link, action) VALUES {}", rows.join(", "));
        on_tx!(tx, c => {
            let mut q = sqlx::query(&sql);
            for (i, item) in chunk.iter().enumerate() {
                q = q.bind(n.id.0).bind((chunk_index * 500 + i) as i32).bind(item.link.name()).bind(item.action.code() as i16);
            }
            q.execute(c).await?;
        });
    }
    for case in &n.cases {
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO notice_cases (notice_id, case_name) VALUES ($1, $2)")
                .bind(n.id.0)
                .bind(case.name())
                .execute(c)
                .await?;
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

/// What a timeline entry carries besides its kind and text.
pub struct EventDetails {
    pub service: Option<(ServiceMethod, OffsetDateTime)>,
}

pub async fn append_event(
    tx: &mut Tx,
    notice: NoticeId,
    event: &NoticeEvent,
    details: EventDetails,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notice_events (id, notice_id, kind, actor, occurred_at, record_time, note, service_method, deadline) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(notice.0)
        .bind(event.kind.code() as i16)
        .bind(&event.actor)
        .bind(Ts(event.occurred_at))
        .bind(Ts(event.record_time))
        .bind(&event.note)
        .bind(details.service.map(|(m, _)| m.code() as i16))
        .bind(details.service.map(|(_, d)| Ts(d)))
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Records a reply: `link` is None for the reply as a whole. (One argument per column of the row.)
#[allow(clippy::too_many_arguments)]
pub async fn insert_reply(
    tx: &mut Tx,
    notice: NoticeId,
    link: Option<LinkRef>,
    outcome: Option<ReplyOutcome>,
    text: &str,
    received_at: OffsetDateTime,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notice_replies (id, notice_id, link, outcome, text, received_at, record_time, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Uuid::now_v7())
        .bind(notice.0)
        .bind(link.map(|l| l.name()).unwrap_or_default())
        .bind(outcome.map_or(0, ReplyOutcome::code) as i16)
        .bind(text)
        .bind(Ts(received_at))
        .bind(Ts(now))
        .bind(actor)
        .execute(c)
        .await?;
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

type NoticeRow = (Uuid, String, i16, String, Option<String>, Option<Uuid>, Option<i16>, Option<Ts>, String, Ts, Ts);

const NOTICE_COLUMNS: &str = "id, platform, kind, legal_basis, channel, follows, reminds_kind, deadline_override, created_by, create_time, update_time";

/// Notices by id, whole, in the order given; unknown ids are left out.
pub async fn load(tx: &mut Tx, ids: &[NoticeId]) -> Result<Vec<Notice>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let list = placeholders(1, chunk.len());
        let sql = format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE id IN ({list})");
        let rows: Vec<NoticeRow> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(id.0);
            }
            q.fetch_all(c).await?
        });
        let sql = format!(
            "SELECT notice_id, link, action FROM notice_items WHERE notice_id IN ({list}) ORDER BY notice_id, position"
        );
        let items: Vec<(Uuid, String, i16)> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(id.0);
            }
            q.fetch_all(c).await?
        });
        let sql =
            format!("SELECT notice_id, case_name FROM notice_cases WHERE notice_id IN ({list}) ORDER BY case_name");
        let cases: Vec<(Uuid, String)> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(id.0);
            }
            q.fetch_all(c).await?
        });
        let sql = format!(
            "SELECT notice_id, kind, occurred_at, record_time, service_method, deadline FROM notice_events \
             WHERE notice_id IN ({list}) AND kind IN (3, 5) ORDER BY occurred_at, id"
        );
        type EventRow = (Uuid, i16, Ts, Ts, Option<i16>, Option<Ts>);
        let events: Vec<EventRow> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(id.0);
            }
            q.fetch_all(c).await?
        });
        let sql = format!(
            "SELECT notice_id, link, outcome, text, received_at, record_time FROM notice_replies \
             WHERE notice_id IN ({list}) ORDER BY received_at, id"
        );
        type ReplyRow = (Uuid, String, i16, String, Ts, Ts);
        let replies: Vec<ReplyRow> = on_tx!(tx, c => {
            let mut q = sqlx::query_as(&sql);
            for id in chunk {
                q = q.bind(id.0);
            }
            q.fetch_all(c).await?
        });

        let mut item_replies: HashMap<(Uuid, String), Vec<ItemReply>> = HashMap::new();
        let mut whole_replies: HashMap<Uuid, Vec<WholeReply>> = HashMap::new();
        for (notice, link, outcome, text, received_at, record_time) in replies {
            if link.is_empty() {
                let outcome = if outcome == 0 {
                    None
                } else {
                    Some(code(outcome, ReplyOutcome::from_code, "notice_replies.outcome")?)
                };
                whole_replies.entry(notice).or_default().push(WholeReply {
                    outcome,
                    text,
                    received_at: received_at.0,
                    record_time: record_time.0,
                });
            } else {
                item_replies.entry((notice, link)).or_default().push(ItemReply {
                    outcome: code(outcome, ReplyOutcome::from_code, "notice_replies.outcome")?,
                    text,
                    received_at: received_at.0,
                    record_time: record_time.0,
                });
            }
        }

        for r in rows {
            let id = r.0;
            let mut service = None;
            let mut closure = None;
            for (_, kind, occurred_at, record_time, method, deadline) in events.iter().filter(|e| e.0 == id) {
                match (*kind, method, deadline) {
                    (3, Some(method), Some(deadline)) => {
                        service = Some(Service {
                            served_at: occurred_at.0,
                            method: code(*method, ServiceMethod::from_code, "notice_events.service_method")?,
                            deadline: deadline.0,
                            record_time: record_time.0,
                        })
                    }
                    (5, _, _) => closure = Some(Closure { closed_at: occurred_at.0, record_time: record_time.0 }),
                    _ => {}
                }
            }
            let notice_items = items
                .iter()
                .filter(|i| i.0 == id)
                .map(|(_, link, action)| {
                    Ok(Item {
                        link: name(link, LinkRef::parse_name, "notice_items.link")?,
                        action: code(*action, NoticeAction::from_code, "notice_items.action")?,
                        replies: item_replies.remove(&(id, link.clone())).unwrap_or_default(),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.push(Notice {
                id: NoticeId(id),
                platform: name(&r.1, PlatformRef::parse_name, "notices.platform")?,
                kind: code(r.2, NoticeKind::from_code, "notices.kind")?,
                items: notice_items,
                cases: cases
                    .iter()
                    .filter(|c| c.0 == id)
                    .map(|(_, c)| name(c, CaseRef::parse_name, "notice_cases.case_name"))
                    .collect::<Result<_, _>>()?,
                channel: r.4.as_deref().map(|c| name(c, ChannelRef::parse_name, "notices.channel")).transpose()?,
                legal_basis: r.3,
                deadline_override: r.7.map(|t| t.0),
                follows: r.5.map(NoticeId),
                reminds_kind: r.6.map(|k| code(k, NoticeKind::from_code, "notices.reminds_kind")).transpose()?,
                service,
                replies: whole_replies.remove(&id).unwrap_or_default(),
                closure,
                created_by: r.8,
                create_time: r.9.0,
                update_time: r.10.0,
            });
        }
    }
    let position = |id: &NoticeId| ids.iter().position(|x| x == id).unwrap_or(usize::MAX);
    out.sort_by_key(|n| position(&n.id));
    Ok(out)
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
pub async fn all(tx: &mut Tx, recorded_before: OffsetDateTime) -> Result<Vec<Notice>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM notices WHERE create_time < $1 ORDER BY id").bind(Ts(recorded_before)).fetch_all(c).await?
    });
    let ids: Vec<NoticeId> = rows.into_iter().map(|(id,)| NoticeId(id)).collect();
    load(tx, &ids).await
}

pub async fn events(tx: &mut Tx, id: NoticeId) -> Result<Vec<NoticeEvent>, StoreError> {
    let rows: Vec<(i16, String, Ts, Ts, String)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT kind, actor, occurred_at, record_time, note FROM notice_events WHERE notice_id = $1 ORDER BY occurred_at, id",
        )
        .bind(id.0)
        .fetch_all(c)
        .await?
    });
    rows.into_iter()
        .map(|(kind, actor, occurred_at, record_time, note)| {
            Ok(NoticeEvent {
                kind: code(kind, NoticeEventKind::from_code, "notice_events.kind")?,
                actor,
                occurred_at: occurred_at.0,
                record_time: record_time.0,
                note,
            })
        })
        .collect()
}
