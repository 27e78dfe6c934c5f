//! Recording, reading, listing and changing cases through gRPC.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;
use tonic::Code;

backend_tests!(
    records_and_reads_a_case,
    lists_with_pagination_and_filters,
    refuses_every_bad_field_at_once_and_stores_nothing,
    replays_a_retried_request_and_refuses_a_reused_id,
    requires_an_acting_officer,
    updates_only_the_named_fields,
    refuses_bad_updates,
    bad_page_tokens_and_sizes_are_refused,
);

async fn records_and_reads_a_case(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut case = complaint("2019-06-14T10:30:00+08:00", Cat::PoliceOfficer);
    case.reported_urls.push("  https://lihkg.com/thread/1234567/page/1  ".to_owned());
    case.reported_urls.push("https://t.me/examplechannel/101".to_owned());
    let created = create(&mut client, case.clone()).await;

    assert!(created.name.starts_with("cases/"), "{}", created.name);
    assert_eq!(created.status, pb::CaseStatus::Received as i32);
    assert_eq!(created.kind, pb::CaseKind::Complaint as i32);
    assert_eq!(created.received_at, Some(ts("2019-06-14T02:30:00Z")));
    assert_eq!(created.created_by, "officer-chan");
    assert_eq!(
        created.reported_urls,
        vec!["https://t.me/examplechannel/101", "https://lihkg.com/thread/1234567/page/1"],
        "URLs are kept as given, trimmed, each once"
    );
    assert_eq!(created.data_subjects, case.data_subjects);
    assert_eq!(created.complainant, case.complainant);

    let got = client.get_case(pb::GetCaseRequest { name: created.name.clone() }).await.unwrap().into_inner();
    assert_eq!(got, created);

    let missing = client
        .get_case(pb::GetCaseRequest { name: "cases/0190f5c2-0000-7000-8000-000000000000".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = client.get_case(pb::GetCaseRequest { name: "case/123".into() }).await.unwrap_err();
    assert_eq!(violated_fields(&malformed), vec!["name"]);

    let events = client
        .list_case_events(pb::ListCaseEventsRequest { name: created.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, pb::CaseEventKind::Created as i32);
    assert_eq!(events[0].to_status, pb::CaseStatus::Received as i32);
    assert_eq!(events[0].occurred_at, created.received_at);
    assert_eq!(events[0].actor, "officer-chan");
    app.stop().await;
}

async fn lists_with_pagination_and_filters(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut names = Vec::new();
    for i in 0..7 {
        let category = if i % 2 == 0 { Cat::PoliceOfficer } else { Cat::Student };
        let mut case = complaint(&format!("2019-07-0{}T09:00:00+08:00", i + 1), category);
        if i == 6 {
            case.kind = pb::CaseKind::PatrolDiscovery as i32;
            case.channel = pb::IntakeChannel::Patrol as i32;
        }
        names.push(create(&mut client, case).await.name);
    }

    // Pages of 3, in the order the cases were recorded, with nothing lost or repeated.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_cases(pb::ListCasesRequest { page_size: 3, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.cases.len() <= 3);
        seen.extend(page.cases.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names);

    let list = |req: pb::ListCasesRequest| {
        let mut client = client.clone();
        async move { client.list_cases(req).await.unwrap().into_inner().cases.len() }
    };
    assert_eq!(
        list(pb::ListCasesRequest { kind: pb::CaseKind::PatrolDiscovery as i32, ..Default::default() }).await,
        1
    );
    assert_eq!(
        list(pb::ListCasesRequest { data_subject_category: Cat::Student as i32, ..Default::default() }).await,
        3
    );
    assert_eq!(list(pb::ListCasesRequest { status: pb::CaseStatus::Received as i32, ..Default::default() }).await, 7);
    assert_eq!(list(pb::ListCasesRequest { status: pb::CaseStatus::Closed as i32, ..Default::default() }).await, 0);
    assert_eq!(
        list(pb::ListCasesRequest {
            received_after: Some(ts("2019-07-02T00:00:00+08:00")),
            received_before: Some(ts("2019-07-05T00:00:00+08:00")),
            ..Default::default()
        })
        .await,
        3
    );

    // A page token is refused with other filters.
    let first =
        client.list_cases(pb::ListCasesRequest { page_size: 2, ..Default::default() }).await.unwrap().into_inner();
    let err = client
        .list_cases(pb::ListCasesRequest {
            page_size: 2,
            page_token: first.next_page_token,
            kind: pb::CaseKind::Enquiry as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["page_token"]);
    app.stop().await;
}

async fn refuses_every_bad_field_at_once_and_stores_nothing(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let bad = pb::Case {
        kind: 99,
        received_at: Some(ts("2999-01-01T00:00:00Z")),
        channel: 0,
        summary: "   ".into(),
        reported_urls: vec![
            "ftp://example.com/file".into(),
            "https://user:secret@example.com/".into(),
            "not a url".into(),
            "https://t.me/fine/1".into(),
        ],
        data_subjects: vec![pb::DataSubject {
            display_name: "x".repeat(201),
            contact: None,
            category: 0,
            hong_kong_nexus: 42,
        }],
        complainant: Some(pb::Complainant { display_name: String::new(), relationship: 0, contact: None }),
        disclosed_data: vec![1, 1, 77],
        alleged_harm: vec![0],
        ..Default::default()
    };
    let err =
        client.create_case(pb::CreateCaseRequest { case: Some(bad), request_id: "r".repeat(129) }).await.unwrap_err();
    let fields = violated_fields(&err);
    for expected in [
        "request_id",
        "case.kind",
        "case.received_at",
        "case.channel",
        "case.summary",
        "case.reported_urls[0]",
        "case.reported_urls[1]",
        "case.reported_urls[2]",
        "case.data_subjects[0].display_name",
        "case.data_subjects[0].category",
        "case.data_subjects[0].hong_kong_nexus",
        "case.complainant.display_name",
        "case.complainant.relationship",
        "case.disclosed_data[1]",
        "case.disclosed_data[2]",
        "case.alleged_harm[0]",
    ] {
        assert!(fields.contains(&expected.to_owned()), "{expected} missing from {fields:?}");
    }
    assert!(!fields.contains(&"case.reported_urls[3]".to_owned()));

    // Limits on counts and lengths.
    let mut too_many = complaint("2019-07-01T00:00:00Z", Cat::Other);
    too_many.reported_urls = (0..101).map(|i| format!("https://example.com/{i}")).collect();
    too_many.data_subjects = (0..51).map(|i| subject(&format!("S {i}"), Cat::Other)).collect();
    too_many.summary = "y".repeat(4001);
    let err =
        client.create_case(pb::CreateCaseRequest { case: Some(too_many), ..Default::default() }).await.unwrap_err();
    let fields = violated_fields(&err);
    assert_eq!(fields, vec!["case.summary", "case.reported_urls", "case.data_subjects"]);

    let err = client.create_case(pb::CreateCaseRequest::default()).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["case"]);

    assert_eq!(count_cases(&mut client).await, 0, "nothing is stored for a rejected request");
    app.stop().await;
}

async fn replays_a_retried_request_and_refuses_a_reused_id(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let request = pb::CreateCaseRequest {
        case: Some(complaint("2019-08-01T12:00:00+08:00", Cat::Teacher)),
        request_id: "form-submission-0001".into(),
    };
    let first = client.create_case(request.clone()).await.unwrap().into_inner();
    let again = client.create_case(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, again, "a retry returns the first response");
    assert_eq!(count_cases(&mut client).await, 1);

    let mut different = request.clone();
    different.case.as_mut().unwrap().summary = "Another complaint altogether".into();
    let err = client.create_case(different).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(count_cases(&mut client).await, 1);

    // The same id for a transition is idempotent too.
    let move_it = pb::TransitionCaseRequest {
        name: first.name.clone(),
        to_status: pb::CaseStatus::UnderAssessment as i32,
        request_id: "assess-0001".into(),
        ..Default::default()
    };
    let moved = client.transition_case(move_it.clone()).await.unwrap().into_inner();
    let moved_again = client.transition_case(move_it).await.unwrap().into_inner();
    assert_eq!(moved, moved_again);
    let events = client
        .list_case_events(pb::ListCaseEventsRequest { name: first.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 2, "the retried transition was applied once");
    app.stop().await;
}

async fn requires_an_acting_officer(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut anonymous = app.client_as(None);
    let err = anonymous
        .create_case(pb::CreateCaseRequest {
            case: Some(complaint("2019-08-01T12:00:00Z", Cat::Other)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut client = app.client.clone();
    assert_eq!(count_cases(&mut client).await, 0);
    app.stop().await;
}

async fn updates_only_the_named_fields(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let created = create(&mut client, complaint("2019-09-01T09:00:00+08:00", Cat::Student)).await;
    let mut changes = created.clone();
    changes.summary = "Updated after a phone call with the complainant.".into();
    changes.data_subjects.push(subject("Second Subject", Cat::PoliceFamilyMember));
    changes.channel = pb::IntakeChannel::Letter as i32; // not in the mask: must not change
    let updated = client
        .update_case(pb::UpdateCaseRequest {
            case: Some(changes.clone()),
            update_mask: Some(prost_types::FieldMask { paths: vec!["summary".into(), "data_subjects".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.summary, changes.summary);
    assert_eq!(updated.data_subjects.len(), 2);
    assert_eq!(updated.channel, created.channel);
    assert_ne!(updated.update_time, created.update_time);
    let got = client.get_case(pb::GetCaseRequest { name: created.name.clone() }).await.unwrap().into_inner();
    assert_eq!(got, updated);

    let events = client
        .list_case_events(pb::ListCaseEventsRequest { name: created.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.last().unwrap().kind, pb::CaseEventKind::Updated as i32);
    assert_eq!(events.last().unwrap().note, "updated: summary, data_subjects");
    app.stop().await;
}

async fn refuses_bad_updates(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let created = create(&mut client, complaint("2019-09-01T09:00:00+08:00", Cat::Student)).await;
    let mut changes = created.clone();
    changes.summary = String::new();
    changes.kind = pb::CaseKind::Enquiry as i32;
    let err = client
        .update_case(pb::UpdateCaseRequest {
            case: Some(changes),
            update_mask: Some(prost_types::FieldMask { paths: vec!["summary".into(), "kind".into(), "status".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["update_mask.paths[1]", "update_mask.paths[2]", "case.summary"]);
    let err = client
        .update_case(pb::UpdateCaseRequest {
            case: Some(created.clone()),
            update_mask: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["update_mask"]);
    let got = client.get_case(pb::GetCaseRequest { name: created.name.clone() }).await.unwrap().into_inner();
    assert_eq!(got, created, "nothing changed");
    app.stop().await;
}

async fn bad_page_tokens_and_sizes_are_refused(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let err = client
        .list_cases(pb::ListCasesRequest {
            page_size: -1,
            page_token: "garbage!".into(),
            kind: 17,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["page_size", "kind", "page_token"]);
    app.stop().await;
}
