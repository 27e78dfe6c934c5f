//! Keeps the figure points and their sums (`referral_figure_points`, `referral_figure_sums`,
//! `referral_figure_month_sums`) in step with every write that can change a figure: an
//! assessment, a referral, and each step of a referral's timeline. The write reads its case's rows
//! before and after it, in its own transaction, and the difference is added (see
//! `domain::rollups`); an erasure changes no figure: it blanks texts.

use std::collections::BTreeMap;

use doxwatch_kit::{
    db::Tx,
    on_tx,
    rollup::{self, store::Tables},
    sealing::Keyring,
};
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

use super::{StoreError, assessments, referrals};
use crate::domain::{
    rollups::{CaseHistory, Key, Measure, figures as from_sums},
    *,
};

/// The referrals' points and sums (migrations 0005 and 0006), broken down by agency (the nil id for the
/// total).
pub static TABLES: Tables<1> = Tables {
    pending: "referral_figure_pending",
    points: "referral_figure_points",
    sums: "referral_figure_grains",
    scope: ["agency"],
};

/// The cases whose rows one build step reads.
const BATCH: i64 = 200;

/// The rows of `case`, as the figures read them.
pub async fn history(tx: &mut Tx, keys: &Keyring, case: CaseRef) -> Result<CaseHistory, StoreError> {
    let name = case.name();
    let assessments = assessments::of_case(tx, keys, case).await?;
    let ids: Vec<Uuid> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT id FROM referrals WHERE case_name = $1 ORDER BY id").bind(&name).fetch_all(c).await?
    });
    let ids: Vec<ReferralId> = ids.into_iter().map(ReferralId).collect();
    let referrals = referrals::load(tx, keys, &ids, false).await?;
    Ok(CaseHistory { assessments, referrals })
}

/// Adds what a write at record time `from` changed of a case, whose rows were `before` and are
/// `after`.
pub async fn count(
    tx: &mut Tx,
    before: &CaseHistory,
    after: &CaseHistory,
    from: OffsetDateTime,
) -> Result<(), StoreError> {
    add(tx, rollup::correction(before, after, rollup::stored(from))).await
}

/// The points, each in its scope's rows.
async fn add(tx: &mut Tx, points: rollup::Points<Key>) -> Result<(), StoreError> {
    let mut scoped: BTreeMap<Uuid, rollup::Points<(Measure, i64)>> = BTreeMap::new();
    for ((r, b, (scope, measure, value)), n) in points {
        scoped.entry(scope).or_default().insert((r, b, (measure, value)), n);
    }
    if scoped.is_empty() {
        return Ok(());
    }
    Ok(TABLES.add(tx, scoped.into_iter().map(|(scope, p)| ([scope], p)).collect()).await?)
}

/// Builds the points and sums of every case from its rows, in the caller's transaction, if the
/// store still has them to build (a store migrated with assessments in it). Returns whether it found
/// any to build.
pub async fn build_if_unbuilt(tx: &mut Tx, keys: &Keyring) -> Result<bool, StoreError> {
    let claimed = on_tx!(tx, c => {
        sqlx::query("DELETE FROM referral_figures_unbuilt").execute(c).await?.rows_affected()
    });
    if claimed == 0 {
        return Ok(false);
    }
    // Earlier than any record time: every row enters the points.
    let from = datetime!(1900-01-01 0:00 UTC);
    let mut after = String::new();
    let mut built = false;
    loop {
        let cases: Vec<String> = on_tx!(tx, c => {
            sqlx::query_scalar(
                "SELECT case_name FROM (SELECT case_name FROM assessments UNION SELECT case_name FROM referrals) x \
                 WHERE case_name > $1 ORDER BY case_name LIMIT $2",
            )
            .bind(&after)
            .bind(BATCH)
            .fetch_all(c)
            .await?
        });
        let Some(last) = cases.last() else { break };
        built = true;
        after = last.clone();
        for name in &cases {
            let case =
                CaseRef::parse_name(name).map_err(|_| StoreError::BadName { column: "assessments.case_name" })?;
            let history = history(tx, keys, case).await?;
            add(tx, rollup::points_from(&history, from)).await?;
        }
    }
    Ok(built)
}

/// The figures as at `t` from the sums: the same as [`tally`] of every assessment and referral,
/// however many the store holds. `agencies` are listed even when nothing was referred to them,
/// with any other agency the store has referred to.
pub async fn figures(tx: &mut Tx, t: AsAt, agencies: &[String]) -> Result<ReferralFigures, StoreError> {
    let mut sums = Vec::new();
    for ([scope], measure, value, n) in TABLES.sums(tx, t.at, t.recorded_before).await? {
        let measure = Measure::from_code(measure)
            .ok_or(StoreError::UnknownCode { column: "referral_figure_points.measure", value: measure.to_string() })?;
        sums.push((scope, measure, value, n));
    }
    // Agencies referred to that the configuration no longer names, from the agency index.
    let named: Vec<String> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT DISTINCT agency FROM referrals").fetch_all(c).await?
    });
    Ok(from_sums(sums, agencies, &named))
}
