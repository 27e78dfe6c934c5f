//! Keeps the figure points and their sums (`notice_figure_points`, `notice_figure_sums`,
//! `notice_figure_month_sums`) in step with every write that can change a figure: a notice
//! drafted, changed, served, answered or closed. The write hands over the notice as it was and as
//! it is, in its own transaction (the notice's row is locked while it is changed), and the
//! difference is added (see `domain::rollups`). An erasure changes no figure: it blanks texts.

use std::collections::HashMap;

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    rollup::{self, store::Tables},
    sealing::Keyring,
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError, notices};
use crate::domain::{
    rollups::{Measure, NoticeHistory, ServiceMoments, figures as from_sums},
    *,
};

/// The notices' points and sums (migrations 0005 and 0006), broken down by platform.
pub static TABLES: Tables<1> = Tables {
    pending: "notice_figure_pending",
    points: "notice_figure_points",
    sums: "notice_figure_grains",
    scope: ["platform"],
};

/// Adds what a write at record time `from` changed of one notice, which was `before` (none for a
/// notice just drafted) and is `after`. A write that changes what has no record time of its own
/// (a draft's fields) passes the notice's creation as `from`, so that every cut is corrected.
pub async fn count(
    tx: &mut Tx,
    before: Option<&Notice>,
    after: &Notice,
    from: OffsetDateTime,
) -> Result<(), StoreError> {
    if let (None, Some(service)) = (before.and_then(|b| b.service.as_ref()), after.service.as_ref()) {
        record_service(tx, after, service).await?;
    }
    let from = rollup::stored(from);
    let points = match before {
        Some(before) => rollup::correction(&NoticeHistory(before), &NoticeHistory(after), from),
        None => rollup::points_from(&NoticeHistory(after), from),
    };
    if points.is_empty() {
        return Ok(());
    }
    Ok(TABLES.add(tx, vec![([after.platform.0], points)]).await?)
}

/// Builds the points and sums of every notice from its rows, in the caller's transaction, if the
/// store still has them to build (a store migrated with notices in it). Returns whether it found
/// any to build.
pub async fn build_if_unbuilt(tx: &mut Tx, keys: &Keyring) -> Result<bool, StoreError> {
    let claimed = on_tx!(tx, c => {
        sqlx::query("DELETE FROM notice_figures_unbuilt").execute(c).await?.rows_affected()
    });
    if claimed == 0 {
        return Ok(false);
    }
    let mut after = Uuid::nil();
    let mut built = false;
    loop {
        let ids: Vec<Uuid> = on_tx!(tx, c => {
            sqlx::query_scalar("SELECT id FROM notices WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(BATCH as i64)
                .fetch_all(c)
                .await?
        });
        let Some(last) = ids.last() else { break };
        built = true;
        after = *last;
        let ids: Vec<NoticeId> = ids.into_iter().map(NoticeId).collect();
        let loaded = notices::load(tx, keys, &ids).await?;
        let points =
            loaded.iter().map(|n| ([n.platform.0], rollup::points_from(&NoticeHistory(n), n.create_time))).collect();
        TABLES.add(tx, points).await?;
    }
    Ok(built)
}

/// Keeps a notice's moment of service where [`figures`] seeks the first and last of each kind.
async fn record_service(tx: &mut Tx, notice: &Notice, service: &Service) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO notice_services (notice_id, platform, kind, served_at, record_time) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(notice.id.0)
        .bind(notice.platform.name())
        .bind(notice.kind.code() as i16)
        .bind(Ts(service.served_at))
        .bind(Ts(service.record_time))
        .execute(c)
        .await?;
    });
    Ok(())
}

/// The figures as at `t`, of one platform's notices or of all, from the sums and the moments of
/// service: the same as [`tally`] of the notices, however many the store holds.
pub async fn figures(tx: &mut Tx, t: AsAt, platform: Option<PlatformRef>) -> Result<LiaisonFigures, StoreError> {
    let mut sums = Vec::new();
    for ([scope], measure, value, n) in TABLES.sums(tx, t.at, t.recorded_before).await? {
        if platform.is_some_and(|p| p.0 != scope) {
            continue;
        }
        let measure = Measure::from_code(measure)
            .ok_or(StoreError::UnknownCode { column: "notice_figure_points.measure", value: measure })?;
        sums.push((PlatformRef(scope), measure, value, n));
    }
    let served: Vec<(PlatformRef, NoticeKind)> = sums
        .iter()
        .filter(|(_, measure, _, n)| *measure == Measure::Served && *n > 0)
        .filter_map(|(platform, _, kind, _)| Some((*platform, NoticeKind::from_code(i32::try_from(*kind).ok()?)?)))
        .collect();
    let moments = service_moments(tx, &served, t).await?;
    Ok(from_sums(sums, &moments))
}

/// The first and last moments of service of each of `served` (a platform and a kind) as at `t`:
/// two index seeks each, in statements of [`BATCH`] pairs.
async fn service_moments(
    tx: &mut Tx,
    served: &[(PlatformRef, NoticeKind)],
    t: AsAt,
) -> Result<ServiceMoments, StoreError> {
    let named: HashMap<(String, i16), (PlatformRef, NoticeKind)> =
        served.iter().map(|&(p, k)| ((p.name(), k.code() as i16), (p, k))).collect();
    let (at, before) = (Ts(t.at), Ts(t.recorded_before_or_max()));
    let mut moments = ServiceMoments::new();
    for chunk in served.chunks(BATCH) {
        let rows: Vec<(String, i16, Option<Ts>, Option<Ts>)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("WITH pairs (platform, kind) AS (");
            q.push_values(chunk, |mut row, (platform, kind)| {
                row.push_bind(platform.name()).push_bind(kind.code() as i16);
            });
            q.push(") SELECT p.platform, p.kind");
            for order in ["ASC", "DESC"] {
                q.push(
                    ", (SELECT s.served_at FROM notice_services s WHERE s.platform = p.platform \
                     AND s.kind = p.kind AND s.served_at <= ",
                )
                .push_bind(at)
                .push(" AND s.record_time < ")
                .push_bind(before)
                .push(format!(" ORDER BY s.served_at {order} LIMIT 1)"));
            }
            q.push(" FROM pairs p");
            q.build_query_as().fetch_all(c).await?
        });
        for (platform, kind, first, last) in rows {
            if let (Some(&key), Some(first), Some(last)) = (named.get(&(platform, kind)), first, last) {
                moments.insert(key, (first.0, last.0));
            }
        }
    }
    Ok(moments)
}
