//! A notice's timeline: every change, in business-time order. A SERVED entry also carries the
//! service method and the deadline fixed at service, which the notice is read back with.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code};
use crate::domain::*;

/// What a timeline entry carries besides its kind and text.
pub struct EventDetails {
    pub service: Option<(ServiceMethod, OffsetDateTime)>,
}

/// The field an entry's note (an officer's or a platform's words) is sealed as.
pub(crate) const NOTE: &str = "notice_events.note";

pub async fn append(
    tx: &mut Tx,
    keys: &Keyring,
    notice: NoticeId,
    event: &NoticeEvent,
    details: EventDetails,
) -> Result<(), StoreError> {
    let id = Uuid::now_v7();
    let words = if super::erasure::names_only_erased_cases(tx, notice).await? { "" } else { event.note.as_str() };
    let note = keys.seal_text(NOTE, &id.to_string(), words)?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notice_events (id, notice_id, kind, actor, occurred_at, record_time, note, service_method, deadline) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(notice.0)
        .bind(event.kind.code() as i16)
        .bind(&event.actor)
        .bind(Ts(event.occurred_at))
        .bind(Ts(event.record_time))
        .bind(&note)
        .bind(details.service.map(|(m, _)| m.code() as i16))
        .bind(details.service.map(|(_, d)| Ts(d)))
        .execute(c)
        .await?;
    });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    kind: i16,
    actor: String,
    occurred_at: Ts,
    record_time: Ts,
    note: String,
}

impl EventRow {
    fn decode(self, keys: &Keyring) -> Result<NoticeEvent, StoreError> {
        Ok(NoticeEvent {
            kind: code(self.kind, NoticeEventKind::from_code, "notice_events.kind")?,
            actor: self.actor,
            occurred_at: self.occurred_at.0,
            record_time: self.record_time.0,
            note: keys.open_text(NOTE, &self.id.to_string(), &self.note)?,
        })
    }
}

/// A page of a notice's timeline in business-time order (ties in the order recorded): `limit`
/// entries from the `offset`-th.
pub async fn page(
    tx: &mut Tx,
    keys: &Keyring,
    notice: NoticeId,
    offset: u64,
    limit: u32,
) -> Result<Vec<NoticeEvent>, StoreError> {
    // A page token bounds the offset far inside i64; saturate rather than wrap all the same.
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let rows: Vec<EventRow> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, kind, actor, occurred_at, record_time, note FROM notice_events WHERE notice_id = $1 \
             ORDER BY occurred_at, id LIMIT $2 OFFSET $3",
        )
        .bind(notice.0)
        .bind(i64::from(limit))
        .bind(offset)
        .fetch_all(c)
        .await?
    });
    rows.into_iter().map(|r| r.decode(keys)).collect()
}
