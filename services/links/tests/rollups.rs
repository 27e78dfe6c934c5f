//! The removal figures served from the day sums equal, exactly, the figures computed directly from
//! the links' rows (the specification), for random histories written out of order: sightings,
//! removal requests and observations whose business times go back (backfills), and record times
//! that do too (two writers whose clocks committed in the other order), several writes sharing one
//! transaction and record time. Checked at every business and record time the history has, their
//! edges and their days' starts, on SQLite and on PostgreSQL. The store is driven directly: a
//! test through gRPC cannot choose record times.

use std::collections::BTreeSet;

use doxwatch_kit::{
    db::{Db, Tx},
    testing::{TestDatabase, with_fresh_keys},
};
use doxwatch_links::{
    MIGRATIONS,
    domain::*,
    store::{channels, links, platforms, rollups, statistics},
};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

/// Two days before a month ends: histories cross a month boundary as well as days.
const BASE: OffsetDateTime = datetime!(2019-09-29 0:00 UTC);

#[derive(Debug, Clone)]
enum Event {
    Sighting { link: usize, seen: i64 },
    Request { link: usize, notice: u8, served: i64 },
    Observation { link: usize, status: LinkStatus, source: ObservationSource, observed: i64 },
}

/// Writes made in one transaction at one record time (minutes after [`BASE`]).
#[derive(Debug, Clone)]
struct Write {
    record: i64,
    events: Vec<Event>,
}

/// Business times on a three-hour grid over four days (ties and day edges are common), record
/// times over five days in any order.
fn history() -> impl Strategy<Value = Vec<Write>> {
    let at = (0i64..4 * 8).prop_map(|steps| steps * 180);
    let link = 0usize..4;
    let status = prop::sample::select(vec![
        LinkStatus::Online,
        LinkStatus::Removed,
        LinkStatus::AccessRestricted,
        LinkStatus::ChannelRemoved,
        LinkStatus::Unreachable,
    ]);
    let source = prop::sample::select(vec![
        ObservationSource::OfficerCheck,
        ObservationSource::AutomatedRecheck,
        ObservationSource::PlatformReport,
    ]);
    let event = prop_oneof![
        (link.clone(), at.clone()).prop_map(|(link, seen)| Event::Sighting { link, seen }),
        (link.clone(), 0u8..3, at.clone()).prop_map(|(link, notice, served)| Event::Request { link, notice, served }),
        (link, status, source, at).prop_map(|(link, status, source, observed)| Event::Observation {
            link,
            status,
            source,
            observed
        }),
    ];
    let record = (0i64..5 * 24).prop_map(|hours| hours * 60);
    prop::collection::vec(
        (record, prop::collection::vec(event, 1..3)).prop_map(|(record, events)| Write { record, events }),
        1..12,
    )
}

fn minutes(m: i64) -> OffsetDateTime {
    BASE + Duration::minutes(m)
}

/// A platform with two channels and four links: two on each channel but one without a channel.
/// A link is inserted by the first write that names it, in that write's transaction, as
/// registration does: when that first event is a sighting, the link is passed as created with it.
struct TestLinks {
    platform: PlatformId,
    ids: Vec<(LinkId, Option<ChannelId>)>,
    urls: Vec<String>,
    inserted: Vec<bool>,
}

async fn links_of_a_new_platform(db: &Db) -> TestLinks {
    let mut tx = db.begin().await.expect("a transaction");
    let platform = PlatformId::new();
    let p = Platform {
        id: platform,
        display_name: "Example".into(),
        kind: PlatformKind::Forum,
        domains: vec![],
        registry_key: None,
        create_time: BASE,
        update_time: BASE,
    };
    platforms::insert(&mut tx, &p).await.expect("a platform");
    let mut chans = Vec::new();
    for handle in ["one", "two"] {
        chans.push(
            channels::find_or_create(&mut tx, platform, handle, "https://example.org/", BASE).await.expect("a channel"),
        );
    }
    tx.commit().await.expect("committed");
    let ids: Vec<(LinkId, Option<ChannelId>)> =
        (0..4).map(|i| (LinkId::new(), if i == 3 { None } else { Some(chans[i % 2]) })).collect();
    let urls = ids.iter().map(|(id, _)| format!("https://example.org/{id}")).collect();
    TestLinks { platform, ids, urls, inserted: vec![false; 4] }
}

impl TestLinks {
    /// Link `i` as registration inserts it.
    fn new_link(&self, i: usize) -> links::NewLink<'_> {
        let (id, channel) = self.ids[i];
        links::NewLink {
            id,
            reported_url: &self.urls[i],
            canonical_url: &self.urls[i],
            platform: self.platform,
            channel,
            message_id: None,
            now: BASE,
        }
    }
}

async fn write(db: &Db, links: &mut TestLinks, w: &Write) {
    let now = minutes(w.record);
    let mut tx = db.begin().await.expect("a transaction");
    for event in &w.events {
        let (Event::Sighting { link, .. } | Event::Request { link, .. } | Event::Observation { link, .. }) = *event;
        let first = !std::mem::replace(&mut links.inserted[link], true);
        let created: Vec<links::NewLink> = if first { vec![links.new_link(link)] } else { Vec::new() };
        links::insert_many(&mut tx, &created).await.expect("the link");
        let id = links.ids[link].0;
        match *event {
            Event::Sighting { seen, .. } => {
                links::add_sightings(&mut tx, &[(id, None, minutes(seen))], &created, now).await.expect("sighting");
            }
            Event::Request { notice, served, .. } => {
                let notice = format!("notices/{notice}");
                links::record_removal_requests(&mut tx, &notice, &[id], minutes(served), now).await.expect("request");
            }
            Event::Observation { status, source, observed, .. } => {
                let o = Observation {
                    id: Uuid::now_v7(),
                    link: id,
                    status,
                    observed_at: minutes(observed),
                    vantage: Vantage::InsideHk,
                    source,
                    note: String::new(),
                    recorded_by: "users/officer".into(),
                    record_time: now,
                };
                links::insert_observations(&mut tx, db.keyring(), &[o]).await.expect("observation");
            }
        }
    }
    tx.commit().await.expect("committed");
}

/// The moments worth asking about: each time, just before it, and its day's and month's starts.
fn moments(times: impl IntoIterator<Item = OffsetDateTime>) -> BTreeSet<OffsetDateTime> {
    let mut out = BTreeSet::new();
    for t in times {
        let midnight = t.replace_time(time::Time::MIDNIGHT);
        out.extend([t, t - Duration::microseconds(1), midnight, midnight.replace_day(1).expect("a first day")]);
    }
    out
}

fn cuts(history: &[Write]) -> (BTreeSet<OffsetDateTime>, BTreeSet<Option<OffsetDateTime>>) {
    let business = history.iter().flat_map(|w| &w.events).map(|e| match *e {
        Event::Sighting { seen: t, .. } | Event::Request { served: t, .. } | Event::Observation { observed: t, .. } => {
            minutes(t)
        }
    });
    let mut as_of = moments(business);
    as_of.insert(minutes(10 * 24 * 60));
    let mut before: BTreeSet<Option<OffsetDateTime>> =
        moments(history.iter().map(|w| minutes(w.record))).into_iter().map(Some).collect();
    before.extend([Some(minutes(w_after(history) + 1)), None]);
    (as_of, before)
}

fn w_after(history: &[Write]) -> i64 {
    history.iter().map(|w| w.record).max().unwrap_or(0)
}

/// The figures both ways, of the whole store (`None`) or of one platform and its channels.
async fn both(tx: &mut Tx, as_of: OffsetDateTime, before: Option<OffsetDateTime>) -> (LinkFigures, LinkFigures) {
    let served = statistics::figures(tx, as_of, before).await.expect("the figures from the sums");
    let direct = tally(&statistics::snapshots(tx, as_of, before).await.expect("the snapshots"));
    (served, direct)
}

fn of_platform(f: &LinkFigures, p: PlatformId, channels: &[ChannelId]) -> String {
    let chans: Vec<_> = channels.iter().map(|c| (c, f.by_channel.get(c))).collect();
    format!("{:?} {:?}", f.by_platform.get(&p), chans)
}

/// Writes `history` on a new platform of `db` and compares the figures of that platform and its
/// channels at every cut.
async fn check(db: &Db, history: &[Write]) -> Result<(), TestCaseError> {
    let mut links = links_of_a_new_platform(db).await;
    // Every other write is folded into the sums at once; the rest, and the last, are read
    // still pending, beside those folded.
    for (i, w) in history.iter().enumerate() {
        write(db, &mut links, w).await;
        if i % 2 == 1 {
            rollups::TABLES.fold_all(db).await.expect("folded");
        }
    }
    let platform = links.platform;
    let mut channels: Vec<ChannelId> = links.ids.iter().filter_map(|(_, c)| *c).collect();
    channels.sort();
    channels.dedup();
    let (as_of, before) = cuts(history);
    let mut tx = db.begin_read().await.expect("a read");
    for t in &as_of {
        for r in &before {
            let (served, direct) = both(&mut tx, *t, *r).await;
            prop_assert_eq!(
                of_platform(&served, platform, &channels),
                of_platform(&direct, platform, &channels),
                "as at {}, recorded before {:?}",
                t,
                r
            );
        }
    }
    Ok(())
}

async fn open(test_db: &TestDatabase) -> Db {
    with_fresh_keys(Db::connect(test_db.url(), 4, MIGRATIONS).await.expect("the store")).await
}

/// Two checks of one moment, the later written recorded as the earlier: the one recorded last
/// stands, whatever order they were written in (a case random histories seldom make).
fn same_moment_recorded_out_of_order() -> Vec<Write> {
    let observed =
        |status| Event::Observation { link: 0, status, source: ObservationSource::OfficerCheck, observed: 360 };
    vec![
        Write {
            record: 50 * 60,
            events: vec![Event::Sighting { link: 0, seen: 0 }, Event::Request { link: 0, notice: 0, served: 0 }],
        },
        Write { record: 100 * 60, events: vec![observed(LinkStatus::Online)] },
        Write { record: 80 * 60, events: vec![observed(LinkStatus::Removed)] },
    ]
}

fn sums_equal_the_direct_figures_on(test_db: TestDatabase) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(open(&test_db));
    runtime.block_on(check(&db, &same_moment_recorded_out_of_order())).expect("the fixed history");
    let mut runner = TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
    let outcome = runner.run(&history(), |h| runtime.block_on(check(&db, &h)));
    if let Err(e) = outcome {
        panic!("{} on {}", e, test_db.backend());
    }
    runtime.block_on(db.close());
}

#[test]
fn sums_equal_the_direct_figures_sqlite() {
    sums_equal_the_direct_figures_on(TestDatabase::sqlite());
}

#[test]
fn sums_equal_the_direct_figures_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(TestDatabase::postgres()) {
        Some(db) => sums_equal_the_direct_figures_on(db),
        None => eprintln!("DATABASE_URL is not set: the PostgreSQL run is skipped"),
    }
}

/// A store migrated with links already in it gets its sums from their rows, once: the whole
/// store's figures (totals included) then equal the direct ones at every cut.
async fn built_from_existing_rows(test_db: TestDatabase) {
    let db = open(&test_db).await;
    let mut runner = TestRunner::deterministic();
    let mut all = Vec::new();
    for _ in 0..3 {
        let h = history().new_tree(&mut runner).expect("a history").current();
        let mut links = links_of_a_new_platform(&db).await;
        for w in &h {
            write(&db, &mut links, w).await;
        }
        all.extend(h);
    }
    let mut tx = db.begin().await.expect("a transaction");
    // As the migration leaves a store that had links: no sums yet, and the build to do.
    // (The service was never started on this store, so its build is still marked to do.)
    for sql in [
        "DELETE FROM link_figure_pending",
        "DELETE FROM link_figure_points",
        "DELETE FROM link_figure_grains",
        "DELETE FROM link_figures_unbuilt",
        "INSERT INTO link_figures_unbuilt VALUES (1)",
    ] {
        doxwatch_kit::on_tx!(&mut tx, c => { sqlx::query(sql).execute(c).await.expect(sql); });
    }
    assert!(rollups::build_if_unbuilt(&mut tx).await.expect("built"));
    assert!(!rollups::build_if_unbuilt(&mut tx).await.expect("a second build"), "built twice");
    tx.commit().await.expect("committed");
    rollups::TABLES.fold_all(&db).await.expect("folded");
    let (as_of, before) = cuts(&all);
    let mut tx = db.begin_read().await.expect("a read");
    for t in &as_of {
        for r in &before {
            let (served, direct) = both(&mut tx, *t, *r).await;
            assert_eq!(served, direct, "as at {t}, recorded before {r:?} on {}", test_db.backend());
        }
    }
    drop(tx);
    db.close().await;
}

#[tokio::test]
async fn built_from_existing_rows_on_every_backend() {
    for db in TestDatabase::all().await {
        built_from_existing_rows(db).await;
    }
}

/// A store that kept the times to removal behind the median and p90 to the microsecond (before migration 0014)
/// has them at the figures' resolution after it: pending again, to be folded at that resolution.
async fn stored_times_move_to_the_figures_resolution(test_db: TestDatabase) {
    use doxwatch_kit::{
        db::{Migrations, Ts},
        on_pool,
        rollup::duration_grain,
    };
    use sqlx::migrate::Migrator;
    let before = |m: &Migrator| -> &'static Migrator {
        let older = m.migrations.iter().filter(|m| m.version < 14).cloned().collect::<Vec<_>>();
        Box::leak(Box::new(Migrator { migrations: older.into(), ..Migrator::DEFAULT }))
    };
    let older = Migrations { postgres: before(MIGRATIONS.postgres), sqlite: before(MIGRATIONS.sqlite), ..MIGRATIONS };
    let store = Db::connect(test_db.url(), 1, older).await.expect("a store as it was");
    // Five days, 37 minutes and a little (pending); two hours, 3 minutes, 4 seconds (folded).
    let (pending, folded) = (432_000_000_000 + 2_232_345_678, 7_384_000_001);
    let (at, scope) = (Ts(datetime!(2019-09-30 02:00 UTC)), Uuid::now_v7());
    on_pool!(store.write(), p => {
        for (table, value) in [("link_figure_pending", pending), ("link_figure_points", folded)] {
            sqlx::query(&format!(
                "INSERT INTO {table} (business_time, record_time, platform_id, channel_id, measure, value, n) VALUES ($1, $1, $2, $2, 6, $3, 1)"
            ))
            .bind(at)
            .bind(scope)
            .bind(value)
            .execute(p)
            .await
            .expect(table);
        }
        sqlx::query(
            "INSERT INTO link_figure_grains (grain, lead, trail, platform_id, channel_id, measure, value, n) VALUES (0, 1, 1, $1, $1, 6, $2, 1)",
        )
        .bind(scope)
        .bind(folded)
        .execute(p)
        .await
        .expect("a grain");
    });
    store.close().await;

    let db = open(&test_db).await;
    on_pool!(db.read(), p => {
        let mut now: Vec<(i64, i64)> =
            sqlx::query_as("SELECT value, n FROM link_figure_pending WHERE measure = 6").fetch_all(p).await.expect("pending");
        now.sort_unstable();
        assert_eq!(now, vec![(duration_grain(folded), 1), (duration_grain(pending), 1)], "on {}", test_db.backend());
        assert_eq!((duration_grain(folded), duration_grain(pending)), (7_380_000_000, 432_000_000_000));
        for table in ["link_figure_points", "link_figure_grains"] {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE measure = 6"))
                .fetch_one(p)
                .await
                .expect(table);
            assert_eq!(left, 0, "{table} still holds times of the old resolution");
        }
    });
    db.close().await;
}

#[tokio::test]
async fn stored_times_move_to_the_figures_resolution_on_every_backend() {
    for db in TestDatabase::all().await {
        stored_times_move_to_the_figures_resolution(db).await;
    }
}
