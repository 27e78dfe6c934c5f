//! The agencies' feed: one entry per referral made and per referral withdrawn, numbered in the
//! order they were committed for each agency.

use doxwatch_kit::{
    db::{Db, Ts, Tx},
    on_pool, on_tx,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, code};
use crate::domain::*;

/// One entry of an agency's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub seq: i64,
    pub referral: ReferralId,
    pub kind: FeedEntryKind,
    pub record_time: OffsetDateTime,
}

/// Appends an entry to `agency`'s feed inside `tx`. On PostgreSQL the agency's feed is locked
/// until `tx` ends, so that no entry of the agency gets a lower seq and commits later than one a
/// watcher has already read past.
pub async fn append(
    tx: &mut Tx,
    agency: &str,
    referral: ReferralId,
    kind: FeedEntryKind,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    super::advisory_lock(tx, &format!("referral:feed:{agency}")).await?;
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO referral_feed (agency, referral_id, kind, record_time) VALUES ($1, $2, $3, $4)")
            .bind(agency)
            .bind(referral.0)
            .bind(kind.code() as i16)
            .bind(Ts(now))
            .execute(c)
            .await?;
    });
    Ok(())
}

/// Up to `limit` entries of `agency`'s feed after `seq`, in order.
pub async fn after(db: &Db, agency: &str, seq: i64, limit: i64) -> Result<Vec<FeedEntry>, StoreError> {
    let rows: Vec<(i64, Uuid, i16, Ts)> = on_pool!(db.read(), p => {
        sqlx::query_as(
            "SELECT seq, referral_id, kind, record_time FROM referral_feed WHERE agency = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(agency)
        .bind(seq)
        .bind(limit)
        .fetch_all(p)
        .await?
    });
    rows.into_iter()
        .map(|(seq, referral, kind, record_time)| {
            Ok(FeedEntry {
                seq,
                referral: ReferralId(referral),
                kind: code(kind, FeedEntryKind::from_code, "referral_feed.kind")?,
                record_time: record_time.0,
            })
        })
        .collect()
}
