//! Keeps the figure points and their sums (`notice_figure_points`, `notice_figure_sums`,
//! `notice_figure_month_sums`) in step with every write that can change a figure: a notice
//! drafted, changed, served, answered or closed. The write hands over the notice as it was and as
//! it is, in its own transaction (the notice's row is locked while it is changed), and the
//! difference is added (see `domain::rollups`). An erasure changes no figure: it blanks texts.

use doxwatch_kit::{
    db::Tx,
    on_tx,
    rollup::{self, store::Tables},
    sealing::Keyring,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{BATCH, StoreError, notices};
use crate::domain::{
    rollups::{Measure, NoticeHistory, figures as from_sums},
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

/// The figures as at `t`, of one platform's notices or of all, from the sums: the same as
/// [`tally`] of the notices, however many the store holds.
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
    Ok(from_sums(sums))
}
