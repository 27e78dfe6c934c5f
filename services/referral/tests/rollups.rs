//! The referral figures served from the sums equal, exactly, the figures tallied from every
//! assessment and referral (the specification), for random histories written out of order:
//! assessments that supersede each other, referrals to a configured agency and to one the
//! configuration no longer names, acknowledgements, outcomes and withdrawals, dated back, with
//! record times that go back too (two writers whose clocks committed in the other order), several
//! writes sharing one transaction and record time. Checked at every business and record time the
//! history has, the moments just before them, and their days' and months' starts, on SQLite and
//! on PostgreSQL. The store is driven directly, as the service drives it: a test through gRPC
//! cannot choose record times.

use std::collections::BTreeSet;

use doxwatch_kit::{
    db::{Db, Tx},
    testing::{TestDatabase, with_fresh_keys},
};
use doxwatch_referral::{
    MIGRATIONS,
    domain::*,
    store::{assessments, referrals, rollups},
};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

/// Two days before a month ends: histories cross a month boundary as well as days.
const BASE: OffsetDateTime = datetime!(2019-09-29 0:00 UTC);

/// The configured agency; a second one is referred to but no longer configured.
const AGENCIES: [&str; 2] = ["Hong Kong Police Force", "Customs and Excise Department"];

#[derive(Debug, Clone)]
enum Event {
    Assessed { case: usize, decision: Decision, assessed: i64, bases: Vec<LegalBasis> },
    Referred { case: usize, agency: usize, referred: i64 },
    Step { case: usize, status: ReferralStatus, occurred: i64 },
}

/// Writes made in one transaction at one record time (minutes after [`BASE`]).
#[derive(Debug, Clone)]
struct Write {
    record: i64,
    events: Vec<Event>,
}

fn history() -> impl Strategy<Value = Vec<Write>> {
    let at = (0i64..4 * 8).prop_map(|steps| steps * 180);
    let case = 0usize..3;
    let decision = prop::sample::select(Decision::ALL.to_vec());
    let bases = prop::collection::vec(prop::sample::select(LegalBasis::ALL.to_vec()), 0..3);
    let status = prop::sample::select(vec![
        ReferralStatus::Acknowledged,
        ReferralStatus::UnderInvestigation,
        ReferralStatus::ArrestMade,
        ReferralStatus::Charged,
        ReferralStatus::NoFurtherAction,
        ReferralStatus::Withdrawn,
    ]);
    let event = prop_oneof![
        (case.clone(), decision, at.clone(), bases).prop_map(|(case, decision, assessed, bases)| Event::Assessed {
            case,
            decision,
            assessed,
            bases
        }),
        (case.clone(), 0usize..2, at.clone()).prop_map(|(case, agency, referred)| Event::Referred {
            case,
            agency,
            referred
        }),
        (case, status, at).prop_map(|(case, status, occurred)| Event::Step { case, status, occurred }),
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

fn step(status: ReferralStatus, occurred_at: OffsetDateTime, now: OffsetDateTime) -> ReferralEvent {
    ReferralEvent {
        status,
        occurred_at,
        record_time: now,
        actor: "users/officer".into(),
        agency_reference: "HKPF-1".into(),
        details: OutcomeDetails::default(),
    }
}

/// The case's rows as they stand in `tx`.
async fn rows(tx: &mut Tx, db: &Db, case: CaseRef) -> (Vec<Assessment>, Vec<Referral>) {
    let h = rollups::history(tx, db.keyring(), case).await.expect("the case's rows");
    (h.assessments, h.referrals)
}

/// Makes one change as the service does: the case's rows as they were, the change, and the
/// difference counted.
async fn apply(tx: &mut Tx, db: &Db, cases: &[CaseRef], event: &Event, now: OffsetDateTime) {
    let keys = db.keyring();
    let (Event::Assessed { case, .. } | Event::Referred { case, .. } | Event::Step { case, .. }) = event;
    let case = cases[*case];
    let before = rollups::history(tx, keys, case).await.expect("the case's rows");
    let (assessments, referrals) = rows(tx, db, case).await;
    match event {
        Event::Assessed { decision, assessed, bases, .. } => {
            let a = Assessment {
                id: AssessmentId::new(),
                case,
                position: i32::try_from(assessments.len()).expect("few") + 1,
                criteria: Criteria {
                    disclosed_without_consent: true,
                    intent_or_recklessness: IntentOrRecklessness::Intent,
                    harms_intended: vec![],
                    harm_caused: vec![],
                    hong_kong_nexus: HongKongNexus::Resident,
                    discloser: Discloser::Identified,
                    legal_basis: bases.iter().copied().collect::<BTreeSet<_>>().into_iter().collect(),
                },
                decision: *decision,
                reason: "Assessed".into(),
                assessor: "users/officer".into(),
                assessed_at: minutes(*assessed),
                case_received_at: BASE,
                supersedes: assessments.last().map(|a| a.id),
                superseded_by: None,
                create_time: now,
            };
            assessments::insert(tx, keys, &a).await.expect("an assessment");
        }
        Event::Referred { agency, referred, .. } => {
            let Some(assessment) = assessments.last() else { return };
            let r = Referral {
                id: ReferralId::new(),
                reference: format!("REF-TEST-{}", Uuid::now_v7().simple()),
                case,
                assessment: assessment.id,
                agency: AGENCIES[*agency].into(),
                referred_at: minutes(*referred),
                summary: "A summary".into(),
                case_received_at: BASE,
                bundle: vec![],
                events: vec![step(ReferralStatus::Pending, minutes(*referred), now)],
                created_by: "users/officer".into(),
                create_time: now,
            };
            referrals::insert(tx, keys, &r).await.expect("a referral");
        }
        Event::Step { status, occurred, .. } => {
            let Some(referral) = referrals.last() else { return };
            if referral.recorded(*status).is_some() {
                return;
            }
            referrals::append_event(tx, keys, referral.id, &step(*status, minutes(*occurred), now))
                .await
                .expect("a step");
        }
    }
    let after = rollups::history(tx, keys, case).await.expect("the case's rows");
    rollups::count(tx, &before, &after, now).await.expect("its figures");
}

async fn write(db: &Db, cases: &[CaseRef], w: &Write) {
    let now = minutes(w.record);
    let mut tx = db.begin().await.expect("a transaction");
    for event in &w.events {
        apply(&mut tx, db, cases, event, now).await;
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
    let business = history.iter().flat_map(|w| &w.events).map(|e| match e {
        Event::Assessed { assessed: t, .. } | Event::Referred { referred: t, .. } | Event::Step { occurred: t, .. } => {
            minutes(*t)
        }
    });
    let mut as_of = moments(business);
    as_of.insert(minutes(10 * 24 * 60));
    let last = history.iter().map(|w| w.record).max().unwrap_or(0);
    let mut before: BTreeSet<Option<OffsetDateTime>> =
        moments(history.iter().map(|w| minutes(w.record))).into_iter().map(Some).collect();
    before.extend([Some(minutes(last + 1)), None]);
    (as_of, before)
}

fn configured() -> Vec<String> {
    vec![AGENCIES[0].to_owned()]
}

/// Writes `history` on new cases and compares the whole store's figures at every cut (the cases
/// of earlier histories are in both sides alike).
async fn check(db: &Db, history: &[Write]) -> Result<(), TestCaseError> {
    let cases: Vec<CaseRef> = (0..3).map(|_| CaseRef(Uuid::now_v7())).collect();
    // Every other write is folded into the sums at once; the rest, and the last, are read
    // still pending, beside those folded.
    for (i, w) in history.iter().enumerate() {
        write(db, &cases, w).await;
        if i % 2 == 1 {
            rollups::TABLES.fold_all(db).await.expect("folded");
        }
    }
    let (as_of, before) = cuts(history);
    let mut tx = db.begin_read().await.expect("a read");
    // Every row, read once: at each cut the direct computation takes those recorded before it, as
    // `assessments::all` and `referrals::all` do.
    let all_assessments = assessments::all(&mut tx, db.keyring(), OffsetDateTime::now_utc()).await.expect("read");
    let all_referrals = referrals::all(&mut tx, db.keyring(), OffsetDateTime::now_utc()).await.expect("read");
    for at in &as_of {
        for recorded_before in &before {
            let t = AsAt { at: *at, recorded_before: *recorded_before };
            let cut = t.recorded_before_or_max();
            let a: Vec<Assessment> = all_assessments.iter().filter(|a| a.create_time < cut).cloned().collect();
            let r: Vec<Referral> = all_referrals.iter().filter(|r| r.create_time < cut).cloned().collect();
            let served = rollups::figures(&mut tx, t, &configured()).await.expect("the figures from the sums");
            prop_assert_eq!(
                served,
                tally(&a, &r, t, &configured()),
                "as at {}, recorded before {:?}",
                at,
                recorded_before
            );
        }
    }
    Ok(())
}

async fn open(test_db: &TestDatabase) -> Db {
    with_fresh_keys(Db::connect(test_db.url(), 4, MIGRATIONS).await.expect("the store")).await
}

/// A case referred, then acknowledged and its referral withdrawn by writers whose clocks were
/// behind, and assessed again: the acknowledgement is recorded before the referral itself.
fn acknowledged_before_referred() -> Vec<Write> {
    let assessed = |decision, assessed| Event::Assessed { case: 0, decision, assessed, bases: vec![LegalBasis::S64_1] };
    vec![
        Write { record: 10 * 60, events: vec![assessed(Decision::ReferToPolice, 0)] },
        Write { record: 100 * 60, events: vec![Event::Referred { case: 0, agency: 1, referred: 6 * 60 }] },
        Write {
            record: 90 * 60,
            events: vec![Event::Step { case: 0, status: ReferralStatus::Acknowledged, occurred: 30 * 60 }],
        },
        Write {
            record: 95 * 60,
            events: vec![
                Event::Step { case: 0, status: ReferralStatus::Withdrawn, occurred: 48 * 60 },
                assessed(Decision::NoFurtherAction, 48 * 60),
            ],
        },
    ]
}

fn sums_equal_the_tallied_figures_on(test_db: TestDatabase) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let db = runtime.block_on(open(&test_db));
    runtime.block_on(check(&db, &acknowledged_before_referred())).expect("the fixed history");
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

/// A store migrated with assessments and referrals already in it gets its sums from them, once:
/// the figures then equal the tallied ones at every cut.
async fn built_from_existing_rows(test_db: TestDatabase) {
    let db = open(&test_db).await;
    let mut runner = TestRunner::deterministic();
    let mut all = Vec::new();
    for _ in 0..3 {
        let h = history().new_tree(&mut runner).expect("a history").current();
        let cases: Vec<CaseRef> = (0..3).map(|_| CaseRef(Uuid::now_v7())).collect();
        for w in &h {
            write(&db, &cases, w).await;
        }
        all.extend(h);
    }
    let mut tx = db.begin().await.expect("a transaction");
    for sql in [
        "DELETE FROM referral_figure_pending",
        "DELETE FROM referral_figure_points",
        "DELETE FROM referral_figure_grains",
        "DELETE FROM referral_figures_unbuilt",
        "INSERT INTO referral_figures_unbuilt VALUES (1)",
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
            let a = assessments::all(&mut tx, db.keyring(), t.recorded_before_or_max()).await.expect("read");
            let r = referrals::all(&mut tx, db.keyring(), t.recorded_before_or_max()).await.expect("read");
            let served = rollups::figures(&mut tx, t, &configured()).await.expect("the figures from the sums");
            assert_eq!(served, tally(&a, &r, t, &configured()), "as at {at}, recorded before {recorded_before:?}");
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

/// A store that kept the times behind the medians to the microsecond (before migration 0009)
/// has them at the figures' resolution after it: pending again, to be folded at that resolution.
async fn stored_times_move_to_the_figures_resolution(test_db: TestDatabase) {
    use doxwatch_kit::{
        db::{Migrations, Ts},
        on_pool,
        rollup::duration_grain,
    };
    use sqlx::migrate::Migrator;
    let before = |m: &Migrator| -> &'static Migrator {
        let older = m.migrations.iter().filter(|m| m.version < 9).cloned().collect::<Vec<_>>();
        Box::leak(Box::new(Migrator { migrations: older.into(), ..Migrator::DEFAULT }))
    };
    let older = Migrations { postgres: before(MIGRATIONS.postgres), sqlite: before(MIGRATIONS.sqlite), ..MIGRATIONS };
    let store = Db::connect(test_db.url(), 1, older).await.expect("a store as it was");
    // Five days, 37 minutes and a little (pending); two hours, 3 minutes, 4 seconds (folded).
    let (pending, folded) = (432_000_000_000 + 2_232_345_678, 7_384_000_001);
    let (at, agency) = (Ts(datetime!(2019-09-30 02:00 UTC)), Uuid::nil());
    on_pool!(store.write(), p => {
        for (table, value) in [("referral_figure_pending", pending), ("referral_figure_points", folded)] {
            sqlx::query(&format!(
                "INSERT INTO {table} (business_time, record_time, agency, measure, value, n) VALUES ($1, $1, $2, 7, $3, 1)"
            ))
            .bind(at)
            .bind(agency)
            .bind(value)
            .execute(p)
            .await
            .expect(table);
        }
        sqlx::query(
            "INSERT INTO referral_figure_grains (grain, lead, trail, agency, measure, value, n) VALUES (0, 1, 1, $1, 7, $2, 1)",
        )
        .bind(agency)
        .bind(folded)
        .execute(p)
        .await
        .expect("a grain");
    });
    store.close().await;

    let db = open(&test_db).await;
    on_pool!(db.read(), p => {
        let mut now: Vec<(i64, i64)> =
            sqlx::query_as("SELECT value, n FROM referral_figure_pending WHERE measure = 7").fetch_all(p).await.expect("pending");
        now.sort_unstable();
        assert_eq!(now, vec![(duration_grain(folded), 1), (duration_grain(pending), 1)], "on {}", test_db.backend());
        assert_eq!((duration_grain(folded), duration_grain(pending)), (7_380_000_000, 432_000_000_000));
        for table in ["referral_figure_points", "referral_figure_grains"] {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE measure = 7"))
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
