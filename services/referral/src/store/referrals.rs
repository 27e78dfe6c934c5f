//! Referrals: the row, the frozen evidence bundle and the timeline, read back whole.

use std::collections::HashMap;

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code, name, placeholders};
use crate::domain::*;

/// The fields sealed here: a referral's summary of the case, and what the agency's outcomes say
/// of the case and of the person charged.
pub(crate) const SUMMARY: &str = "referrals.summary";
pub(crate) const OFFENCE: &str = "referral_events.offence";
pub(crate) const SENTENCE: &str = "referral_events.sentence";
pub(crate) const REASON: &str = "referral_events.reason";
pub(crate) const NOTE: &str = "referral_events.note";

/// The record an event's fields are bound to: a referral reaches each status once.
fn event_record(referral: Uuid, status: i16) -> String {
    format!("{referral}/{status}")
}

pub async fn insert(tx: &mut Tx, keys: &Keyring, r: &Referral) -> Result<(), StoreError> {
    let summary = keys.seal_text(SUMMARY, &r.id.0.to_string(), &r.summary)?;
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO referrals (id, case_name, assessment_id, agency, referred_at, summary, case_received_at, created_by, \
             create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(r.id.0)
        .bind(r.case.name())
        .bind(r.assessment.0)
        .bind(&r.agency)
        .bind(Ts(r.referred_at))
        .bind(&summary)
        .bind(Ts(r.case_received_at))
        .bind(&r.created_by)
        .bind(Ts(r.create_time))
        .execute(c)
        .await?;
    });
    for (chunk_index, chunk) in r.bundle.chunks(500).enumerate() {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({})", placeholders(i * 6 + 1, 6))).collect();
        let sql = format!(
            "INSERT INTO referral_links (referral_id, position, link, canonical_url, status, evidence_sha256) VALUES {}",
            rows.join(", ")
        );
        on_tx!(tx, c => {
            let mut q = sqlx::query(&sql);
            for (i, l) in chunk.iter().enumerate() {
                q = q
                    .bind(r.id.0)
                    .bind((chunk_index * 500 + i) as i32)
                    .bind(l.link.name())
                    .bind(&l.canonical_url)
                    .bind(l.status.code() as i16)
                    .bind(l.evidence_sha256.join(","));
            }
            q.execute(c).await?;
        });
    }
    for event in &r.events {
        append_event(tx, keys, r.id, event).await?;
    }
    Ok(())
}

pub async fn append_event(
    tx: &mut Tx,
    keys: &Keyring,
    referral: ReferralId,
    e: &ReferralEvent,
) -> Result<(), StoreError> {
    let record = event_record(referral.0, e.status.code() as i16);
    let d = &e.details;
    let (offence, sentence, reason, note) = (
        keys.seal_text(OFFENCE, &record, &d.offence)?,
        keys.seal_text(SENTENCE, &record, &d.sentence)?,
        keys.seal_text(REASON, &record, &d.reason)?,
        keys.seal_text(NOTE, &record, &d.note)?,
    );
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO referral_events (id, referral_id, status, occurred_at, record_time, actor, agency_reference, offence, \
             sentence, reason, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(Uuid::now_v7())
        .bind(referral.0)
        .bind(e.status.code() as i16)
        .bind(Ts(e.occurred_at))
        .bind(Ts(e.record_time))
        .bind(&e.actor)
        .bind(&e.agency_reference)
        .bind(&offence)
        .bind(&sentence)
        .bind(&reason)
        .bind(&note)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// Empties what a referral's timeline says (offence, sentence, reason, note); its steps stay.
pub async fn erase_event_details(tx: &mut Tx, keys: &Keyring, referral: ReferralId) -> Result<(), StoreError> {
    let statuses: Vec<(i16,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT status FROM referral_events WHERE referral_id = $1").bind(referral.0).fetch_all(c).await?
    });
    for (status,) in statuses {
        let record = event_record(referral.0, status);
        let (offence, sentence, reason, note) = (
            keys.seal_text(OFFENCE, &record, "")?,
            keys.seal_text(SENTENCE, &record, "")?,
            keys.seal_text(REASON, &record, "")?,
            keys.seal_text(NOTE, &record, "")?,
        );
        on_tx!(tx, c => {
            sqlx::query(
                "UPDATE referral_events SET offence = $3, sentence = $4, reason = $5, note = $6 \
                 WHERE referral_id = $1 AND status = $2",
            )
            .bind(referral.0)
            .bind(status)
            .bind(&offence)
            .bind(&sentence)
            .bind(&reason)
            .bind(&note)
            .execute(c)
            .await?;
        });
    }
    Ok(())
}

/// Locks a referral for a change (on PostgreSQL) and says whether it exists.
pub async fn lock(tx: &mut Tx, id: ReferralId) -> Result<bool, StoreError> {
    super::lock_row(tx, "referrals", id.0).await
}

/// The case's live (not withdrawn) referral, if any.
pub async fn live_for_case(tx: &mut Tx, case: CaseRef) -> Result<Option<ReferralId>, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT r.id FROM referrals r WHERE r.case_name = $1 AND NOT EXISTS \
             (SELECT 1 FROM referral_events e WHERE e.referral_id = r.id AND e.status = $2) LIMIT 1",
        )
        .bind(case.name())
        .bind(ReferralStatus::Withdrawn.code() as i16)
        .fetch_optional(c)
        .await?
    });
    Ok(row.map(|(id,)| ReferralId(id)))
}

type ReferralRow = (Uuid, String, Uuid, String, Ts, String, Ts, String, Ts);
type LinkRow = (Uuid, String, String, i16, String);
type EventRow = (Uuid, i16, Ts, Ts, String, String, String, String, String, String);

async fn fetch<T>(tx: &mut Tx, sql: &str, ids: &[ReferralId]) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + Send
        + Unpin,
{
    Ok(on_tx!(tx, c => {
        let mut q = sqlx::query_as(sql);
        for id in ids {
            q = q.bind(id.0);
        }
        q.fetch_all(c).await?
    }))
}

/// Referrals by id, whole, in the order given; unknown ids are left out. Without `bundles` the
/// evidence bundles are left empty (the figures do not need them).
pub async fn load(tx: &mut Tx, keys: &Keyring, ids: &[ReferralId], bundles: bool) -> Result<Vec<Referral>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let list = placeholders(1, chunk.len());
        let rows: Vec<ReferralRow> = fetch(
            tx,
            &format!(
                "SELECT id, case_name, assessment_id, agency, referred_at, summary, case_received_at, created_by, create_time \
                 FROM referrals WHERE id IN ({list})"
            ),
            chunk,
        )
        .await?;
        let links: Vec<LinkRow> = if bundles {
            fetch(
                tx,
                &format!(
                    "SELECT referral_id, link, canonical_url, status, evidence_sha256 FROM referral_links \
                     WHERE referral_id IN ({list}) ORDER BY referral_id, position"
                ),
                chunk,
            )
            .await?
        } else {
            Vec::new()
        };
        let events: Vec<EventRow> = fetch(
            tx,
            &format!(
                "SELECT referral_id, status, occurred_at, record_time, actor, agency_reference, offence, sentence, reason, note \
                 FROM referral_events WHERE referral_id IN ({list}) ORDER BY occurred_at, status"
            ),
            chunk,
        )
        .await?;
        let mut bundle_of: HashMap<Uuid, Vec<BundledLink>> = HashMap::new();
        for (referral, link, canonical_url, status, sha256) in links {
            bundle_of.entry(referral).or_default().push(BundledLink {
                link: name(&link, LinkRef::parse_name, "referral_links.link")?,
                canonical_url,
                status: code(status, LinkStatus::from_code, "referral_links.status")?,
                evidence_sha256: sha256.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            });
        }
        let mut events_of: HashMap<Uuid, Vec<ReferralEvent>> = HashMap::new();
        for (referral, status, occurred_at, record_time, actor, agency_reference, offence, sentence, reason, note) in
            events
        {
            let record = event_record(referral, status);
            events_of.entry(referral).or_default().push(ReferralEvent {
                status: code(status, ReferralStatus::from_code, "referral_events.status")?,
                occurred_at: occurred_at.0,
                record_time: record_time.0,
                actor,
                agency_reference,
                details: OutcomeDetails {
                    offence: keys.open_text(OFFENCE, &record, &offence)?,
                    sentence: keys.open_text(SENTENCE, &record, &sentence)?,
                    reason: keys.open_text(REASON, &record, &reason)?,
                    note: keys.open_text(NOTE, &record, &note)?,
                },
            });
        }
        for (id, case, assessment, agency, referred_at, summary, case_received_at, created_by, create_time) in rows {
            out.push(Referral {
                id: ReferralId(id),
                case: name(&case, CaseRef::parse_name, "referrals.case_name")?,
                assessment: AssessmentId(assessment),
                agency,
                referred_at: referred_at.0,
                summary: keys.open_text(SUMMARY, &id.to_string(), &summary)?,
                case_received_at: case_received_at.0,
                bundle: bundle_of.remove(&id).unwrap_or_default(),
                events: events_of.remove(&id).unwrap_or_default(),
                created_by,
                create_time: create_time.0,
            });
        }
    }
    let position = |id: &ReferralId| ids.iter().position(|x| x == id).unwrap_or(usize::MAX);
    out.sort_by_key(|r| position(&r.id));
    Ok(out)
}

pub async fn get(tx: &mut Tx, keys: &Keyring, id: ReferralId) -> Result<Option<Referral>, StoreError> {
    Ok(load(tx, keys, &[id], true).await?.into_iter().next())
}

/// What ListReferrals can ask of the store; the status, being derived, is filtered by the caller.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub agency: Option<String>,
    pub case: Option<CaseRef>,
    pub referred_after: Option<OffsetDateTime>,
    pub referred_before: Option<OffsetDateTime>,
}

/// Ids of referrals after `after` in id (creation) order that match `filter`.
pub async fn ids(tx: &mut Tx, filter: &Filter, after: Option<Uuid>, limit: u32) -> Result<Vec<ReferralId>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id FROM referrals WHERE id > $1 AND ($2 = '' OR agency = $2) AND ($3 = '' OR case_name = $3) \
             AND referred_at >= $4 AND referred_at < $5 ORDER BY id LIMIT $6",
        )
        .bind(after.unwrap_or(Uuid::nil()))
        .bind(filter.agency.clone().unwrap_or_default())
        .bind(filter.case.map(|c| c.name()).unwrap_or_default())
        .bind(Ts(filter.referred_after.unwrap_or(time::macros::datetime!(1900-01-01 0:00 UTC))))
        .bind(filter.referred_before.map_or(Ts::max(), Ts))
        .bind(i64::from(limit))
        .fetch_all(c)
        .await?
    });
    Ok(rows.into_iter().map(|(id,)| ReferralId(id)).collect())
}

/// Every referral recorded before `recorded_before`, without bundles, for the figures.
pub async fn all(tx: &mut Tx, keys: &Keyring, recorded_before: OffsetDateTime) -> Result<Vec<Referral>, StoreError> {
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT id FROM referrals WHERE create_time < $1 ORDER BY id").bind(Ts(recorded_before)).fetch_all(c).await?
    });
    let ids: Vec<ReferralId> = rows.into_iter().map(|(id,)| ReferralId(id)).collect();
    load(tx, keys, &ids, false).await
}
