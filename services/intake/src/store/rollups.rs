//! Keeps the figure points and their sums (`case_figure_points`, `case_figure_sums`,
//! `case_figure_month_sums`) in step with every write that can change a figure: a case recorded, a
//! status change, a new version of its data subjects. A write reads its case's history before it,
//! in its own transaction, and adds the difference its rows make (see `domain::rollups`); on
//! PostgreSQL the writers of one case already take turns on its row (`status_head_for_update`).
//! An erasure changes no figure: it keeps the case's categories and status changes.

use std::collections::{BTreeSet, HashMap};

use doxwatch_kit::{
    db::{Ts, Tx, push_list},
    on_tx,
    rollup::{self, store::Tables},
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, rows::code};
use crate::domain::{
    rollups::{CaseHistory, Measure, figures as from_sums},
    *,
};

/// The cases' points and sums (migrations 0009 and 0010); a case's figures break down by no id.
pub static TABLES: Tables<0> =
    Tables { pending: "case_figure_pending", points: "case_figure_points", sums: "case_figure_grains", scope: [] };

/// The most cases whose histories one statement reads.
const BATCH: usize = 500;

/// Counts a case just recorded with its first event, from the rows in hand (a new case has no
/// other rows to read).
pub async fn count_new_case(tx: &mut Tx, case: &Case, created: &CaseEvent) -> Result<(), StoreError> {
    let categories = case.details.data_subjects.iter().map(|s| s.category).collect();
    let statuses = created
        .to_status
        .map(|s| (rollup::stored(created.occurred_at), rollup::stored(created.record_time), created.id, s));
    let history = CaseHistory {
        kind: case.kind,
        received_at: rollup::stored(case.received_at),
        create_time: rollup::stored(case.create_time),
        statuses: statuses.into_iter().collect(),
        subjects: vec![(1, rollup::stored(case.create_time), categories)],
    };
    let points = rollup::points_from(&history, history.create_time);
    Ok(TABLES.add(tx, vec![([], points)]).await?)
}

/// The history of `case` before a write, if the case exists.
pub async fn history(tx: &mut Tx, case: CaseId) -> Result<Option<CaseHistory>, StoreError> {
    Ok(histories(tx, &[case.0]).await?.remove(&case.0))
}

/// Adds what a write at `from` changed of one case: its history was `before` and is `after`.
pub async fn add_correction(
    tx: &mut Tx,
    before: &CaseHistory,
    after: &CaseHistory,
    from: OffsetDateTime,
) -> Result<(), StoreError> {
    let points = rollup::correction(before, after, rollup::stored(from));
    if points.is_empty() {
        return Ok(());
    }
    Ok(TABLES.add(tx, vec![([], points)]).await?)
}

/// Builds the points and sums of every case from its rows, in the caller's transaction, if the
/// store still has them to build (a store migrated with cases in it). Returns whether it found
/// any to build.
pub async fn build_if_unbuilt(tx: &mut Tx) -> Result<bool, StoreError> {
    let claimed = on_tx!(tx, c => {
        sqlx::query("DELETE FROM case_figures_unbuilt").execute(c).await?.rows_affected()
    });
    if claimed == 0 {
        return Ok(false);
    }
    let mut after = Uuid::nil();
    let mut built = false;
    loop {
        let ids: Vec<Uuid> = on_tx!(tx, c => {
            sqlx::query_scalar("SELECT id FROM cases WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(BATCH as i64)
                .fetch_all(c)
                .await?
        });
        let Some(last) = ids.last() else { break };
        built = true;
        after = *last;
        let points = histories(tx, &ids)
            .await?
            .into_values()
            .map(|h| {
                ([], rollup::points_from(&h, OffsetDateTime::UNIX_EPOCH.replace_year(1900).unwrap_or(h.create_time)))
            })
            .collect();
        TABLES.add(tx, points).await?;
    }
    Ok(built)
}

/// The figures as at `as_of`, recorded before `recorded_before`, from the sums: the same as
/// [`tally`] of `super::statistics_rows`, however many cases the store holds.
pub async fn figures(
    tx: &mut Tx,
    as_of: OffsetDateTime,
    recorded_before: Option<OffsetDateTime>,
) -> Result<IntakeFigures, StoreError> {
    let mut sums = Vec::new();
    for ([], measure, value, n) in TABLES.sums(tx, as_of, recorded_before).await? {
        let measure = Measure::from_code(measure)
            .ok_or(super::StoreDecodeError::UnknownCode { column: "case_figure_points.measure", value: measure })?;
        sums.push((measure, value, n));
    }
    // The earliest case counted: the first entry of the received-at index that qualifies.
    let first: Option<Ts> = on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT received_at FROM cases WHERE received_at <= $1 AND create_time < $2 ORDER BY received_at LIMIT 1",
        )
        .bind(Ts(as_of))
        .bind(recorded_before.map_or(Ts::max(), Ts))
        .fetch_optional(c)
        .await?
    });
    Ok(from_sums(sums, first.map(|t| t.0)))
}

/// The histories of `ids` (at most a few thousand), every row of each.
async fn histories(tx: &mut Tx, ids: &[Uuid]) -> Result<HashMap<Uuid, CaseHistory>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(BATCH) {
        let cases: Vec<(Uuid, i16, Ts, Ts)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new("SELECT id, kind, received_at, create_time FROM cases WHERE id IN ");
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        let statuses: Vec<(Uuid, Ts, Ts, Uuid, i16)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "SELECT case_id, occurred_at, record_time, id, to_status FROM case_events WHERE to_status <> 0 AND case_id IN ",
            );
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        let subjects: Vec<(Uuid, i32, Ts, Option<i16>)> = on_tx!(tx, c => {
            let mut q = QueryBuilder::new(
                "SELECT v.case_id, v.version, v.recorded_at, s.category FROM case_subject_versions v \
                 LEFT JOIN case_subjects s ON s.case_id = v.case_id AND s.version = v.version WHERE v.case_id IN ",
            );
            push_list(&mut q, chunk.iter().copied());
            q.build_query_as().fetch_all(c).await?
        });
        for (id, kind, received_at, create_time) in cases {
            let kind = code(kind, CaseKind::from_code, "cases.kind")?;
            out.insert(
                id,
                CaseHistory {
                    kind,
                    received_at: received_at.0,
                    create_time: create_time.0,
                    statuses: vec![],
                    subjects: vec![],
                },
            );
        }
        for (case, occurred_at, record_time, id, status) in statuses {
            let status = code(status, CaseStatus::from_code, "case_events.to_status")?;
            if let Some(h) = out.get_mut(&case) {
                h.statuses.push((occurred_at.0, record_time.0, id, status));
            }
        }
        for (case, version, recorded_at, category) in subjects {
            let category =
                category.map(|c| code(c, DataSubjectCategory::from_code, "case_subjects.category")).transpose()?;
            let Some(h) = out.get_mut(&case) else { continue };
            match h.subjects.iter_mut().find(|s| s.0 == version) {
                Some(s) => s.2.extend(category),
                None => h.subjects.push((version, recorded_at.0, category.into_iter().collect::<BTreeSet<_>>())),
            }
        }
    }
    Ok(out)
}
