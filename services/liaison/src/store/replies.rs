//! Replies as recorded: one row for the reply as a whole (`link` empty) and one per item it
//! answers. They are read back with their notice (see `notices::load`).

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;
use crate::domain::*;

/// One reply row: about `link`, or about the reply as a whole when `link` is None.
pub struct ReplyRecord<'a> {
    pub notice: NoticeId,
    pub link: Option<LinkRef>,
    pub outcome: Option<ReplyOutcome>,
    pub text: &'a str,
    pub received_at: OffsetDateTime,
    pub recorded_by: &'a str,
    pub record_time: OffsetDateTime,
}

/// The field a reply's text (the platform's words, which may quote what was posted) is sealed as.
pub(crate) const TEXT: &str = "notice_replies.text";

pub async fn insert(tx: &mut Tx, keys: &Keyring, r: &ReplyRecord<'_>) -> Result<(), StoreError> {
    let id = Uuid::now_v7();
    let words = if super::erasure::names_only_erased_cases(tx, r.notice).await? { "" } else { r.text };
    let text = keys.seal_text(TEXT, &id.to_string(), words)?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notice_replies (id, notice_id, link, outcome, text, received_at, record_time, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(r.notice.0)
        .bind(r.link.map(|l| l.name()).unwrap_or_default())
        // 0: the whole reply gave no single outcome.
        .bind(r.outcome.map_or(0, ReplyOutcome::code) as i16)
        .bind(&text)
        .bind(Ts(r.received_at))
        .bind(Ts(r.record_time))
        .bind(r.recorded_by)
        .execute(c)
        .await?;
    });
    Ok(())
}
