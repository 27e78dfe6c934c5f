//! Where a service keeps its figures' points: three tables of its own, named by [`Tables`].
//!
//! - the points: (business time, record time, scope…, measure, value, n);
//! - their sums per business day and record day: (business day, record day, scope…, measure,
//!   value, n), keyed by all but n;
//! - the same per business month and record month.
//!
//! The scope is a fixed number of ids that a figure can be broken down by (a link's platform and
//! channel; none for a case), the nil id where there is none. A key of the service's figures is a
//! (measure, value) pair of numbers ([`Code`]). A figure as at T, recorded before R, reads the sums
//! of the whole months before both moments' months, the day sums of the rest of the whole days
//! before both moments' days, and the points of the two edge days: months and at most two months
//! of days of sums, and two days of points, however long the history.

use std::collections::BTreeMap;

use sqlx::{QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Points, day, first_day_of_month, month, start_of};
use crate::{
    db::{Ts, Tx},
    on_tx,
};

/// How a key of a service's figures is stored: its measure and its value.
pub trait Code {
    fn code(&self) -> (i64, i64);
}

/// The rows one statement carries at most (9 values each, well inside either backend's limit on
/// parameters).
const BATCH: usize = 1_000;

/// A service's three tables of points and sums, and the names of its scope columns.
pub struct Tables<const N: usize> {
    pub points: &'static str,
    pub days: &'static str,
    pub months: &'static str,
    pub scope: [&'static str; N],
}

/// One summed figure: its scope, measure, value and count (never zero).
pub type Sum<const N: usize> = ([Uuid; N], i64, i64, i64);

/// Changes summed by (business period, record period, scope, measure, value).
type Sums<const N: usize> = BTreeMap<(i64, i64, [Uuid; N], i64, i64), i64>;

impl<const N: usize> Tables<N> {
    /// Appends `points` of things in each scope and adds them to their days' and months' sums, in
    /// key order so that two writers lock the sums they share in the same order.
    pub async fn add<K: Code>(&self, tx: &mut Tx, points: Vec<([Uuid; N], Points<K>)>) -> Result<(), sqlx::Error> {
        let mut rows = Vec::new();
        let mut days: Sums<N> = BTreeMap::new();
        let mut months: Sums<N> = BTreeMap::new();
        for (scope, changes) in points {
            for ((r, b, key), n) in changes {
                let (m, v) = key.code();
                rows.push((b, r, scope, m, v, n));
                *days.entry((day(b), day(r), scope, m, v)).or_default() += n;
                *months.entry((month(b), month(r), scope, m, v)).or_default() += n;
            }
        }
        let scope = self.scope.iter().map(|c| format!("{c}, ")).collect::<String>();
        for chunk in rows.chunks(BATCH) {
            on_tx!(tx, c => {
                let mut q = QueryBuilder::new(format!(
                    "INSERT INTO {} (business_time, record_time, {scope}measure, value, n) ",
                    self.points
                ));
                q.push_values(chunk, |mut row, (b, r, ids, m, v, n)| {
                    row.push_bind(Ts(*b)).push_bind(Ts(*r));
                    for id in ids {
                        row.push_bind(*id);
                    }
                    row.push_bind(*m).push_bind(*v).push_bind(*n);
                });
                q.build().execute(c).await?;
            });
        }
        self.upsert(tx, self.days, "business_day, record_day", days).await?;
        self.upsert(tx, self.months, "business_month, record_month", months).await
    }

    async fn upsert(&self, tx: &mut Tx, table: &str, periods: &str, mut sums: Sums<N>) -> Result<(), sqlx::Error> {
        sums.retain(|_, n| *n != 0);
        let sums: Vec<_> = sums.into_iter().collect();
        let scope = self.scope.iter().map(|c| format!("{c}, ")).collect::<String>();
        for chunk in sums.chunks(BATCH) {
            on_tx!(tx, c => {
                let mut q = QueryBuilder::new(format!("INSERT INTO {table} ({periods}, {scope}measure, value, n) "));
                q.push_values(chunk, |mut row, ((b, r, ids, m, v), n)| {
                    row.push_bind(*b).push_bind(*r);
                    for id in ids {
                        row.push_bind(*id);
                    }
                    row.push_bind(*m).push_bind(*v).push_bind(*n);
                });
                q.push(format!(
                    " ON CONFLICT ({periods}, {scope}measure, value) DO UPDATE SET n = {table}.n + excluded.n"
                ));
                q.build().execute(c).await?;
            });
        }
        Ok(())
    }

    /// The figures as at `as_of`, recorded before `recorded_before` (everything when `None`): each
    /// (scope, measure, value) whose points sum to something other than zero, with that sum.
    pub async fn sums(
        &self,
        tx: &mut Tx,
        as_of: OffsetDateTime,
        recorded_before: Option<OffsetDateTime>,
    ) -> Result<Vec<Sum<N>>, sqlx::Error> {
        let before = recorded_before.map_or(Ts::max(), Ts);
        let (as_of_day, before_day) = (day(as_of), day(before.0));
        let columns = self.scope.iter().map(|c| format!("{c}, ")).collect::<String>();
        let sql = format!(
            "SELECT {columns}measure, value, CAST(SUM(n) AS BIGINT) FROM ( \
               SELECT {columns}measure, value, n FROM {months} WHERE business_month < $1 AND record_month < $2 \
               UNION ALL \
               SELECT {columns}measure, value, n FROM {days} \
                 WHERE business_day >= $3 AND business_day < $4 AND record_day < $5 \
               UNION ALL \
               SELECT {columns}measure, value, n FROM {days} \
                 WHERE record_day >= $5 AND record_day < $6 AND business_day < $4 \
               UNION ALL \
               SELECT {columns}measure, value, n FROM {points} \
                 WHERE business_time >= $7 AND business_time <= $8 AND record_time < $9 \
               UNION ALL \
               SELECT {columns}measure, value, n FROM {points} \
                 WHERE record_time >= $10 AND record_time < $9 AND business_time < $7) x \
             GROUP BY {columns}measure, value HAVING SUM(n) <> 0",
            months = self.months,
            days = self.days,
            points = self.points,
        );
        let mut out = Vec::new();
        on_tx!(tx, c => {
            let rows = sqlx::query(&sql)
                .bind(month(as_of))
                .bind(month(before.0))
                .bind(first_day_of_month(as_of))
                .bind(as_of_day)
                .bind(first_day_of_month(before.0))
                .bind(before_day)
                .bind(Ts(start_of(as_of_day)))
                .bind(Ts(as_of))
                .bind(before)
                .bind(Ts(start_of(before_day)))
                .fetch_all(c)
                .await?;
            for row in rows {
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
