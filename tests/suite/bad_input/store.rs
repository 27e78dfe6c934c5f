//! The stores as rows: every row of every table of each service's database, read directly (not
//! through the services), so that a refused call that changed anything shows as a difference.

use std::collections::BTreeMap;

use sqlx::{Connection, PgConnection, Row, SqliteConnection};

use doxwatch_suite_tests::SuiteStores;

/// Every table's rows, each as text, sorted.
type Snapshot = BTreeMap<String, Vec<String>>;

enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub struct Stores {
    services: Vec<(&'static str, Conn)>,
    last: Vec<Snapshot>,
}

impl Stores {
    pub async fn open(stores: &SuiteStores) -> Self {
        let mut services = Vec::new();
        for (name, db) in [
            ("intake", &stores.intake),
            ("links", &stores.links),
            ("liaison", &stores.liaison),
            ("referral", &stores.referral),
        ] {
            let conn = if db.backend() == "postgres" {
                Conn::Postgres(PgConnection::connect(db.url()).await.expect("the test database"))
            } else {
                Conn::Sqlite(SqliteConnection::connect(db.url()).await.expect("the test database"))
            };
            services.push((name, conn));
        }
        Self { services, last: Vec::new() }
    }

    /// What changed since the last call (the first call only takes the stores as they are),
    /// but for the tables `ignored`.
    pub async fn changed(&mut self, ignored: &[&str]) -> Option<String> {
        let mut now = Vec::new();
        for (_, conn) in &mut self.services {
            now.push(snapshot(conn).await);
        }
        let mut diff = Vec::new();
        if !self.last.is_empty() {
            for ((service, _), (before, after)) in self.services.iter().zip(self.last.iter().zip(&now)) {
                for table in before.keys().chain(after.keys()).collect::<std::collections::BTreeSet<_>>() {
                    let (b, a) =
                        (before.get(table).cloned().unwrap_or_default(), after.get(table).cloned().unwrap_or_default());
                    if b != a && !ignored.contains(&table.as_str()) {
                        let gone: Vec<_> = b.iter().filter(|r| !a.contains(r)).take(3).collect();
                        let new: Vec<_> = a.iter().filter(|r| !b.contains(r)).take(3).collect();
                        diff.push(format!("{service}.{table}: gone {gone:?}, new {new:?}"));
                    }
                }
            }
        }
        self.last = now;
        (!diff.is_empty()).then(|| diff.join("; "))
    }
}

/// The figures' points as one table, pending and folded alike, without the sums: each service folds
/// its pending points into the sums in the background, at any moment, which changes what the
/// figures hold no more than a checkpoint does (the kit's property tests check the sums against
/// the points). A call that added a point still shows.
fn as_figures(mut snapshot: Snapshot) -> Snapshot {
    let pending: Vec<String> = snapshot.keys().filter(|t| t.ends_with("_figure_pending")).cloned().collect();
    for table in pending {
        let rows = snapshot.remove(&table).unwrap_or_default();
        let folded = snapshot.entry(table.replace("_figure_pending", "_figure_points")).or_default();
        folded.extend(rows);
        folded.sort();
    }
    snapshot.retain(|t, _| !t.ends_with("_figure_grains"));
    snapshot
}

async fn snapshot(conn: &mut Conn) -> Snapshot {
    as_figures(rows(conn).await)
}

async fn rows(conn: &mut Conn) -> Snapshot {
    let mut out = Snapshot::new();
    match conn {
        Conn::Sqlite(c) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(&mut *c)
            .await
            .expect("the tables");
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                    .bind(&table)
                    .fetch_all(&mut *c)
                    .await
                    .expect("the columns");
                // quote() writes every value, blobs included, as SQL text: one string per row.
                let row = columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || ',' || ");
                let rows =
                    sqlx::query(&format!("SELECT {row} FROM \"{table}\"")).fetch_all(&mut *c).await.expect("the rows");
                let mut rows: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
                rows.sort();
                out.insert(table, rows);
            }
        }
        Conn::Postgres(c) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            )
            .fetch_all(&mut *c)
            .await
            .expect("the tables");
            for table in tables {
                let mut rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM \"{table}\" t"))
                        .fetch_all(&mut *c)
                        .await
                        .expect("the rows");
                rows.sort();
                out.insert(table, rows);
            }
        }
    }
    out
}
