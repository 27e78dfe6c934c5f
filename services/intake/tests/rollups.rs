//! The case figures served from the sums equal, exactly, the figures computed directly from the
//! cases' rows (the specification), for random histories written out of order: cases received
//! and status changes dated back (backfills), new versions of data subjects, and record times that
//! go back too (two writers whose clocks committed in the other order), several writes sharing one
//! transaction and record time. Checked at every business and record time the history has, their
//! edges and their days' and months' starts, on SQLite and on PostgreSQL. The store is driven
//! directly: a test through gRPC cannot choose record times.

use std::collections::BTreeSet;

use doxwatch_intake::{
    MIGRATIONS,
    domain::*,
    store::{self, rollups},
};
use doxwatch_kit::{
    db::{Db, Tx},
    testing::{TestDatabase, with_fresh_keys},
};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

/// Two days before a month ends: histories cross a month boundary as well as days.
const BASE: OffsetDateTime = datetime!(2019-09-29 0:00 UTC);

#[derive(Debug, Clone)]
enum Event {
    Received { case: usize, kind: CaseKind, received: i64, categories: Vec<DataSubjectCategory> },
    Moved { case: usize, to: CaseStatus, occurred: i64 },
    Subjects { case: usize, categories: Vec<DataSubjectCategory> },
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
    let case = 0usize..4;
    let kind = prop::sample::select(CaseKind::ALL.to_vec());
    let status = prop::sample::select(CaseStatus::ALL.to_vec());
    let categories = prop::collection::vec(
        prop::sample::select(vec![
            DataSubjectCategory::PoliceOfficer,
            DataSubjectCategory::PoliceFamilyMember,
            DataSubjectCategory::Student,
            DataSubjectCategory::Other,
        ]),
        0..3,
    );
    let event = prop_oneof![
        (case.clone(), kind, at.clone(), categories.clone())
            .prop_map(|(case, kind, received, categories)| Event::Received { case, kind, received, categories }),
        (case.clone(), status, at).prop_map(|(case, to, occurred)| Event::Moved { case, to, occurred }),
        (case, categories).prop_map(|(case, categories)| Event::Subjects { case, categories }),
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

fn details(categories: &[DataSubjectCategory]) -> CaseDetails {
    CaseDetails {
        channel: IntakeChannel::OnlineForm,
        summary: "A summary".into(),
        reported_urls: vec![],
        data_subjects: categories
            .iter()
            .enumerate()
            .map(|(i, category)| DataSubject {
                display_name: format!("Subject {i}"),
                contact: None,
                category: *category,
                hong_kong_nexus: HongKongNexus::Resident,
            })
            .collect(),
        complainant: None,
        disclosed_data: vec![],
        alleged_harm: vec![],
    }
}

/// Writes `w` on the cases `ids` (one slot per case of the history; a case is recorded by its
/// first `Received`, and events of a case not yet recorded are left out).
async fn write(db: &Db, ids: &mut [Option<CaseId>], w: &Write) {
    let now = minutes(w.record);
    let mut tx = db.begin().await.expect("a transaction");
    for event in &w.events {
        match event {
            Event::Received { case, kind, received, categories } => {
                if ids[*case].is_some() {
                    continue;
                }
                let id = CaseId::new();
                let case_row = Case {
                    id,
                    reference: format!("TEST-{}", id.0),
                    kind: *kind,
                    received_at: minutes(*received),
                    details: details(categories),
                    status: CaseStatus::Received,
                    closure_reason: None,
                    created_by: "users/officer".into(),
                    create_time: now,
                    update_time: now,
                    team: String::new(),
                    assigned_officer: String::new(),
                    same_subject_cases: vec![],
                    erase_time: None,
                };
                let created = CaseEvent {
                    id: Uuid::now_v7(),
                    case: id,
                    kind: CaseEventKind::Created,
                    actor: "users/officer".into(),
                    occurred_at: case_row.received_at,
                    record_time: now,
                    from_status: None,
                    to_status: Some(CaseStatus::Received),
                    closure_reason: None,
                    duplicate_of: None,
                    note: String::new(),
                };
                store::hold_case(&mut tx, db.keyring(), &case_row, &created).expect("a case");
                // Its later events in this transaction refer to it.
                tx.write_held().await.expect("the case written");
                rollups::count_new_case(&mut tx, &case_row, &created).await.expect("its figures");
                ids[*case] = Some(id);
            }
            Event::Moved { case, to, occurred } => {
                let Some(id) = ids[*case] else { continue };
                let event = CaseEvent {
                    id: Uuid::now_v7(),
                    case: id,
                    kind: CaseEventKind::StatusChanged,
                    actor: "users/officer".into(),
                    occurred_at: minutes(*occurred),
                    record_time: now,
                    from_status: None,
                    to_status: Some(*to),
                    closure_reason: None,
                    duplicate_of: None,
                    note: String::new(),
                };
                store::append_event(&mut tx, db.keyring(), &event).await.expect("a move");
            }
            Event::Subjects { case, categories } => {
                let Some(id) = ids[*case] else { continue };
                store::update_details(&mut tx, db.keyring(), id, &details(categories), true, now)
                    .await
                    .expect("new subjects");
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
    let business = history.iter().flat_map(|w| &w.events).filter_map(|e| match e {
        Event::Received { received: t, .. } | Event::Moved { occurred: t, .. } => Some(minutes(*t)),
        Event::Subjects { .. } => None,
    });
    let mut as_of = moments(business);
    as_of.insert(minutes(10 * 24 * 60));
    let last = history.iter().map(|w| w.record).max().unwrap_or(0);
    let mut before: BTreeSet<Option<OffsetDateTime>> =
        moments(history.iter().map(|w| minutes(w.record))).into_iter().map(Some).collect();
    before.extend([Some(minutes(last + 1)), None]);
    (as_of, before)
}

/// The figures both ways: from the sums, and tallied from the cases' rows.
async fn both(tx: &mut Tx, as_of: OffsetDateTime, before: Option<OffsetDateTime>) -> (IntakeFigures, IntakeFigures) {
    let served = rollups::figures(tx, as_of, before).await.expect("the figures from the sums");
    let direct = tally(&store::statistics_rows(tx, as_of, before).await.expect("the snapshots"));
    (served, direct)
}

/// Writes `history` on new cases and compares the whole store's figures at every cut (the cases
/// of earlier histories are in both sides alike).
async fn check(db: &Db, history: &[Write]) -> Result<(), TestCaseError> {
    let mut ids = [None; 4];
    // Every other write is folded into the sums at once; the rest, and the last, are read
    // still pending, beside those folded.
    for (i, w) in history.iter().enumerate() {
        write(db, &mut ids, w).await;
        if i % 2 == 1 {
            rollups::TABLES.fold_all(db).await.expect("folded");
        }
    }
    let (as_of, before) = cuts(history);
    let mut tx = db.begin_read().await.expect("a read");
    for t in &as_of {
        for r in &before {
            let (served, direct) = both(&mut tx, *t, *r).await;
            prop_assert_eq!(served, direct, "as at {}, recorded before {:?}", t, r);
        }
    }
    Ok(())
}

async fn open(test_db: &TestDatabase) -> Db {
    with_fresh_keys(Db::connect(test_db.url(), 4, MIGRATIONS).await.expect("the store")).await
}

/// A case closed a day after its receipt by a writer whose clock was behind (the move's record
/// time is before the case's own), and its data subjects changed the same way: the case counts,
/// closed, from the day after its receipt, but only in cuts after its own record time.
fn recorded_before_the_case() -> Vec<Write> {
    let received = Event::Received {
        case: 0,
        kind: CaseKind::Complaint,
        received: 24 * 60,
        categories: vec![DataSubjectCategory::PoliceOfficer],
    };
    vec![
        Write { record: 100 * 60, events: vec![received] },
        Write { record: 80 * 60, events: vec![Event::Moved { case: 0, to: CaseStatus::Closed, occurred: 48 * 60 }] },
        Write {
            record: 90 * 60,
            events: vec![Event::Subjects { case: 0, categories: vec![DataSubjectCategory::Student] }],
        },
    ]
}

fn sums_equal_the_direct_figures_on(test_db: TestDatabase) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(open(&test_db));
    runtime.block_on(check(&db, &recorded_before_the_case())).expect("the fixed history");
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

/// A store migrated with cases already in it gets its sums from their rows, once: the figures
/// then equal the direct ones at every cut.
async fn built_from_existing_rows(test_db: TestDatabase) {
    let db = open(&test_db).await;
    let mut runner = TestRunner::deterministic();
    let mut all = Vec::new();
    for _ in 0..3 {
        let h = history().new_tree(&mut runner).expect("a history").current();
        let mut ids = [None; 4];
        for w in &h {
            write(&db, &mut ids, w).await;
        }
        all.extend(h);
    }
    let mut tx = db.begin().await.expect("a transaction");
    // As the migration leaves a store that had cases: no sums yet, and the build to do.
    for sql in [
        "DELETE FROM case_figure_pending",
        "DELETE FROM case_figure_points",
        "DELETE FROM case_figure_grains",
        "DELETE FROM case_figures_unbuilt",
        "INSERT INTO case_figures_unbuilt VALUES (1)",
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
