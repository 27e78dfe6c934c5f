//! Where a service keeps its figures' points and their sums: three tables of its own, named by
//! [`Tables`].
//!
//! - the pending points: (business time, record time, scope…, measure, value, n), appended by the
//!   write that makes them, in its own transaction, and touching no row another write shares;
//! - the folded points: the same rows once [`Tables::fold`] has taken them from the pending ones,
//!   summed per exact business time, record time, scope and key, for the edges of a read;
//! - the sums of the folded points per grain: (grain, lead, trail, scope…, measure, value, n).
//!
//! A grain pairs a business [`Unit`] coarser than the microsecond with a record unit coarser than
//! it (5 × 5 of them), or with "ever" on the record side (5 more: a business unit's sums whenever
//! recorded). A figure as at T, recorded before R, sums n over `business < T'` and `record < R`
//! (T' the microsecond after T). Each of those two prefixes splits into blocks: the whole months
//! before the moment's month, the whole days of its month before its day, and so on down to the
//! whole seconds of its minute before its second, then the microseconds of its second before it.
//! Each pair of blocks is read from the grain of the two blocks' units, over a range of the short
//! block's periods (all the months before, on a month side); a pair with a block of microseconds
//! is read from the folded points themselves, which are kept per exact moment and indexed by
//! either time, so that it reads one second's points on that side. The pending points are read
//! whole. A grain with a microsecond side would hold a row for nearly every point, written at
//! every fold: the folded points already are that row. So a figure reads the sums of whole
//! months however long the history, and otherwise only what was written next to T and R, summed
//! by moment: however many writes a day of bulk import made, and however many points one moment
//! holds.
//!
//! What was recorded next to R can still be much: a bulk load recorded in the hour before a cut
//! at now. So "recorded before R" has a second [`Reading`]: the business blocks whenever
//! recorded, less the blocks of "recorded at or after R" (the microseconds of R's second from R
//! on, the seconds of its minute after its second, … the months after its month). A read takes
//! the one that reads fewer rows; a cut at now, or none, reads the business blocks alone.
//!
//! The scope is a fixed number of ids that a figure can be broken down by (a link's platform and
//! channel; none for a case), the nil id where there is none. A key of the service's figures is a
//! (measure, value) pair of numbers ([`Code`]).

use std::{collections::BTreeMap, future::Future, pin::Pin, time::Duration};

use sqlx::{QueryBuilder, Row};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

use super::{Points, Unit, stored};
use crate::{
    db::{Db, Ts, Tx},
    error::CauseChain,
    on_tx,
};

/// How a key of a service's figures is stored: its measure and its value.
pub trait Code {
    fn code(&self) -> (i64, i64);
}

/// The rows one statement carries at most (at most 10 values each, well inside either backend's
/// limit on parameters).
pub(super) const BATCH: usize = 1_000;

/// The pending points one fold takes at most: a fold holds SQLite's one writer while it runs.
pub const FOLD_BATCH: usize = 2_000;

/// A service's tables of pending points, folded points and sums, and the names of its scope
/// columns.
pub struct Tables<const N: usize> {
    pub pending: &'static str,
    pub points: &'static str,
    pub sums: &'static str,
    pub scope: [&'static str; N],
}

/// One summed figure: its scope, measure, value and count (never zero).
pub type Sum<const N: usize> = ([Uuid; N], i64, i64, i64);

/// A point as stored: business time, record time, scope, measure, value, n.
type Point<const N: usize> = (OffsetDateTime, OffsetDateTime, [Uuid; N], i64, i64, i64);

/// Sums keyed by (grain, lead, trail, scope, measure, value).
type Sums<const N: usize> = BTreeMap<(i64, i64, i64, [Uuid; N], i64, i64), i64>;

/// The index of the microsecond in [`Unit::ALL`]: a block of it, on either side, is read from the
/// folded points.
const EXACT: usize = 5;

/// The record side's "ever": a grain of a business unit against it sums whenever recorded.
const EVER: usize = 6;

/// Index entries a read's choice of [`Reading`] counts at most on each side of its cut.
const PROBE: i64 = 1_000;

/// Which way a read takes "recorded before R". Both are exact; they differ in which rows they
/// read, and [`Tables::sums`] takes the one that reads fewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The sums recorded before R, in blocks reaching back from R: cheap when little was
    /// recorded next to R before it.
    Before,
    /// The sums whenever recorded, less those recorded at or after R, in blocks reaching forward
    /// from R: cheap when little was recorded after R (a cut at now, or none).
    Since,
}

/// The grain of a business unit and a record unit (indices into [`Unit::ALL`]): their two digits.
fn grain(business: usize, record: usize) -> i64 {
    (business * 10 + record) as i64
}

/// Which of a grain's two periods leads its key: the business period, unless the business unit
/// is the month and the record unit finer. A read takes a few periods of the finer unit against
/// all the months before, so the range on the leading column is the short one.
fn record_leads(business: usize, record: usize) -> bool {
    business == 0 && record != 0
}

/// The blocks of periods that make up "before `end`", one per unit: `[from, to)` counted in that
/// unit. The months reach back without bound; each finer unit covers the part of its coarser
/// unit's period that comes before `end`'s.
fn blocks(end: OffsetDateTime) -> [(i64, i64); 6] {
    let mut blocks = [(i64::MIN, Unit::Month.period(end)); 6];
    for (block, pair) in blocks.iter_mut().skip(1).zip(Unit::ALL.windows(2)) {
        let (coarser, unit) = (pair[0], pair[1]);
        *block = (unit.period(coarser.floor(end)), unit.period(end));
    }
    blocks
}

/// The blocks of "before `end`" as [`blocks`] makes them, each with whether it is taken off rather
/// than added. When fewer days of `end`'s month lie at or after its day than before it, the days
/// before it are read as the whole month less the days from its day on: a cut late in a month
/// reads a few day periods, not nearly all of them.
fn business_blocks(end: OffsetDateTime) -> [((i64, i64), bool); 6] {
    let blocks = blocks(end);
    let mut signed = blocks.map(|b| (b, false));
    let month = Unit::Month.period(end);
    let next = month.checked_add(1).and_then(|m| Unit::Month.try_start(m).map(|start| (m, start)));
    if let Some((next_month, next_start)) = next {
        let (day, month_end_day) = (Unit::Day.period(end), Unit::Day.period(next_start));
        let (before, from) = (blocks[1].1.saturating_sub(blocks[1].0), month_end_day.saturating_sub(day));
        // Read whole, the month is one period more than the days it stands for.
        if from.saturating_add(1) < before {
            signed[0] = ((blocks[0].0, next_month), false);
            signed[1] = ((day, month_end_day), true);
        }
    }
    signed
}

/// The blocks of periods that make up "at or after `start`", one per unit, like [`blocks`]: the
/// microseconds of its second from it on, the whole seconds of its minute after its second, and so
/// on up to the months after its month, without bound.
fn blocks_from(start: OffsetDateTime) -> [(i64, i64); 6] {
    let mut blocks = [(Unit::Month.period(start).saturating_add(1), i64::MAX); 6];
    for (block, pair) in blocks.iter_mut().skip(1).zip(Unit::ALL.windows(2)) {
        let (coarser, unit) = (pair[0], pair[1]);
        // The end of the coarser unit's period (none past the last date, where nothing is kept).
        let end = coarser.period(start).checked_add(1).and_then(|next| coarser.try_start(next));
        *block = (unit.period(start).saturating_add(1), end.map_or(i64::MAX, |end| unit.period(end)));
    }
    blocks[EXACT].0 = Unit::Microsecond.period(start);
    blocks
}

/// Adds to `q`'s conditions that `column` is in `[from, to)` (None: open).
fn between<'a, D>(q: &mut QueryBuilder<'a, D>, column: &str, from: Option<OffsetDateTime>, to: Option<OffsetDateTime>)
where
    D: sqlx::Database,
    Ts: sqlx::Encode<'a, D> + sqlx::Type<D>,
{
    if let Some(from) = from {
        q.push(" AND ").push(column).push(" >= ").push_bind(Ts(from));
    }
    if let Some(to) = to {
        q.push(" AND ").push(column).push(" < ").push_bind(Ts(to));
    }
}

/// The end of "recorded before `t`" as the store keeps times: a time between two microseconds
/// counts the earlier one in.
fn ceiling(t: OffsetDateTime) -> OffsetDateTime {
    let floor = stored(t);
    if floor < t { floor.checked_add(time::Duration::MICROSECOND).unwrap_or(floor) } else { floor }
}

impl<const N: usize> Tables<N> {
    fn scope_columns(&self) -> String {
        self.scope.iter().map(|c| format!("{c}, ")).collect()
    }

    /// Appends `points` of things in each scope to the pending points, for a later fold. They are
    /// held by the transaction and written at its commit with the others it added (see [`Tx`]).
    pub async fn add<K: Code>(&self, tx: &mut Tx, points: Vec<([Uuid; N], Points<K>)>) -> Result<(), sqlx::Error> {
        let held = &mut tx.held.points;
        let at = match held.iter().position(|h| h.table == self.pending) {
            Some(at) => at,
            None => {
                held.push(super::held::HeldPoints {
                    table: self.pending,
                    scope: self.scope_columns(),
                    rows: Vec::new(),
                });
                held.len() - 1
            }
        };
        let rows = &mut held[at].rows;
        for (scope, changes) in points {
            for ((r, b, key), n) in changes {
                let (m, v) = key.code();
                rows.push((b, r, scope.to_vec(), m, v, n));
            }
        }
        Ok(())
    }

    /// Inserts `rows` into `table`, each statement followed by `then` (an ON CONFLICT clause, or
    /// nothing).
    async fn append(&self, tx: &mut Tx, table: &str, rows: &[Point<N>], then: &str) -> Result<(), sqlx::Error> {
        let scope = self.scope_columns();
        for chunk in rows.chunks(BATCH) {
            on_tx!(tx, c => {
                let mut q = QueryBuilder::new(format!(
                    "INSERT INTO {table} (business_time, record_time, {scope}measure, value, n) "
                ));
                q.push_values(chunk, |mut row, (b, r, ids, m, v, n)| {
                    row.push_bind(Ts(*b)).push_bind(Ts(*r));
                    for id in ids {
                        row.push_bind(*id);
                    }
                    row.push_bind(*m).push_bind(*v).push_bind(*n);
                });
                q.push(then);
                q.build().execute(c).await?;
            });
        }
        Ok(())
    }

    /// Takes up to `limit` pending points, keeps them as folded points and adds them to every
    /// grain's sums, in the caller's transaction; returns how many it took. Two folds at once (two
    /// replicas on PostgreSQL) take different points, and add to the sums they share in key
    /// order, so that neither waits on the other for long.
    pub async fn fold(&self, tx: &mut Tx, limit: usize) -> Result<usize, sqlx::Error> {
        // What this transaction added is pending too.
        tx.write_held().await?;
        let scope = self.scope_columns();
        let pending = self.pending;
        let returning = format!(" RETURNING business_time, record_time, {scope}measure, value, n");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // PostgreSQL: rows another fold holds are skipped; SQLite has one writer.
        let take = if tx.is_postgres() {
            format!(
                "DELETE FROM {pending} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {pending} LIMIT $1 FOR UPDATE SKIP LOCKED))"
            )
        } else {
            format!("DELETE FROM {pending} WHERE rowid IN (SELECT rowid FROM {pending} LIMIT $1)")
        } + &returning;
        let mut taken: Vec<Point<N>> = Vec::new();
        on_tx!(tx, c => {
            let rows = sqlx::query(&take).bind(limit).fetch_all(c).await?;
            for row in rows {
                let mut ids = [Uuid::nil(); N];
                for (i, id) in ids.iter_mut().enumerate() {
                    *id = row.try_get(2 + i)?;
                }
                let b: Ts = row.try_get(0)?;
                let r: Ts = row.try_get(1)?;
                taken.push((b.0, r.0, ids, row.try_get(2 + N)?, row.try_get(3 + N)?, row.try_get(4 + N)?));
            }
        });
        if taken.is_empty() {
            return Ok(0);
        }
        // Kept summed per exact moments and key, in key order (two folds lock rows they share in
        // the same order).
        let mut points: BTreeMap<(OffsetDateTime, OffsetDateTime, [Uuid; N], i64, i64), i64> = BTreeMap::new();
        for (b, r, ids, m, v, n) in &taken {
            *points.entry((*b, *r, *ids, *m, *v)).or_default() += n;
        }
        let points: Vec<Point<N>> = points.into_iter().map(|((b, r, ids, m, v), n)| (b, r, ids, m, v, n)).collect();
        let folded = self.points;
        let then = format!(
            " ON CONFLICT (business_time, record_time, {scope}measure, value) DO UPDATE SET n = {folded}.n + excluded.n"
        );
        self.append(tx, folded, &points, &then).await?;
        let mut sums: Sums<N> = BTreeMap::new();
        for (b, r, ids, m, v, n) in &points {
            let (bp, rp) = (Unit::ALL.map(|u| u.period(*b)), Unit::ALL.map(|u| u.period(*r)));
            // A microsecond on either side is read from the folded points themselves.
            for (i, business) in bp.iter().enumerate().take(EXACT) {
                for (j, record) in rp.iter().enumerate().take(EXACT) {
                    let (lead, trail) = if record_leads(i, j) { (*record, *business) } else { (*business, *record) };
                    *sums.entry((grain(i, j), lead, trail, *ids, *m, *v)).or_default() += n;
                }
                *sums.entry((grain(i, EVER), *business, 0, *ids, *m, *v)).or_default() += n;
            }
        }
        sums.retain(|_, n| *n != 0);
        let sums: Vec<_> = sums.into_iter().collect();
        let table = self.sums;
        for chunk in sums.chunks(BATCH) {
            on_tx!(tx, c => {
                let mut q =
                    QueryBuilder::new(format!("INSERT INTO {table} (grain, lead, trail, {scope}measure, value, n) "));
                q.push_values(chunk, |mut row, ((g, lead, trail, ids, m, v), n)| {
                    row.push_bind(*g).push_bind(*lead).push_bind(*trail);
                    for id in ids {
                        row.push_bind(*id);
                    }
                    row.push_bind(*m).push_bind(*v).push_bind(*n);
                });
                q.push(format!(
                    " ON CONFLICT (grain, lead, trail, {scope}measure, value) DO UPDATE SET n = {table}.n + excluded.n"
                ));
                q.build().execute(c).await?;
            });
        }
        Ok(taken.len())
    }

    /// Folds every pending point, a batch per transaction; returns how many it folded.
    pub async fn fold_all(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let mut total = 0;
        loop {
            let mut tx = db.begin().await?;
            let n = self.fold(&mut tx, FOLD_BATCH).await?;
            tx.commit().await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// The figures as at `as_of`, recorded before `recorded_before` (everything when `None`): each
    /// (scope, measure, value) whose points sum to something other than zero, with that sum. Read
    /// the [`Reading`] that takes fewer rows, judged by the folded points recorded next to the cut.
    pub async fn sums(
        &self,
        tx: &mut Tx,
        as_of: OffsetDateTime,
        recorded_before: Option<OffsetDateTime>,
    ) -> Result<Vec<Sum<N>>, sqlx::Error> {
        let reading = match recorded_before {
            None => Reading::Since,
            Some(before) => self.cheaper_reading(tx, ceiling(before)).await?,
        };
        self.sums_by(tx, as_of, recorded_before, reading).await
    }

    /// The reading of "recorded before `end`" that reads fewer rows: [`Reading::Since`] when fewer
    /// folded points were recorded at or after `end` than on its day before it (each side counted
    /// up to [`PROBE`], on the points' record-time index), or none at all.
    async fn cheaper_reading(&self, tx: &mut Tx, end: OffsetDateTime) -> Result<Reading, sqlx::Error> {
        let points = self.points;
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {points} WHERE record_time >= $1 AND record_time < $2 LIMIT $3) x), \
                    (SELECT COUNT(*) FROM (SELECT 1 FROM {points} WHERE record_time >= $2 LIMIT $3) y)"
        );
        let (before, since): (i64, i64) = on_tx!(tx, c => sqlx::query_as(&sql)
            .bind(Ts(Unit::Day.floor(end)))
            .bind(Ts(end))
            .bind(PROBE)
            .fetch_one(c)
            .await?);
        Ok(if since == 0 || since < before { Reading::Since } else { Reading::Before })
    }

    /// The figures as [`Tables::sums`] gives them, read the way `reading` says. One statement, so
    /// that a fold committing meanwhile is seen whole or not at all; the points this transaction
    /// holds are written first and read as pending. Business times at or before `as_of` are those
    /// before the microsecond after it.
    pub async fn sums_by(
        &self,
        tx: &mut Tx,
        as_of: OffsetDateTime,
        recorded_before: Option<OffsetDateTime>,
        reading: Reading,
    ) -> Result<Vec<Sum<N>>, sqlx::Error> {
        tx.write_held().await?;
        let business_end = stored(as_of).checked_add(time::Duration::MICROSECOND).unwrap_or(Ts::max().0);
        let record_end = recorded_before.map_or(Ts::max().0, ceiling);
        let business = business_blocks(business_end);
        let columns = self.scope_columns();
        let added = format!("SELECT {columns}measure, value, n FROM ");
        let taken_off = format!("SELECT {columns}measure, value, -n FROM ");
        let prefix = |off: bool| if off { &taken_off } else { &added };
        let mut out = Vec::new();
        on_tx!(tx, c => {
            let mut q = QueryBuilder::new(format!("SELECT {columns}measure, value, CAST(SUM(n) AS BIGINT) FROM ("));
            // A cell's guard, checked once as it names no row of the cell: only if something folded
            // was recorded in `[from, to)`. A grain led by business time holds all the record
            // periods of its business periods; few are next to R.
            let if_folded = |q: &mut QueryBuilder<_>, from, to| {
                // Joined to: SQLite checks a subquery in WHERE row by row, a CROSS JOIN's left first.
                q.push("(SELECT 1 AS folded WHERE EXISTS (SELECT 1 FROM ").push(self.points).push(" WHERE 1 = 1");
                between(q, "record_time", from, to);
                q.push(")) guard CROSS JOIN ");
            };
            // Each pair of a business block and a record block of units coarser than the
            // microsecond from its grain, added or taken off as the two blocks' signs make it.
            let cells = |q: &mut QueryBuilder<_>, record_off: bool, record: &[(i64, i64); 6]| {
                for (i, (b, business_off)) in business.iter().enumerate().take(EXACT) {
                    for (j, r) in record.iter().enumerate().take(EXACT) {
                        if b.0 >= b.1 || r.0 >= r.1 {
                            continue;
                        }
                        let (lead, trail) = if record_leads(i, j) { (r, b) } else { (b, r) };
                        let bound = |p: i64| Unit::ALL[j].try_start(p).filter(|_| p != i64::MIN && p != i64::MAX);
                        q.push(prefix(*business_off != record_off));
                        if_folded(q, bound(r.0), bound(r.1));
                        q.push(self.sums);
                        q.push(" WHERE grain = ").push_bind(grain(i, j));
                        q.push(" AND lead >= ").push_bind(lead.0).push(" AND lead < ").push_bind(lead.1);
                        q.push(" AND trail >= ").push_bind(trail.0).push(" AND trail < ").push_bind(trail.1);
                        q.push(" UNION ALL ");
                    }
                }
            };
            // The folded points of business times in `business` recorded in `record`: the blocks
            // of microseconds, on either side, are read from the points themselves, which are kept
            // per exact moment (a second's worth of them on the one side, indexed on both).
            type Span = (Option<OffsetDateTime>, Option<OffsetDateTime>);
            let points = |q: &mut QueryBuilder<_>, select: &str, business: Span, record: Span| {
                q.push(select).push(self.points).push(" WHERE 1 = 1");
                between(q, "business_time", business.0, business.1);
                between(q, "record_time", record.0, record.1);
                q.push(" UNION ALL ");
            };
            // T's second before T, recorded before R: the microseconds of the business side.
            let second = Unit::Second.floor(business_end);
            points(&mut q, &added, (Some(second), Some(business_end)), (None, Some(record_end)));
            match reading {
                Reading::Before => {
                    cells(&mut q, false, &blocks(record_end));
                    // Before T's second, recorded in R's second before R.
                    let record_second = Unit::Second.floor(record_end);
                    points(&mut q, &added, (None, Some(second)), (Some(record_second), Some(record_end)));
                }
                Reading::Since => {
                    let whole = business.iter().enumerate().take(EXACT).filter(|(_, (b, _))| b.0 < b.1);
                    for (i, (b, off)) in whole {
                        q.push(prefix(*off)).push(self.sums).push(" WHERE grain = ").push_bind(grain(i, EVER));
                        q.push(" AND lead >= ").push_bind(b.0).push(" AND lead < ").push_bind(b.1);
                        q.push(" AND trail = 0 UNION ALL ");
                    }
                    if recorded_before.is_some() {
                        // Less what was recorded at or after R: before T's second, by the blocks
                        // after R and the rest of R's second.
                        cells(&mut q, true, &blocks_from(record_end));
                        let next = Unit::Second.period(record_end).checked_add(1).and_then(|p| Unit::Second.try_start(p));
                        points(&mut q, &taken_off, (None, Some(second)), (Some(record_end), next));
                    }
                }
            }
            // Not folded yet.
            q.push(&added).push(self.pending);
            q.push(" WHERE business_time < ").push_bind(Ts(business_end));
            q.push(" AND record_time < ").push_bind(Ts(record_end));
            q.push(format!(") x GROUP BY {columns}measure, value HAVING SUM(n) <> 0"));
            for row in q.build().fetch_all(c).await? {
                let mut scope = [Uuid::nil(); N];
                for (i, id) in scope.iter_mut().enumerate() {
                    *id = row.try_get(i)?;
                }
                out.push((scope, row.try_get(N)?, row.try_get(N + 1)?, row.try_get(N + 2)?));
            }
        });
        Ok(out)
    }
}

/// A key made of a measure and its value.
impl<M: Copy + Into<i64>> Code for (M, i64) {
    fn code(&self) -> (i64, i64) {
        (self.0.into(), self.1)
    }
}

/// A service's figures as its background work sees them: something to fold.
pub trait Folding: Send + Sync {
    /// Folds up to [`FOLD_BATCH`] pending points in the caller's transaction.
    fn fold_some<'a>(&'a self, tx: &'a mut Tx)
    -> Pin<Box<dyn Future<Output = Result<usize, sqlx::Error>> + Send + 'a>>;

    /// The table of pending points.
    fn pending(&self) -> &'static str;
}

impl<const N: usize> Folding for Tables<N> {
    fn fold_some<'a>(
        &'a self,
        tx: &'a mut Tx,
    ) -> Pin<Box<dyn Future<Output = Result<usize, sqlx::Error>> + Send + 'a>> {
        Box::pin(self.fold(tx, FOLD_BATCH))
    }

    fn pending(&self) -> &'static str {
        self.pending
    }
}

/// Folds `figures`' pending points as they come, until `stop`: batch after batch while there is
/// a full one, then every `every`. A read is exact whatever is still pending, so this only keeps
/// reads short.
pub async fn keep_folding(
    service: &'static str,
    figures: &'static dyn Folding,
    db: Db,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let meter = opentelemetry::global::meter("doxwatch");
    let folded_points = meter
        .u64_counter("figures.points_folded")
        .with_description("Figure points folded into the sums (a statistics read takes the rest one by one)")
        .build();
    let fold_time = meter
        .f64_histogram("figures.fold.duration")
        .with_unit("s")
        .with_description("How long one fold of pending figure points took")
        .build();
    let attrs = [opentelemetry::KeyValue::new("service", service)];
    let mut failing = false;
    while !*stop.borrow() {
        let started = std::time::Instant::now();
        let folded = async {
            // Looked for first, so that an idle service does not take SQLite's writer.
            let mut tx = db.begin_read().await?;
            let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) x", figures.pending());
            let any: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(&sql).fetch_one(c).await?);
            tx.commit().await?;
            if any == 0 {
                return Ok(0);
            }
            let mut tx = db.begin().await?;
            let n = figures.fold_some(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(n)
        }
        .await;
        if let Ok(n) = folded
            && n > 0
        {
            folded_points.add(n as u64, &attrs);
            fold_time.record(started.elapsed().as_secs_f64(), &attrs);
        }
        match &folded {
            Ok(_) if failing => {
                failing = false;
                tracing::info!(service, "folding the figures' points again");
            }
            Err(e) if !failing => {
                failing = true;
                tracing::error!(service, error = %CauseChain(e), "cannot fold the figures' points; reads stay exact but slower");
            }
            _ => {}
        }
        if matches!(folded, Ok(n) if n >= FOLD_BATCH) {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn day(t: OffsetDateTime) -> i64 {
        Unit::Day.period(t)
    }

    /// Late in a month the days before the cut are the month less the days from the cut's on;
    /// early or mid-month they are read as they are.
    #[test]
    fn the_days_before_a_late_cut_are_the_month_less_the_days_after() {
        let late = business_blocks(datetime!(2019-07-30 12:00 UTC));
        assert_eq!(late[0], ((i64::MIN, Unit::Month.period(datetime!(2019-08-01 0:00 UTC))), false));
        assert_eq!(late[1], ((day(datetime!(2019-07-30 0:00 UTC)), day(datetime!(2019-08-01 0:00 UTC))), true));
        let finer: Vec<_> = blocks(datetime!(2019-07-30 12:00 UTC))[2..].iter().map(|b| (*b, false)).collect();
        assert_eq!(late[2..], finer[..]);

        let middle = datetime!(2019-07-16 12:00 UTC);
        assert_eq!(business_blocks(middle), blocks(middle).map(|b| (b, false)));
        let first = datetime!(2019-07-01 0:00 UTC);
        assert_eq!(business_blocks(first), blocks(first).map(|b| (b, false)));
        // The last moment a date can hold has no next month to take the complement from.
        let last = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT);
        assert_eq!(business_blocks(last), blocks(last).map(|b| (b, false)));
    }
}
