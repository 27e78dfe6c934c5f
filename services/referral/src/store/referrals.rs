//! Referrals: the row, the frozen evidence bundle and the timeline, read back whole.

use std::collections::HashMap;

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    sealing::Keyring,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code, name};
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
             create_time, reference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        .bind(&r.reference)
        .execute(c)
        .await?;
    });
    for (chunk_index, chunk) in r.bundle.chunks(BATCH).enumerate() {
        let first = chunk_index * BATCH;
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "INSERT INTO referral_links (referral_id, position, link, canonical_url, status, evidence_sha256) ",
            );
            q.push_values(chunk.iter().enumerate(), |mut row, (i, l)| {
                row.push_bind(r.id.0)
                    .push_bind((first + i) as i32)
                    .push_bind(l.link.name())
                    .push_bind(&l.canonical_url)
                    .push_bind(l.status.code() as i16)
                    .push_bind(l.evidence_sha256.join(","));
            });
            q.build().execute(c).await?;
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

/// The referral with this reference, if any.
pub async fn with_reference(tx: &mut Tx, reference: &str) -> Result<Option<ReferralId>, StoreError> {
    let id: Option<Uuid> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT id FROM referrals WHERE reference = $1").bind(reference).fetch_optional(c).await?
    });
    Ok(id.map(ReferralId))
}

#[derive(sqlx::FromRow)]
struct ReferralRow {
    id: Uuid,
    case_name: String,
    assessment_id: Uuid,
    agency: String,
    referred_at: Ts,
    summary: String,
    case_received_at: Ts,
    created_by: String,
    create_time: Ts,
    reference: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    referral_id: Uuid,
    link: String,
    canonical_url: String,
    status: i16,
    evidence_sha256: String,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    referral_id: Uuid,
    status: i16,
    occurred_at: Ts,
    record_time: Ts,
    actor: String,
    agency_reference: String,
    offence: String,
    sentence: String,
    reason: String,
    note: String,
}

/// Rows inserted (or ids looked up) per statement: far below either backend's limit on bound
/// parameters, with six parameters a row.
const BATCH: usize = 500;

/// `{select} WHERE referral_id IN (ids) {order}`, one row of `T` per row found.
async fn fetch<T>(
    tx: &mut Tx,
    select: &str,
    column: &str,
    ids: &[ReferralId],
    order: &str,
) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + Send
        + Unpin,
{
    Ok(on_tx!(tx, c => {
        let mut q = QueryBuilder::new(select);
        q.push(" WHERE ").push(column).push(" IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.0);
        }
        list.push_unseparated(") ");
        q.push(order);
        q.build_query_as().fetch_all(c).await?
    }))
}

/// Referrals by id, whole, in the order given; unknown ids are left out. Without `bundles` the
/// evidence bundles are left empty (the figures do not need them).
pub async fn load(tx: &mut Tx, keys: &Keyring, ids: &[ReferralId], bundles: bool) -> Result<Vec<Referral>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let rows: Vec<ReferralRow> = fetch(
            tx,
            "SELECT id, case_name, assessment_id, agency, referred_at, summary, case_received_at, created_by, create_time, \
             reference FROM referrals",
            "id",
            chunk,
            "",
        )
        .await?;
        let links: Vec<LinkRow> = if bundles {
            fetch(
                tx,
                "SELECT referral_id, link, canonical_url, status, evidence_sha256 FROM referral_links",
                "referral_id",
                chunk,
                "ORDER BY referral_id, position",
            )
            .await?
        } else {
            Vec::new()
        };
        let events: Vec<EventRow> = fetch(
            tx,
            "SELECT referral_id, status, occurred_at, record_time, actor, agency_reference, offence, sentence, reason, note \
             FROM referral_events",
            "referral_id",
            chunk,
            "ORDER BY occurred_at, status",
        )
        .await?;
        let mut bundle_of: HashMap<Uuid, Vec<BundledLink>> = HashMap::new();
        for l in links {
            bundle_of.entry(l.referral_id).or_default().push(BundledLink {
                link: name(&l.link, LinkRef::parse_name, "referral_links.link")?,
                canonical_url: l.canonical_url,
                status: code(l.status, LinkStatus::from_code, "referral_links.status")?,
                evidence_sha256: l.evidence_sha256.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            });
        }
        let mut events_of: HashMap<Uuid, Vec<ReferralEvent>> = HashMap::new();
        for e in events {
            let record = event_record(e.referral_id, e.status);
            events_of.entry(e.referral_id).or_default().push(ReferralEvent {
                status: code(e.status, ReferralStatus::from_code, "referral_events.status")?,
                occurred_at: e.occurred_at.0,
                record_time: e.record_time.0,
                actor: e.actor,
                agency_reference: e.agency_reference,
                details: OutcomeDetails {
                    offence: keys.open_text(OFFENCE, &record, &e.offence)?,
                    sentence: keys.open_text(SENTENCE, &record, &e.sentence)?,
                    reason: keys.open_text(REASON, &record, &e.reason)?,
                    note: keys.open_text(NOTE, &record, &e.note)?,
                },
            });
        }
        for r in rows {
            out.push(Referral {
                id: ReferralId(r.id),
                reference: r.reference.unwrap_or_default(),
                case: name(&r.case_name, CaseRef::parse_name, "referrals.case_name")?,
                assessment: AssessmentId(r.assessment_id),
                agency: r.agency,
                referred_at: r.referred_at.0,
                summary: keys.open_text(SUMMARY, &r.id.to_string(), &r.summary)?,
                case_received_at: r.case_received_at.0,
                bundle: bundle_of.remove(&r.id).unwrap_or_default(),
                events: events_of.remove(&r.id).unwrap_or_default(),
                created_by: r.created_by,
                create_time: r.create_time.0,
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
