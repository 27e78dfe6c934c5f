//! The correspondence figures served from the sums equal, exactly, the figures tallied from the
//! notices (the specification), for random histories written out of order: notices drafted,
//! served, answered (as a whole or item by item) and closed, dated back, with record times that go
//! back too (two writers whose clocks committed in the other order), several writes sharing one
//! transaction and record time. Checked for each platform at every business and record time the
//! history has, the moments just before them and just after the deadlines, and their days' and
//! months' starts, and for the whole store at the end, on SQLite and on PostgreSQL. The store is driven directly, as
//! the service drives it: a test through gRPC cannot choose record times.

use std::collections::BTreeSet;

use doxwatch_kit::{
    db::{Db, Tx},
    testing::{TestDatabase, with_fresh_keys},
};
use doxwatch_liaison::{
    MIGRATIONS,
    domain::*,
    store::{
        events::{self, EventDetails},
        notices,
        replies::{self, ReplyRecord},
        rollups,
    },
};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

/// Two days before a month ends: histories cross a month boundary as well as days.
const BASE: OffsetDateTime = datetime!(2019-09-29 0:00 UTC);

#[derive(Debug, Clone)]
enum Event {
    Drafted { notice: usize, kind: NoticeKind, platform: usize, items: usize },
    Served { notice: usize, served: i64, days: i64 },
    Answered { notice: usize, received: i64, whole: Option<ReplyOutcome>, items: Vec<Option<ReplyOutcome>> },
    Closed { notice: usize, closed: i64 },
}

/// Writes made in one transaction at one record time (minutes after [`BASE`]).
#[derive(Debug, Clone)]
struct Write {
    record: i64,
    events: Vec<Event>,
}

fn history() -> impl Strategy<Value = Vec<Write>> {
    let at = (0i64..4 * 8).prop_map(|steps| steps * 180);
    let notice = 0usize..3;
    let kind = prop::sample::select(vec![
        NoticeKind::RemovalRequest,
        NoticeKind::CessationNotice,
        NoticeKind::DisclosureRequest,
        NoticeKind::WarningPostRequest,
    ]);
    let outcome = prop::option::of(prop::sample::select(ReplyOutcome::ALL.to_vec()));
    let event = prop_oneof![
        (notice.clone(), kind, 0usize..2, 0usize..3).prop_map(|(notice, kind, platform, items)| Event::Drafted {
            notice,
            kind,
            platform,
            items
        }),
        (notice.clone(), at.clone(), 0i64..3).prop_map(|(notice, served, days)| Event::Served { notice, served, days }),
        (notice.clone(), at.clone(), outcome.clone(), prop::collection::vec(outcome, 0..3))
            .prop_map(|(notice, received, whole, items)| Event::Answered { notice, received, whole, items }),
        (notice, at).prop_map(|(notice, closed)| Event::Closed { notice, closed }),
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

fn noted(kind: NoticeEventKind, occurred_at: OffsetDateTime, now: OffsetDateTime) -> NoticeEvent {
    NoticeEvent { kind, actor: "users/officer".into(), occurred_at, record_time: now, note: String::new() }
}

/// The run's platforms: two, new to the store.
fn platforms() -> [PlatformRef; 2] {
    [PlatformRef(Uuid::now_v7()), PlatformRef(Uuid::now_v7())]
}

/// Makes one change as the service does: the notice as it was, the change, the notice as it is,
/// and the difference counted. Returns the notice made, for a draft.
async fn apply(
    tx: &mut Tx,
    db: &Db,
    ids: &mut [Option<NoticeId>],
    platforms: &[PlatformRef; 2],
    event: &Event,
    now: OffsetDateTime,
) {
    let keys = db.keyring();
    if let Event::Drafted { notice, kind, platform, items } = event {
        if ids[*notice].is_some() {
            return;
        }
        let n = Notice {
            id: NoticeId::new(),
            reference: format!("NTC-TEST-{}", Uuid::now_v7().simple()),
            platform: platforms[*platform],
            kind: *kind,
            items: (0..*items)
                .map(|_| Item { link: LinkRef(Uuid::now_v7()), action: NoticeAction::Remove, replies: vec![] })
                .collect(),
            cases: vec![],
            channel: None,
            legal_basis: "section 66M".into(),
            deadline_override: None,
            follows: None,
            reminds_kind: None,
            service: None,
            replies: vec![],
            closure: None,
            created_by: "users/officer".into(),
            create_time: now,
            update_time: now,
        };
        notices::insert(tx, &n).await.expect("a notice");
        events::append(tx, keys, n.id, &noted(NoticeEventKind::Created, now, now), EventDetails { service: None })
            .await
            .expect("created");
        rollups::count(tx, None, &n, now).await.expect("its figures");
        ids[*notice] = Some(n.id);
        return;
    }
    let (Event::Served { notice, .. } | Event::Answered { notice, .. } | Event::Closed { notice, .. }) = event else {
        return;
    };
    let Some(id) = ids[*notice] else { return };
    let before = notices::get(tx, keys, id).await.expect("read").expect("the notice");
    match event {
        Event::Served { served, days, .. } if before.service.is_none() && before.closure.is_none() => {
            let (served_at, deadline) =
                (minutes(*served), minutes(*served) + Duration::days(*days) + Duration::hours(1));
            let details = EventDetails { service: Some((ServiceMethod::Email, deadline)) };
            events::append(tx, keys, id, &noted(NoticeEventKind::Served, served_at, now), details)
                .await
                .expect("served");
        }
        Event::Answered { received, whole, items, .. } if before.service.is_some() => {
            let whole_reply = ReplyRecord {
                notice: id,
                link: None,
                outcome: *whole,
                text: "",
                received_at: minutes(*received),
                recorded_by: "users/officer",
                record_time: now,
            };
            replies::insert(tx, keys, &whole_reply).await.expect("a reply");
            for (item, outcome) in before.items.iter().zip(items) {
                if let Some(outcome) = outcome {
                    let answer = ReplyRecord { link: Some(item.link), outcome: Some(*outcome), ..whole_reply };
                    replies::insert(tx, keys, &answer).await.expect("an answer");
                }
            }
        }
        Event::Closed { closed, .. } if before.closure.is_none() => {
            let closed = noted(NoticeEventKind::Closed, minutes(*closed), now);
            events::append(tx, keys, id, &closed, EventDetails { service: None }).await.expect("closed");
        }
        _ => return,
    }
    let after = notices::get(tx, keys, id).await.expect("read").expect("the notice");
    rollups::count(tx, Some(&before), &after, now).await.expect("its figures");
}

async fn write(db: &Db, ids: &mut [Option<NoticeId>], platforms: &[PlatformRef; 2], w: &Write) {
    let now = minutes(w.record);
    let mut tx = db.begin().await.expect("a transaction");
    for event in &w.events {
        apply(&mut tx, db, ids, platforms, event, now).await;
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
    let mut business = Vec::new();
    for w in history {
        business.push(minutes(w.record));
        for e in &w.events {
            match e {
                Event::Drafted { .. } => {}
                Event::Served { served, days, .. } => {
                    business.push(minutes(*served));
                    // A notice is overdue from just after its deadline.
                    let deadline = minutes(*served) + Duration::days(*days) + Duration::hours(1);
                    business.extend([deadline, deadline + Duration::microseconds(1)]);
                }
                Event::Answered { received: t, .. } | Event::Closed { closed: t, .. } => business.push(minutes(*t)),
            }
        }
    }
    let mut as_of = moments(business);
    as_of.insert(minutes(10 * 24 * 60));
    let last = history.iter().map(|w| w.record).max().unwrap_or(0);
    let mut before: BTreeSet<Option<OffsetDateTime>> =
        moments(history.iter().map(|w| minutes(w.record))).into_iter().map(Some).collect();
    before.extend([Some(minutes(last + 1)), None]);
    (as_of, before)
}

/// The figures of `platform` (or of the whole store) both ways: from the sums, and tallied from
/// the notices as the direct computation reads them.
async fn both(tx: &mut Tx, db: &Db, t: AsAt, platform: Option<PlatformRef>) -> (LiaisonFigures, LiaisonFigures) {
    let served = rollups::figures(tx, t, platform).await.expect("the figures from the sums");
    let mut all = notices::all(tx, db.keyring(), t.recorded_before_or_max()).await.expect("the notices");
    all.retain(|n| platform.is_none_or(|p| n.platform == p));
    (served, tally(&all, t))
}

async fn check(db: &Db, history: &[Write]) -> Result<(), TestCaseError> {
    let platforms = platforms();
    let mut ids = [None; 3];
    // Every other write is folded into the sums at once; the rest, and the last, are read
    // still pending, beside those folded.
    for (i, w) in history.iter().enumerate() {
        write(db, &mut ids, &platforms, w).await;
        if i % 2 == 1 {
            rollups::TABLES.fold_all(db).await.expect("folded");
        }
    }
    let (as_of, before) = cuts(history);
    let mut tx = db.begin_read().await.expect("a read");
    for platform in platforms {
        // The platform's notices, read once: at each cut the direct computation takes those
        // recorded before it, as `notices::all` does.
        let ids = notices::ids(&mut tx, Some(platform), None, None, 100).await.expect("the ids");
        let loaded = notices::load(&mut tx, db.keyring(), &ids).await.expect("the notices");
        for at in &as_of {
            for recorded_before in &before {
                let t = AsAt { at: *at, recorded_before: *recorded_before };
                let served = rollups::figures(&mut tx, t, Some(platform)).await.expect("the figures from the sums");
                let seen: Vec<Notice> =
                    loaded.iter().filter(|n| n.create_time < t.recorded_before_or_max()).cloned().collect();
                prop_assert_eq!(served, tally(&seen, t), "as at {}, recorded before {:?}", at, recorded_before);
            }
        }
    }
    // The whole store, at the last cut: the earlier runs' notices are on both sides alike.
    let (served, direct) = both(&mut tx, db, AsAt { at: minutes(10 * 24 * 60), recorded_before: None }, None).await;
    prop_assert_eq!(served, direct, "the whole store");
    Ok(())
}

async fn open(test_db: &TestDatabase) -> Db {
    with_fresh_keys(Db::connect(test_db.url(), 4, MIGRATIONS).await.expect("the store")).await
}

/// A removal request served, then answered item by item and closed by writers whose clocks were
/// behind: the answers are recorded before the service, the closure before the answers.
fn answered_before_served() -> Vec<Write> {
    let drafted = Event::Drafted { notice: 0, kind: NoticeKind::RemovalRequest, platform: 0, items: 2 };
    let complied = Some(ReplyOutcome::Complied);
    vec![
        Write { record: 10 * 60, events: vec![drafted] },
        Write { record: 100 * 60, events: vec![Event::Served { notice: 0, served: 12 * 60, days: 1 }] },
        Write {
            record: 90 * 60,
            events: vec![Event::Answered { notice: 0, received: 50 * 60, whole: None, items: vec![complied, None] }],
        },
        Write { record: 80 * 60, events: vec![Event::Closed { notice: 0, closed: 60 * 60 }] },
    ]
}

fn sums_equal_the_tallied_figures_on(test_db: TestDatabase) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(open(&test_db));
    runtime.block_on(check(&db, &answered_before_served())).expect("the fixed history");
    let mut runner = TestRunner::new(ProptestConfig { cases: 24, ..ProptestConfig::default() });
    let outcome = runner.run(&history(), |h| runtime.block_on(check(&db, &h)));
    if let Err(e) = outcome {
        panic!("{} on {}", e, test_db.backend());
    }
    runtime.block_on(db.close());
}

#[test]
fn sums_equal_the_tallied_figures_sqlite() {
    sums_equal_the_tallied_figures_on(TestDatabase::sqlite());
}

#[test]
fn sums_equal_the_tallied_figures_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    match runtime.block_on(TestDatabase::postgres()) {
        Some(db) => sums_equal_the_tallied_figures_on(db),
        None => eprintln!("DATABASE_URL is not set: the PostgreSQL run is skipped"),
    }
}

/// A store migrated with notices already in it gets its sums from them, once: the figures then
/// equal the tallied ones at every cut.
async fn built_from_existing_notices(test_db: TestDatabase) {
    let db = open(&test_db).await;
    let mut runner = TestRunner::deterministic();
    let mut all = Vec::new();
    let platforms = platforms();
    for _ in 0..3 {
        let h = history().new_tree(&mut runner).expect("a history").current();
        let mut ids = [None; 3];
        for w in &h {
            write(&db, &mut ids, &platforms, w).await;
        }
        all.extend(h);
    }
    let mut tx = db.begin().await.expect("a transaction");
    for sql in [
        "DELETE FROM notice_figure_pending",
        "DELETE FROM notice_figure_points",
        "DELETE FROM notice_figure_grains",
        "DELETE FROM notice_figures_unbuilt",
        "INSERT INTO notice_figures_unbuilt VALUES (1)",
    ] {
        doxwatch_kit::on_tx!(&mut tx, c => { sqlx::query(sql).execute(c).await.expect(sql); });
    }
    assert!(rollups::build_if_unbuilt(&mut tx, db.keyring()).await.expect("built"));
    assert!(!rollups::build_if_unbuilt(&mut tx, db.keyring()).await.expect("a second build"), "built twice");
    tx.commit().await.expect("committed");
    rollups::TABLES.fold_all(&db).await.expect("folded");
    let (as_of, before) = cuts(&all);
    let mut tx = db.begin_read().await.expect("a read");
    for at in &as_of {
        for recorded_before in &before {
            let t = AsAt { at: *at, recorded_before: *recorded_before };
            let (served, direct) = both(&mut tx, &db, t, None).await;
            assert_eq!(served, direct, "as at {at}, recorded before {recorded_before:?} on {}", test_db.backend());
        }
    }
    drop(tx);
    db.close().await;
}

#[tokio::test]
async fn built_from_existing_notices_on_every_backend() {
    for db in TestDatabase::all().await {
        built_from_existing_notices(db).await;
    }
}

/// A store that kept each notice's moment of service as a figure value (before migration 0009)
/// keeps its notices' moments in `notice_services` instead, and its figures give them as before.
async fn moments_of_service_move_out_of_the_sums(test_db: TestDatabase) {
    use doxwatch_kit::{
        db::{Migrations, Ts},
        on_pool,
    };
    use sqlx::migrate::Migrator;
    let before = |m: &Migrator| -> &'static Migrator {
        let older = m.migrations.iter().filter(|m| m.version < 9).cloned().collect::<Vec<_>>();
        Box::leak(Box::new(Migrator { migrations: older.into(), ..Migrator::DEFAULT }))
    };
    let older = Migrations { postgres: before(MIGRATIONS.postgres), sqlite: before(MIGRATIONS.sqlite), ..MIGRATIONS };
    let store = Db::connect(test_db.url(), 1, older).await.expect("a store as it was");
    let (notice, platform) = (NoticeId::new(), platforms()[0]);
    let (drafted, served) = (datetime!(2019-09-30 01:00 UTC), datetime!(2019-09-30 02:00 UTC));
    let kind = NoticeKind::RemovalRequest.code() as i16;
    on_pool!(store.write(), p => {
        sqlx::query(
            "INSERT INTO notices (id, platform, kind, legal_basis, created_by, create_time, update_time, reference) \
             VALUES ($1, $2, $3, 'section 66M', 'users/officer', $4, $4, 'NTC-2019-000001')",
        )
        .bind(notice.0)
        .bind(platform.name())
        .bind(kind)
        .bind(Ts(drafted))
        .execute(p)
        .await
        .expect("a notice");
        sqlx::query(
            "INSERT INTO notice_events (id, notice_id, kind, actor, occurred_at, record_time, note) \
             VALUES ($1, $2, 3, 'users/officer', $3, $4, '')",
        )
        .bind(Uuid::now_v7())
        .bind(notice.0)
        .bind(Ts(served))
        .bind(Ts(served + Duration::minutes(5)))
        .execute(p)
        .await
        .expect("its service");
        // Its figures as that version kept them: one served, and its moment of service.
        for (measure, value) in [(1i64, i64::from(kind)), (7, 1_569_808_800_000_000 * 16 + i64::from(kind))] {
            sqlx::query(
                "INSERT INTO notice_figure_pending (business_time, record_time, platform, measure, value, n) \
                 VALUES ($1, $2, $3, $4, $5, 1)",
            )
            .bind(Ts(served))
            .bind(Ts(served + Duration::minutes(5)))
            .bind(platform.0)
            .bind(measure)
            .bind(value)
            .execute(p)
            .await
            .expect("a point");
        }
    });
    store.close().await;

    let db = open(&test_db).await;
    rollups::TABLES.fold_all(&db).await.expect("folded");
    on_pool!(db.read(), p => {
        let moved: (String, i16, Ts, Ts) =
            sqlx::query_as("SELECT platform, kind, served_at, record_time FROM notice_services WHERE notice_id = $1")
                .bind(notice.0)
                .fetch_one(p)
                .await
                .expect("the notice's service, moved");
        assert_eq!((moved.0, moved.1, moved.2.0, moved.3.0), (platform.name(), kind, served, served + Duration::minutes(5)));
        for table in ["notice_figure_pending", "notice_figure_points", "notice_figure_grains"] {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE measure = 7"))
                .fetch_one(p)
                .await
                .expect(table);
            assert_eq!(left, 0, "moments of service left in {table}");
        }
    });
    let mut tx = db.begin_read().await.expect("a read");
    let t = AsAt { at: datetime!(2019-10-01 00:00 UTC), recorded_before: None };
    let figures = rollups::figures(&mut tx, t, None).await.expect("the figures");
    let service = figures.total.service_by_kind.get(&NoticeKind::RemovalRequest).expect("removal requests served");
    assert_eq!((service.notices, service.first_served_at, service.last_served_at), (1, served, served));
    assert_eq!(service.platforms, BTreeSet::from([platform]));
    // Not yet served as at a moment before it, nor as recorded before its service was.
    let early = AsAt { at: datetime!(2019-09-30 01:30 UTC), recorded_before: None };
    assert!(rollups::figures(&mut tx, early, None).await.expect("figures").total.service_by_kind.is_empty());
    let unrecorded = AsAt { recorded_before: Some(served + Duration::minutes(1)), ..t };
    assert!(rollups::figures(&mut tx, unrecorded, None).await.expect("figures").total.service_by_kind.is_empty());
    drop(tx);
    db.close().await;
}

#[tokio::test]
async fn moments_of_service_move_out_of_the_sums_on_every_backend() {
    for db in TestDatabase::all().await {
        moments_of_service_move_out_of_the_sums(db).await;
    }
}
