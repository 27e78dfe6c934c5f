//! Personal data is sealed at rest: after cases with names, phones, addresses, complainants and
//! notes are recorded (with request ids, whose stored answers hold whole cases), none of it is in
//! the store in plain text, yet every read gives it back. Officers find a person's earlier cases
//! through blind indexes of names and phones; a bad search is refused, naming the field.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;

backend_tests!(
    personal_data_is_nowhere_in_plain_text,
    a_person_s_earlier_cases_are_found_by_name_or_phone,
    a_rotation_seals_every_value_again_and_all_stays_readable,
    a_new_case_names_the_earlier_cases_of_the_same_person,
    subjects_stored_before_blind_indexes_are_found_after_a_restart,
    subjects_indexed_before_whole_names_are_the_same_person_after_a_restart,
);

async fn a_new_case_names_the_earlier_cases_of_the_same_person(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let case_of = |subjects: Vec<pb::DataSubject>| {
        let mut case = complaint("2019-09-01T10:00:00+08:00", Cat::PoliceOfficer);
        case.data_subjects = subjects;
        case
    };
    let first = create(&mut client, case_of(vec![person("Chan Tai-man", "9123 4567", "")])).await;
    assert!(first.same_subject_cases.is_empty(), "nobody before");
    let second =
        create(&mut client, case_of(vec![person("Leung Ka Ho", "", ""), person("CHAN TAI MAN", "", "")])).await;
    assert_eq!(second.same_subject_cases, vec![first.name.clone()], "by name, however written");
    let by_phone = create(&mut client, case_of(vec![person("T. M. C.", "+852 9123-4567", "")])).await;
    assert_eq!(by_phone.same_subject_cases, vec![first.name.clone()], "by phone");
    let both = create(&mut client, case_of(vec![person("Tai Man Chan", "", "")])).await;
    assert_eq!(both.same_subject_cases, vec![first.name.clone(), second.name.clone()], "oldest first");
    // A surname alone, or another person of the same surname, is no one in particular.
    let surname = create(&mut client, case_of(vec![person("Chan", "", "")])).await;
    assert!(surname.same_subject_cases.is_empty(), "{:?}", surname.same_subject_cases);
    let other = create(&mut client, case_of(vec![person("Chan Siu Ming", "9123 4568", "")])).await;
    assert!(other.same_subject_cases.is_empty(), "{:?}", other.same_subject_cases);
    // Reads of a case do not carry the hint; it is the answer to recording one.
    let read = client.get_case(pb::GetCaseRequest { name: second.name.clone() }).await.expect("read").into_inner();
    assert!(read.same_subject_cases.is_empty());
    app.stop().await;
}

/// Every sealed value of the store, by column: what the sweep must have brought to the new key.
async fn sealed_values(db: &TestDatabase) -> Vec<(String, String)> {
    use doxwatch_kit::on_pool;
    let store = doxwatch_kit::db::Db::connect(db.url(), 1, doxwatch_intake::MIGRATIONS).await.expect("the store");
    let mut out = Vec::new();
    for (table, column) in [
        ("cases", "summary"),
        ("cases", "complainant"),
        ("case_subjects", "display_name"),
        ("case_subjects", "contact"),
        ("case_events", "note"),
    ] {
        let sql = format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL");
        let values: Vec<String> =
            on_pool!(store.read(), p => sqlx::query_scalar(&sql).fetch_all(p).await.expect("the column"));
        out.extend(values.into_iter().map(|v| (format!("{table}.{column}"), v)));
    }
    let sql = "SELECT response FROM idempotency_keys";
    let answers: Vec<Vec<u8>> =
        on_pool!(store.read(), p => sqlx::query_scalar(sql).fetch_all(p).await.expect("answers"));
    out.extend(
        answers
            .into_iter()
            .map(|a| ("idempotency_keys.response".to_owned(), String::from_utf8_lossy(&a[..7]).into_owned())),
    );
    store.close().await;
    out
}

async fn a_rotation_seals_every_value_again_and_all_stays_readable(db: TestDatabase) {
    use doxwatch_kit::{policy::Role, testing::OfficerWith};
    use doxwatch_proto::ops::{self as ops, key_service_client::KeyServiceClient};
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut case = complaint("2019-08-01T10:00:00+08:00", Cat::PoliceOfficer);
    case.summary = SUMMARY.to_owned();
    case.data_subjects = vec![person(NAME, PHONE, ADDRESS)];
    let request = pb::CreateCaseRequest { case: Some(case), request_id: "before-rotation".into() };
    let created = client.create_case(request.clone()).await.expect("created").into_inner();
    client
        .add_case_note(pb::AddCaseNoteRequest { name: created.name.clone(), note: NOTE.into(), ..Default::default() })
        .await
        .expect("a note");
    let before = sealed_values(&db).await;
    assert!(before.iter().all(|(_, v)| v.starts_with("dw1.k1.") || v.starts_with("DW1\0\0\0\u{1}")), "{before:?}");

    // Only an operator rotates.
    let mut officer =
        KeyServiceClient::with_interceptor(app.channel.clone(), OfficerWith("chan", &[Role::IntakeOfficer]));
    let refused = officer.rotate_data_key(ops::RotateDataKeyRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let mut operator =
        KeyServiceClient::with_interceptor(app.channel.clone(), OfficerWith("ops-lee", &[Role::Operator]));
    let rotated = operator.rotate_data_key(ops::RotateDataKeyRequest {}).await.expect("rotated").into_inner();
    assert_eq!(rotated.service, "intake");
    assert_eq!(rotated.keys.iter().map(|k| (k.id, k.active)).collect::<Vec<_>>(), vec![(1, false), (3, true)]);

    // The sweep seals every stored value again under key 3.
    let status = doxwatch_kit::testing::eventually(std::time::Duration::from_secs(30), async || {
        let status = operator.get_data_key_status(ops::GetDataKeyStatusRequest {}).await.ok()?.into_inner();
        (status.last_sweep_resealed > 0).then_some(status)
    })
    .await
    .expect("a sweep under the new key");
    assert_eq!(status.last_sweep_remaining, 0);
    let after = sealed_values(&db).await;
    assert_eq!(after.len(), before.len());
    assert!(after.iter().all(|(_, v)| v.starts_with("dw1.k3.") || v.starts_with("DW1\0\0\0\u{3}")), "{after:?}");

    // Everything reads as before, the stored answer included.
    let read = client.get_case(pb::GetCaseRequest { name: created.name.clone() }).await.expect("read").into_inner();
    assert_eq!((read.summary.as_str(), read.data_subjects[0].display_name.as_str()), (SUMMARY, NAME));
    assert_eq!(client.create_case(request).await.expect("replayed").into_inner(), created);
    app.stop().await;
}

fn person(name: &str, phone: &str, address: &str) -> pb::DataSubject {
    pb::DataSubject {
        display_name: name.to_owned(),
        contact: Some(pb::Contact {
            email: String::new(),
            phone: phone.to_owned(),
            postal_address: address.to_owned(),
        }),
        category: Cat::PoliceOfficer as i32,
        hong_kong_nexus: pb::HongKongNexus::Resident as i32,
    }
}

const NAME: &str = "Cheung Wing Sze";
const PHONE: &str = "+852 6123 9876";
const ADDRESS: &str = "Flat 12B, Kwun Tong Garden";
const COMPLAINANT: &str = "Lau Ka Yan";
const SUMMARY: &str = "Posted the officer's home address on a forum";
const NOTE: &str = "Spoke with the complainant by phone at her workplace";

async fn personal_data_is_nowhere_in_plain_text(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut case = complaint("2019-08-01T10:00:00+08:00", Cat::PoliceOfficer);
    case.summary = SUMMARY.to_owned();
    case.data_subjects = vec![person(NAME, PHONE, ADDRESS)];
    case.complainant = Some(pb::Complainant {
        display_name: COMPLAINANT.to_owned(),
        relationship: pb::ComplainantRelationship::FamilyMember as i32,
        contact: Some(pb::Contact { email: "lau.ky@example.invalid".into(), ..Default::default() }),
    });
    let request = pb::CreateCaseRequest { case: Some(case), request_id: "sealed-1".into() };
    let created = client.create_case(request.clone()).await.expect("created").into_inner();
    client
        .add_case_note(pb::AddCaseNoteRequest { name: created.name.clone(), note: NOTE.into(), ..Default::default() })
        .await
        .expect("a note");

    // Every read gives the data back.
    let read = client.get_case(pb::GetCaseRequest { name: created.name.clone() }).await.expect("read").into_inner();
    assert_eq!(read.data_subjects[0].display_name, NAME);
    assert_eq!(read.data_subjects[0].contact.as_ref().map(|c| c.postal_address.as_str()), Some(ADDRESS));
    assert_eq!(read.complainant.as_ref().map(|c| c.display_name.as_str()), Some(COMPLAINANT));
    assert_eq!(read.summary, SUMMARY);
    let events = client
        .list_case_events(pb::ListCaseEventsRequest { name: created.name.clone(), ..Default::default() })
        .await
        .expect("timeline")
        .into_inner();
    assert!(events.events.iter().any(|e| e.note == NOTE), "the note reads back");
    // A retry is answered from the sealed copy of the first answer.
    let replayed = client.create_case(request).await.expect("replayed").into_inner();
    assert_eq!(replayed, created);

    let found = db.plaintext(&[NAME, "61239876", ADDRESS, COMPLAINANT, "lau.ky@example.invalid", SUMMARY, NOTE]).await;
    assert!(found.is_empty(), "personal data in plain text on {}: {found:?}", db.backend());
    // The check can fail: what is not personal data (the reported URL) is there in plain text.
    assert!(!db.plaintext(&["https://t.me/examplechannel/101"]).await.is_empty(), "the scan sees the store");
    app.stop().await;
}

async fn a_person_s_earlier_cases_are_found_by_name_or_phone(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut first = complaint("2019-08-01T10:00:00+08:00", Cat::PoliceOfficer);
    first.data_subjects = vec![person("Chan Tai-man", "9123 4567", ""), person("Wong Siu Ming", "", "")];
    let first = create(&mut client, first).await;
    let mut second = complaint("2019-09-01T10:00:00+08:00", Cat::PoliceOfficer);
    second.data_subjects = vec![person("CHAN TAI MAN", "", "")];
    let second = create(&mut client, second).await;
    let mut other = complaint("2019-09-02T10:00:00+08:00", Cat::PoliceOfficer);
    other.data_subjects = vec![person("Chan Siu Man", "+852 9123 4568", "")];
    create(&mut client, other).await;

    let searcher = client.clone();
    let search = |q: &str| {
        let mut client = searcher.clone();
        let q = q.to_owned();
        async move {
            let page =
                client.list_cases(pb::ListCasesRequest { data_subject: q, ..Default::default() }).await?.into_inner();
            Ok::<_, tonic::Status>(page.cases.into_iter().map(|c| c.name).collect::<Vec<_>>())
        }
    };
    let both = vec![first.name.clone(), second.name.clone()];
    assert_eq!(search("chan tai man").await.unwrap(), both, "case and punctuation are ignored");
    assert_eq!(search("Tai-Man, Chan").await.unwrap(), both, "word order too");
    assert_eq!(search("+852 9123-4567").await.unwrap(), vec![first.name.clone()], "by phone");
    assert_eq!(search("wong").await.unwrap(), vec![first.name.clone()], "any subject of the case");
    // Every word must be in one subject's name: "chan ming" is no one here.
    assert!(search("chan ming").await.unwrap().is_empty());

    // A search follows the current version of a case's subjects.
    let mut changed = first.clone();
    changed.data_subjects = vec![person("Ho Ka Lok", "", "")];
    client
        .update_case(pb::UpdateCaseRequest {
            case: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["data_subjects".into()] }),
            request_id: String::new(),
        })
        .await
        .expect("updated");
    assert_eq!(search("chan tai man").await.unwrap(), vec![second.name.clone()]);
    assert_eq!(search("ho ka lok").await.unwrap(), vec![first.name.clone()]);

    // Bad searches are refused, naming the field.
    let words: String = (0..11).map(|i| format!("word{i} ")).collect();
    for bad in ["--", "12 34", &words, &"y".repeat(201)] {
        let status = search(bad).await.expect_err(bad);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad:?}");
        assert_eq!(violated_fields(&status), vec!["data_subject"], "{bad:?}");
    }
    app.stop().await;
}

async fn subjects_stored_before_blind_indexes_are_found_after_a_restart(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut case = complaint("2019-09-01T10:00:00+08:00", Cat::PoliceOfficer);
    case.data_subjects = vec![person("Ho Ka Ming", "6789 0123", ""), person("Ho Siu Wai", "", "")];
    let created = create(&mut client, case).await;
    app.stop().await;
    // A store from before there were blind indexes: the case's terms are not there.
    {
        use doxwatch_kit::on_pool;
        let store = doxwatch_kit::db::Db::connect(db.url(), 1, doxwatch_intake::MIGRATIONS).await.expect("the store");
        on_pool!(store.write(), p => {
            sqlx::query("DELETE FROM case_subject_terms").execute(p).await.expect("deleted");
        });
        store.close().await;
    }
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let search = |query: &str| pb::ListCasesRequest { data_subject: query.to_owned(), ..Default::default() };
    let found = doxwatch_kit::testing::eventually(std::time::Duration::from_secs(20), || {
        let (mut client, request) = (client.clone(), search("ka ming ho"));
        async move {
            let cases = client.list_cases(request).await.ok()?.into_inner().cases;
            (!cases.is_empty()).then_some(cases)
        }
    })
    .await
    .expect("found once indexed at start");
    assert_eq!(found.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec![created.name.as_str()]);
    for query in ["6789 0123", "siu wai"] {
        let cases = client.list_cases(search(query)).await.expect("searched").into_inner().cases;
        assert_eq!(cases.len(), 1, "{query}");
    }
    app.stop().await;
}

async fn subjects_indexed_before_whole_names_are_the_same_person_after_a_restart(db: TestDatabase) {
    use doxwatch_kit::on_pool;
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut case = complaint("2019-09-01T10:00:00+08:00", Cat::PoliceOfficer);
    case.data_subjects = vec![person("Ho Ka Ming", "", ""), person("Ho Siu Wai", "", "")];
    let created = create(&mut client, case).await;
    app.stop().await;
    // A store from before whole names were indexed: the terms are there, the whole names are not.
    let whole_names = |db: &TestDatabase| {
        let url = db.url().to_owned();
        async move {
            let store = doxwatch_kit::db::Db::connect(&url, 1, doxwatch_intake::MIGRATIONS).await.expect("the store");
            let count: i64 = on_pool!(store.write(), p => {
                sqlx::query_scalar("SELECT COUNT(*) FROM case_subject_terms WHERE kind = 1").fetch_one(p).await.expect("counted")
            });
            store.close().await;
            count
        }
    };
    {
        let store = doxwatch_kit::db::Db::connect(db.url(), 1, doxwatch_intake::MIGRATIONS).await.expect("the store");
        on_pool!(store.write(), p => {
            sqlx::query("DELETE FROM case_subject_terms WHERE kind = 1").execute(p).await.expect("deleted");
        });
        store.close().await;
    }
    assert_eq!(whole_names(&db).await, 0);
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    doxwatch_kit::testing::eventually(std::time::Duration::from_secs(20), || {
        let count = whole_names(&db);
        async move { (count.await == 2).then_some(()) }
    })
    .await
    .expect("both subjects indexed at start");
    let mut again = complaint("2019-09-02T10:00:00+08:00", Cat::PoliceOfficer);
    again.data_subjects = vec![person("KA-MING HO", "", "")];
    let again = create(&mut client, again).await;
    assert_eq!(again.same_subject_cases, vec![created.name.clone()]);
    // The terms were indexed again, once: a search finds each case once.
    let search = pb::ListCasesRequest { data_subject: "ho ka ming".to_owned(), ..Default::default() };
    let cases = client.list_cases(search).await.expect("searched").into_inner().cases;
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec![created.name.as_str(), again.name.as_str()]);
    app.stop().await;
}
