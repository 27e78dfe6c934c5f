//! Reference numbers: given as a case is recorded, counted per year in the office's time zone,
//! unique under concurrent writers, and accepted by GetCase in place of the id.

mod common;

use std::collections::BTreeSet;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;
use tonic::Code;

backend_tests!(
    cases_are_numbered_per_year_in_the_offices_zone,
    get_case_takes_a_reference,
    concurrent_cases_get_distinct_consecutive_numbers,
    the_prefix_and_zone_are_configured,
    numbering_goes_on_after_a_restart,
);

async fn cases_are_numbered_per_year_in_the_offices_zone(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    // The test configuration's office is in Hong Kong: 00:30 on 1 January there is still 2019 in UTC.
    let last_of_2019 = create(&mut client, complaint("2019-12-31T23:30:00+08:00", Cat::Student)).await;
    let first_of_2020 = create(&mut client, complaint("2020-01-01T00:30:00+08:00", Cat::Student)).await;
    let backdated = create(&mut client, complaint("2019-06-01T10:00:00+08:00", Cat::Student)).await;
    assert_eq!(last_of_2019.reference, "DOX-2019-000001");
    assert_eq!(first_of_2020.reference, "DOX-2020-000001");
    assert_eq!(backdated.reference, "DOX-2019-000002", "numbered as recorded, in the year it was received");
    let listed = client.list_cases(pb::ListCasesRequest::default()).await.unwrap().into_inner().cases;
    let references: BTreeSet<String> = listed.iter().map(|c| c.reference.clone()).collect();
    assert_eq!(
        references,
        BTreeSet::from(["DOX-2019-000001".into(), "DOX-2019-000002".into(), "DOX-2020-000001".into()])
    );
    app.stop().await;
}

async fn get_case_takes_a_reference(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let first = create(&mut client, complaint("2019-11-01T09:00:00+08:00", Cat::Journalist)).await;
    let second = create(&mut client, complaint("2019-11-02T09:00:00+08:00", Cat::Journalist)).await;
    for spelling in ["cases/DOX-2019-000002", "cases/dox-2019-2", "cases/ DOX-2019-02 "] {
        let got = client.get_case(pb::GetCaseRequest { name: spelling.into() }).await.unwrap().into_inner();
        assert_eq!((&got.name, &got.reference), (&second.name, &second.reference), "{spelling}");
        assert_eq!(got.summary, second.summary, "{spelling}");
    }
    let by_id = client.get_case(pb::GetCaseRequest { name: first.name.clone() }).await.unwrap().into_inner();
    assert_eq!(by_id.reference, "DOX-2019-000001");
    let missing = client.get_case(pb::GetCaseRequest { name: "cases/DOX-2019-000003".into() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains("cases/DOX-2019-000003"), "{}", missing.message());
    for malformed in ["cases/DOX-19-1", "cases/DOX-2019-0", "DOX-2019-000001"] {
        let refused = client.get_case(pb::GetCaseRequest { name: malformed.into() }).await.unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["name"], "{malformed}");
    }
    app.stop().await;
}

async fn concurrent_cases_get_distinct_consecutive_numbers(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let writers: Vec<_> = (0..12)
        .map(|i| {
            let mut client = app.client.clone();
            tokio::spawn(async move {
                create(&mut client, complaint(&format!("2019-10-{:02}T09:00:00+08:00", i + 1), Cat::Student)).await
            })
        })
        .collect();
    let mut references = BTreeSet::new();
    for writer in writers {
        references.insert(writer.await.unwrap().reference);
    }
    let expected: BTreeSet<String> = (1..=12).map(|n| format!("DOX-2019-{n:06}")).collect();
    assert_eq!(references, expected);
    app.stop().await;
}

async fn the_prefix_and_zone_are_configured(db: TestDatabase) {
    let mut config = config(&db);
    config.reference_prefix = Some("PCPD".into());
    config.time_zone = jiff::tz::TimeZone::UTC;
    let app = spawn_with(config).await;
    let mut client = app.client.clone();
    let case = create(&mut client, complaint("2020-01-01T00:30:00+08:00", Cat::Student)).await;
    assert_eq!(case.reference, "PCPD-2019-000001", "in UTC, 2020-01-01T00:30+08:00 falls in 2019");
    let got = client.get_case(pb::GetCaseRequest { name: "cases/pcpd-2019-1".into() }).await.unwrap().into_inner();
    assert_eq!(got.name, case.name);
    app.stop().await;
}

async fn numbering_goes_on_after_a_restart(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let first = create(&mut client, complaint("2019-11-01T09:00:00+08:00", Cat::Student)).await;
    app.stop().await;
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let second = create(&mut client, complaint("2019-11-01T10:00:00+08:00", Cat::Student)).await;
    assert_eq!((first.reference.as_str(), second.reference.as_str()), ("DOX-2019-000001", "DOX-2019-000002"));
    app.stop().await;
}

/// A store made before references: its cases are numbered by the migration in the order they were
/// received, in years of Hong Kong time, and the counters go on from there.
#[tokio::test]
async fn cases_recorded_before_references_are_numbered_by_the_migration() {
    for db in TestDatabase::all().await {
        let before = |m: &&sqlx::migrate::Migration| m.version < 6;
        let old = |all: &'static sqlx::migrate::Migrator| sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(all.migrations.iter().filter(before).cloned().collect()),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        // Received 7 and 8 November 2019, and 00:30 on 1 January 2020 in Hong Kong.
        let received = ["2019-11-08T04:00:00Z", "2019-12-31T16:30:00Z", "2019-11-07T04:00:00Z"];
        let ids: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
        let insert = "INSERT INTO cases (id, kind, received_at, channel, summary, reported_urls, disclosed_data, \
                      alleged_harm, created_by, create_time, update_time) \
                      VALUES ($1, 1, $2, 1, '', '[]', '[]', '[]', 'officer-chan', $2, $2)";
        if db.backend() == "sqlite" {
            let pool = sqlx::SqlitePool::connect(&format!("{}?mode=rwc", db.url())).await.unwrap();
            old(doxwatch_intake::MIGRATIONS.sqlite).run(&pool).await.unwrap();
            for (id, at) in ids.iter().zip(received) {
                let at = doxwatch_kit::db::Ts(moment(at));
                sqlx::query(insert).bind(id).bind(at).execute(&pool).await.unwrap();
            }
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            old(doxwatch_intake::MIGRATIONS.postgres).run(&pool).await.unwrap();
            for (id, at) in ids.iter().zip(received) {
                let at = moment(at);
                sqlx::query(insert).bind(id).bind(at).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        let app = spawn_app(&db).await;
        let mut client = app.client.clone();
        let next_2019 = create(&mut client, complaint("2019-11-09T09:00:00+08:00", Cat::Student)).await;
        let next_2020 = create(&mut client, complaint("2020-02-01T09:00:00+08:00", Cat::Student)).await;
        assert_eq!(next_2019.reference, "DOX-2019-000003", "{}", db.backend());
        assert_eq!(next_2020.reference, "DOX-2020-000002", "{}", db.backend());
        app.stop().await;
        let numbered = stored_references(&db, &ids).await;
        assert_eq!(numbered, ["DOX-2019-000002", "DOX-2020-000001", "DOX-2019-000001"], "{}", db.backend());
    }
}

/// The references the store holds for `ids`, in that order.
async fn stored_references(db: &TestDatabase, ids: &[uuid::Uuid]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let reference: String = if db.backend() == "sqlite" {
            let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
            let r = sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1").bind(id).fetch_one(&pool).await;
            pool.close().await;
            r.unwrap()
        } else {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            let r = sqlx::query_scalar("SELECT reference FROM cases WHERE id = $1").bind(id).fetch_one(&pool).await;
            pool.close().await;
            r.unwrap()
        };
        out.push(reference);
    }
    out
}

fn moment(rfc3339: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).unwrap()
}
