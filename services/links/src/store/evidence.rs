//! Evidence capture records and their custody log. The bytes are not here: they are in the blob
//! store, under the SHA-256 these rows name.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use uuid::Uuid;

use super::{StoreError, code};
use crate::domain::*;

/// The fields the officers' words are sealed as: a capture's note, a custody entry's reason.
pub(crate) const CAPTURE_NOTE: &str = "evidence_captures.note";
pub(crate) const CUSTODY_REASON: &str = "custody_events.reason";

pub async fn insert_capture(tx: &mut Tx, keys: &Keyring, c: &Capture) -> Result<(), StoreError> {
    let note = keys.seal_text(CAPTURE_NOTE, &c.id.to_string(), &c.note)?;
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO evidence_captures \
               (id, link_id, sha256, size_bytes, media_type, captured_at, captured_by, note, record_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id)
        .bind(c.link.0)
        .bind(c.sha256.to_hex())
        .bind(c.size_bytes)
        .bind(&c.media_type)
        .bind(Ts(c.captured_at))
        .bind(&c.captured_by)
        .bind(&note)
        .bind(Ts(c.record_time))
        .execute(conn)
        .await?;
    });
    Ok(())
}

pub async fn insert_custody_event(tx: &mut Tx, keys: &Keyring, e: &CustodyEvent) -> Result<(), StoreError> {
    let reason = keys.seal_text(CUSTODY_REASON, &e.id.to_string(), &e.reason)?;
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO custody_events (id, link_id, sha256, kind, actor, reason, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.id)
        .bind(e.evidence.link.0)
        .bind(e.evidence.sha256.to_hex())
        .bind(e.kind.code() as i16)
        .bind(&e.actor)
        .bind(&reason)
        .bind(Ts(e.occurred_at))
        .execute(conn)
        .await?;
    });
    Ok(())
}

type CaptureRow = (Uuid, Uuid, String, i64, String, Ts, String, String, Ts, Option<Ts>);

const CAPTURE_COLUMNS: &str =
    "id, link_id, sha256, size_bytes, media_type, captured_at, captured_by, note, record_time, erase_time";

fn capture(keys: &Keyring, row: CaptureRow) -> Result<Capture, StoreError> {
    let (id, link, sha256, size_bytes, media_type, captured_at, captured_by, note, record_time, erase_time) = row;
    Ok(Capture {
        id,
        link: LinkId(link),
        sha256: Sha256Digest::parse_hex(&sha256)
            .map_err(|_| StoreError::Invalid { column: "evidence_captures.sha256", value: sha256.clone() })?,
        size_bytes,
        media_type,
        captured_at: captured_at.0,
        captured_by,
        note: keys.open_text(CAPTURE_NOTE, &id.to_string(), &note)?,
        record_time: record_time.0,
        erase_time: erase_time.map(|t| t.0),
    })
}

/// A link's capture records, oldest capture first.
pub async fn list_captures(
    tx: &mut Tx,
    keys: &Keyring,
    link: LinkId,
    offset: u64,
    limit: u32,
) -> Result<Vec<Capture>, StoreError> {
    let sql = format!(
        "SELECT {CAPTURE_COLUMNS} FROM evidence_captures WHERE link_id = $1 \
         ORDER BY captured_at, record_time, id LIMIT $2 OFFSET $3"
    );
    let rows: Vec<CaptureRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(link.0).bind(i64::from(limit)).bind(offset as i64).fetch_all(c).await?
    });
    rows.into_iter().map(|row| capture(keys, row)).collect()
}

/// The capture records of one evidence name, oldest capture first.
pub async fn captures_of(tx: &mut Tx, keys: &Keyring, evidence: EvidenceName) -> Result<Vec<Capture>, StoreError> {
    let sql = format!(
        "SELECT {CAPTURE_COLUMNS} FROM evidence_captures WHERE link_id = $1 AND sha256 = $2 \
         ORDER BY captured_at, record_time, id"
    );
    let rows: Vec<CaptureRow> = on_tx!(tx, c => {
        sqlx::query_as(&sql).bind(evidence.link.0).bind(evidence.sha256.to_hex()).fetch_all(c).await?
    });
    rows.into_iter().map(|row| capture(keys, row)).collect()
}

/// An evidence name's custody log, oldest first.
pub async fn custody_events(
    tx: &mut Tx,
    keys: &Keyring,
    evidence: EvidenceName,
    offset: u64,
    limit: u32,
) -> Result<Vec<CustodyEvent>, StoreError> {
    let rows: Vec<(Uuid, i16, String, String, Ts)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, kind, actor, reason, occurred_at FROM custody_events WHERE link_id = $1 AND sha256 = $2 \
             ORDER BY occurred_at, id LIMIT $3 OFFSET $4",
        )
        .bind(evidence.link.0)
        .bind(evidence.sha256.to_hex())
        .bind(i64::from(limit))
        .bind(offset as i64)
        .fetch_all(c)
        .await?
    });
    rows.into_iter()
        .map(|(id, kind, actor, reason, occurred_at)| {
            Ok(CustodyEvent {
                id,
                evidence,
                kind: code(kind, CustodyKind::from_code, "custody_events.kind")?,
                actor,
                reason: keys.open_text(CUSTODY_REASON, &id.to_string(), &reason)?,
                occurred_at: occurred_at.0,
            })
        })
        .collect()
}
