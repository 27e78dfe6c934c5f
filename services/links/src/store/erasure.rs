//! A case's erasure, as link-tracking keeps it: once the case is entered among the erased, each
//! link that only erased cases cite loses the officers' words about it and its evidence bytes.
//! Links, sightings, removal requests and observations stay, so the figures do not move.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, evidence, links::OBSERVATION_NOTE};
use crate::domain::*;

/// The links `case` cites that no case still holding personal data cites.
pub async fn links_only_erased_cases_cite(tx: &mut Tx, case: &str) -> Result<Vec<LinkId>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT DISTINCT s.link_id FROM link_sightings s WHERE s.case_name = $1 AND NOT EXISTS \
               (SELECT 1 FROM link_sightings o WHERE o.link_id = s.link_id AND NOT EXISTS \
                 (SELECT 1 FROM erased_cases e WHERE e.case_name = o.case_name)) \
             ORDER BY s.link_id",
        )
        .bind(case)
        .fetch_all(c)
        .await?
    });
    Ok(rows.into_iter().map(|(id,)| LinkId(id)).collect())
}

/// What erasing one link's evidence changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub captures: usize,
}

/// Erases one link's evidence: its captures' notes (each capture marked erased, with an ERASED
/// entry per evidence name in the custody log), its custody log's reasons and its observations'
/// notes. The bytes are deleted afterwards, outside the transaction ([`files_to_delete`]).
pub async fn erase_link(
    tx: &mut Tx,
    keys: &Keyring,
    link: LinkId,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Erased, StoreError> {
    let captures: Vec<(Uuid, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id, sha256 FROM evidence_captures WHERE link_id = $1 AND erase_time IS NULL ORDER BY id")
            .bind(link.0)
            .fetch_all(c)
            .await?
    });
    for (id, _) in &captures {
        let note = keys.seal_text(evidence::CAPTURE_NOTE, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE evidence_captures SET note = $2, erase_time = $3 WHERE id = $1")
                .bind(id)
                .bind(&note)
                .bind(Ts(now))
                .execute(c)
                .await?;
        });
    }
    let reasons: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM custody_events WHERE link_id = $1").bind(link.0).fetch_all(c).await?
    });
    for (id,) in reasons {
        let reason = keys.seal_text(evidence::CUSTODY_REASON, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE custody_events SET reason = $2 WHERE id = $1").bind(id).bind(&reason).execute(c).await?;
        });
    }
    let mut names: Vec<&str> = captures.iter().map(|(_, sha)| sha.as_str()).collect();
    names.dedup();
    for sha256 in names {
        let sha256 = Sha256Digest::parse_hex(sha256)
            .map_err(|_| StoreError::Invalid { column: "evidence_captures.sha256", value: sha256.to_owned() })?;
        let entry = CustodyEvent {
            id: Uuid::now_v7(),
            evidence: EvidenceName { link, sha256 },
            kind: CustodyKind::Erased,
            actor: actor.to_owned(),
            reason: String::new(),
            occurred_at: now,
        };
        evidence::insert_custody_event(tx, keys, &entry).await?;
    }
    let observations: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM observations WHERE link_id = $1").bind(link.0).fetch_all(c).await?
    });
    for (id,) in observations {
        let note = keys.seal_text(OBSERVATION_NOTE, &id.to_string(), "")?;
        on_tx!(tx, c => {
            sqlx::query("UPDATE observations SET note = $2 WHERE id = $1").bind(id).bind(&note).execute(c).await?;
        });
    }
    Ok(Erased { captures: captures.len() })
}

/// The stored bytes `case`'s erasure leaves unneeded: digests of erased captures of the links it
/// cites that no kept capture (of any link) shares. Worked out from the store each time, so that a
/// deletion cut short by a crash is finished by the retry.
pub async fn files_to_delete(tx: &mut Tx, case: &str) -> Result<Vec<Sha256Digest>, StoreError> {
    let rows: Vec<(String,)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT DISTINCT e.sha256 FROM evidence_captures e \
             JOIN link_sightings s ON s.link_id = e.link_id AND s.case_name = $1 \
             WHERE e.erase_time IS NOT NULL AND NOT EXISTS \
               (SELECT 1 FROM evidence_captures k WHERE k.sha256 = e.sha256 AND k.erase_time IS NULL) \
             ORDER BY e.sha256",
        )
        .bind(case)
        .fetch_all(c)
        .await?
    });
    rows.into_iter()
        .map(|(sha,)| {
            Sha256Digest::parse_hex(&sha)
                .map_err(|_| StoreError::Invalid { column: "evidence_captures.sha256", value: sha })
        })
        .collect()
}
