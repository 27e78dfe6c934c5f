//! A case's erasure, as liaison keeps it: once the case is entered among the erased, each notice
//! that names only erased cases loses its replies' texts and its timeline's notes. Notices, items,
//! kinds, times and outcomes stay, so the figures do not move.

use doxwatch_kit::{db::Tx, on_tx, sealing::Keyring};
use uuid::Uuid;

use super::{StoreError, events, replies};
use crate::domain::*;

/// The notices naming `case` that name no case still holding personal data.
pub async fn notices_only_erased_cases_name(tx: &mut Tx, case: CaseRef) -> Result<Vec<NoticeId>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT DISTINCT n.notice_id FROM notice_cases n WHERE n.case_name = $1 AND NOT EXISTS \
               (SELECT 1 FROM notice_cases o WHERE o.notice_id = n.notice_id AND NOT EXISTS \
                 (SELECT 1 FROM erased_cases e WHERE e.case_name = o.case_name)) \
             ORDER BY n.notice_id",
        )
        .bind(case.name())
        .fetch_all(c)
        .await?
    });
    Ok(rows.into_iter().map(|(id,)| NoticeId(id)).collect())
}

/// Empties a notice's replies' texts and its timeline's notes.
pub async fn erase_notice(tx: &mut Tx, keys: &Keyring, notice: NoticeId) -> Result<(), StoreError> {
    let replies: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM notice_replies WHERE notice_id = $1").bind(notice.0).fetch_all(c).await?
    });
    for (id,) in replies {
        let text = keys.seal_text(replies::TEXT, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE notice_replies SET text = $2 WHERE id = $1").bind(id).bind(&text).execute(c).await?;
        });
    }
    let entries: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM notice_events WHERE notice_id = $1").bind(notice.0).fetch_all(c).await?
    });
    for (id,) in entries {
        let note = keys.seal_text(events::NOTE, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE notice_events SET note = $2 WHERE id = $1").bind(id).bind(&note).execute(c).await?;
        });
    }
    Ok(())
}

/// Whether `notice` names cases and all of them were erased: then it takes no more words (reply
/// texts, notes), though its steps and outcomes are still recorded.
pub async fn names_only_erased_cases(tx: &mut Tx, notice: NoticeId) -> Result<bool, StoreError> {
    let (named, kept): (i64, i64) = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) - COUNT(e.case_name) FROM notice_cases n \
             LEFT JOIN erased_cases e ON e.case_name = n.case_name WHERE n.notice_id = $1",
        )
        .bind(notice.0)
        .fetch_one(c)
        .await?
    });
    Ok(named > 0 && kept == 0)
}
