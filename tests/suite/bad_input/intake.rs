//! Intake's mutating RPCs: CreateCase, UpdateCase, TransitionCase, AddCaseNote, AssignCase,
//! EraseCase, CreatePublication.

use doxwatch_intake::domain::{
    MAX_CONTACT_CHARS, MAX_DATA_SUBJECTS, MAX_FIGURES, MAX_NAME_CHARS, MAX_NOTE_CHARS, MAX_REPORTED_URLS,
    MAX_SUMMARY_CHARS,
};
use doxwatch_proto::intake as pb;
use tonic::Code;

use super::{
    fixture::{Clients, Fixture, PRIMED, at, good_case, oversized},
    rows,
    walk::{Class, Row, Walk, bad, refused, row},
};

fn case(r: &mut pb::CreateCaseRequest) -> &mut pb::Case {
    r.case.get_or_insert_with(Default::default)
}

fn subject(c: &mut pb::Case) -> &mut pb::DataSubject {
    &mut c.data_subjects[0]
}

/// Hostile URLs a complainant might report, each refused as `field`.
pub fn hostile_urls<R: 'static>(
    field: &str,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let long_host = format!("https://{}.example.com/x", "a".repeat(300));
    let long_label = format!("https://{}.example.com/x", "b".repeat(64));
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https:///path",
        "https://example.com:0/x",
        "https://exa mple.com/x",
        "https://example.com/\r\nx",
        long_host.as_str(),
        long_label.as_str(),
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/admin",
    ]
    .into_iter()
    .map(|url| {
        let url = url.to_owned();
        row(Class::HostileUrl, bad(field), move |r| set(r, url.clone()))
    })
    .collect()
}

fn create_rows() -> Vec<Row<pb::CreateCaseRequest>> {
    let mut rows: Vec<Row<pb::CreateCaseRequest>> = vec![
        row(Class::Missing, bad("case"), |r: &mut pb::CreateCaseRequest| r.case = None),
        row(Class::Missing, bad("case.data_subjects[0].category"), |r: &mut pb::CreateCaseRequest| {
            subject(case(r)).category = 0
        }),
        row(Class::UnknownEnum, bad("case.kind"), |r: &mut pb::CreateCaseRequest| case(r).kind = 99),
        row(Class::UnknownEnum, bad("case.channel"), |r: &mut pb::CreateCaseRequest| case(r).channel = 99),
        row(Class::UnknownEnum, bad("case.data_subjects[0].hong_kong_nexus"), |r: &mut pb::CreateCaseRequest| {
            subject(case(r)).hong_kong_nexus = 99
        }),
        row(Class::Duplicate, bad("case.disclosed_data[1]"), |r: &mut pb::CreateCaseRequest| {
            case(r).disclosed_data = vec![1, 1]
        }),
        row(Class::TooMany, bad("case.reported_urls"), |r: &mut pb::CreateCaseRequest| {
            case(r).reported_urls = (0..=MAX_REPORTED_URLS).map(|i| format!("https://t.me/badinput/{i}")).collect()
        }),
        row(Class::TooMany, bad("case.data_subjects"), |r: &mut pb::CreateCaseRequest| {
            let one = subject(case(r)).clone();
            case(r).data_subjects = vec![one; MAX_DATA_SUBJECTS + 1];
        }),
        row(Class::UnknownEnum, bad("case.disclosed_data[0]"), |r: &mut pb::CreateCaseRequest| {
            case(r).disclosed_data = vec![99]
        }),
        row(Class::Empty, bad("case.data_subjects[0].display_name"), |r: &mut pb::CreateCaseRequest| {
            subject(case(r)).display_name = String::new()
        }),
        row(
            Class::Oversized,
            refused(Code::ResourceExhausted, "RESOURCE_EXHAUSTED"),
            |r: &mut pb::CreateCaseRequest| case(r).summary = oversized(),
        ),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut pb::CreateCaseRequest| {
            r.request_id = "bad-input-case".into();
            case(r).summary = "another summary".into();
        }),
    ];
    rows.extend(rows::time("case.received_at", |r: &mut pb::CreateCaseRequest, t| case(r).received_at = t));
    rows.extend(rows::required_text("case.summary", MAX_SUMMARY_CHARS, |r: &mut pb::CreateCaseRequest, s| {
        case(r).summary = s
    }));
    rows.extend(rows::line(
        "case.data_subjects[0].display_name",
        MAX_NAME_CHARS,
        |r: &mut pb::CreateCaseRequest, s| subject(case(r)).display_name = s,
    ));
    rows.extend(rows::line(
        "case.data_subjects[0].contact.email",
        MAX_CONTACT_CHARS,
        |r: &mut pb::CreateCaseRequest, s| {
            subject(case(r)).contact = Some(pb::Contact { email: s, ..Default::default() })
        },
    ));
    rows.extend(hostile_urls("case.reported_urls[0]", |r: &mut pb::CreateCaseRequest, u| {
        case(r).reported_urls = vec![u]
    }));
    rows.extend(rows::request_id(|r: &mut pb::CreateCaseRequest, id| r.request_id = id));
    rows
}

fn update_rows(f: &Fixture) -> Vec<Row<pb::UpdateCaseRequest>> {
    fn case(r: &mut pb::UpdateCaseRequest) -> &mut pb::Case {
        r.case.get_or_insert_with(Default::default)
    }
    let mut rows: Vec<Row<pb::UpdateCaseRequest>> = vec![
        row(Class::Missing, bad("update_mask"), |r: &mut pb::UpdateCaseRequest| r.update_mask = None),
        row(Class::Empty, bad("update_mask"), |r: &mut pb::UpdateCaseRequest| r.update_mask = Some(Default::default())),
        row(Class::UnknownEnum, bad("update_mask.paths[0]"), |r: &mut pb::UpdateCaseRequest| {
            r.update_mask = Some(prost_types::FieldMask { paths: vec!["status".into()] })
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut pb::UpdateCaseRequest| {
            r.request_id = PRIMED[0].into()
        }),
        row(Class::Duplicate, bad("update_mask.paths[1]"), |r: &mut pb::UpdateCaseRequest| {
            r.update_mask = Some(prost_types::FieldMask { paths: vec!["summary".into(), "summary".into()] })
        }),
        row(Class::Missing, bad("case"), |r: &mut pb::UpdateCaseRequest| r.case = None),
    ];
    rows.extend(rows::name("case.name", "cases", &f.link, |r: &mut pb::UpdateCaseRequest, n| case(r).name = n));
    rows.extend(rows::required_text("case.summary", MAX_SUMMARY_CHARS, |r: &mut pb::UpdateCaseRequest, s| {
        case(r).summary = s
    }));
    rows.extend(hostile_urls("case.reported_urls[0]", |r: &mut pb::UpdateCaseRequest, u| {
        r.update_mask = Some(prost_types::FieldMask { paths: vec!["reported_urls".into()] });
        case(r).reported_urls = vec![u];
    }));
    rows.extend(rows::request_id(|r: &mut pb::UpdateCaseRequest, id| r.request_id = id));
    rows
}

fn transition_rows(f: &Fixture) -> Vec<Row<pb::TransitionCaseRequest>> {
    let link = f.link.clone();
    let mut rows: Vec<Row<pb::TransitionCaseRequest>> = vec![
        row(Class::Missing, bad("to_status"), |r: &mut pb::TransitionCaseRequest| r.to_status = 0),
        row(Class::UnknownEnum, bad("to_status"), |r: &mut pb::TransitionCaseRequest| r.to_status = 99),
        row(Class::UnknownEnum, bad("closure_reason"), |r: &mut pb::TransitionCaseRequest| {
            r.to_status = pb::CaseStatus::Closed as i32;
            r.closure_reason = 99;
        }),
        row(Class::ForeignName, bad("duplicate_of"), move |r: &mut pb::TransitionCaseRequest| {
            r.to_status = pb::CaseStatus::Closed as i32;
            r.closure_reason = pb::ClosureReason::Duplicate as i32;
            r.duplicate_of = link.clone();
        }),
        // The second case is under assessment: closing it is allowed, but not before it came.
        row(Class::Backdated, bad("occurred_at"), |r: &mut pb::TransitionCaseRequest| {
            r.to_status = pb::CaseStatus::Closed as i32;
            r.closure_reason = pb::ClosureReason::Resolved as i32;
            r.occurred_at = at("2019-06-01T09:00:00+08:00");
        }),
    ];
    rows.extend(rows::name("name", "cases", &f.link, |r: &mut pb::TransitionCaseRequest, n| r.name = n));
    rows.extend(rows::text("note", MAX_NOTE_CHARS, |r: &mut pb::TransitionCaseRequest, s| r.note = s));
    rows.extend(rows::time("occurred_at", |r: &mut pb::TransitionCaseRequest, t| r.occurred_at = t));
    rows.extend(rows::request_id(|r: &mut pb::TransitionCaseRequest, id| r.request_id = id));
    rows
}

fn note_rows(f: &Fixture) -> Vec<Row<pb::AddCaseNoteRequest>> {
    let mut rows: Vec<Row<pb::AddCaseNoteRequest>> = vec![
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut pb::AddCaseNoteRequest| {
            r.request_id = "bad-input-note".into();
            r.note = "another note".into();
        }),
        row(Class::Backdated, bad("occurred_at"), |r: &mut pb::AddCaseNoteRequest| {
            r.occurred_at = at("2019-06-01T09:00:00+08:00")
        }),
    ];
    rows.extend(rows::name("name", "cases", &f.link, |r: &mut pb::AddCaseNoteRequest, n| r.name = n));
    rows.extend(rows::required_text("note", MAX_NOTE_CHARS, |r: &mut pb::AddCaseNoteRequest, s| r.note = s));
    rows.extend(rows::time("occurred_at", |r: &mut pb::AddCaseNoteRequest, t| r.occurred_at = t));
    rows.extend(rows::request_id(|r: &mut pb::AddCaseNoteRequest, id| r.request_id = id));
    rows
}

fn assign_rows(f: &Fixture) -> Vec<Row<pb::AssignCaseRequest>> {
    let mut rows: Vec<Row<pb::AssignCaseRequest>> = vec![
        row(Class::Empty, bad("team"), |r: &mut pb::AssignCaseRequest| r.team = " ".into()),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut pb::AssignCaseRequest| {
            r.request_id = PRIMED[1].into()
        }),
        row(Class::OverLong, bad("team"), |r: &mut pb::AssignCaseRequest| r.team = "t".repeat(65)),
        row(Class::ControlInLine, bad("team"), |r: &mut pb::AssignCaseRequest| r.team = "intake\0-2".into()),
        row(Class::SqlInText, bad("team"), |r: &mut pb::AssignCaseRequest| r.team = "x'; DROP TABLE cases; --".into()),
        row(Class::OverLong, bad("assigned_officer"), |r: &mut pb::AssignCaseRequest| {
            r.assigned_officer = "o".repeat(129)
        }),
        row(Class::ControlInLine, bad("assigned_officer"), |r: &mut pb::AssignCaseRequest| {
            r.assigned_officer = "lee\r\nkw".into()
        }),
    ];
    rows.extend(rows::name("name", "cases", &f.link, |r: &mut pb::AssignCaseRequest, n| r.name = n));
    rows.extend(rows::request_id(|r: &mut pb::AssignCaseRequest, id| r.request_id = id));
    rows
}

fn publication_rows() -> Vec<Row<pb::CreatePublicationRequest>> {
    type R = pb::CreatePublicationRequest;
    fn publication(r: &mut R) -> &mut pb::Publication {
        r.publication.get_or_insert_with(Default::default)
    }
    fn name(r: &mut R, name: &str) {
        publication(r).figures[0].name = name.to_owned();
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("publication"), |r: &mut R| r.publication = None),
        row(Class::Missing, bad("publication.as_of"), |r: &mut R| publication(r).as_of = None),
        row(Class::Missing, bad("publication.recorded_before"), |r: &mut R| publication(r).recorded_before = None),
        row(Class::Empty, bad("publication.figures"), |r: &mut R| publication(r).figures.clear()),
        row(Class::Empty, bad("publication.figures[0].name"), |r: &mut R| name(r, "")),
        row(Class::TooMany, bad("publication.figures"), |r: &mut R| {
            publication(r).figures =
                (0..=MAX_FIGURES).map(|i| pb::PublishedFigure { name: format!("cases.n{i}"), value: 1 }).collect()
        }),
        row(Class::Duplicate, bad("publication.figures[1].name"), |r: &mut R| {
            let first = publication(r).figures[0].clone();
            publication(r).figures.push(first);
        }),
        row(Class::OverLong, bad("publication.figures[0].name"), |r: &mut R| name(r, &"a".repeat(201))),
        row(Class::ControlInLine, bad("publication.figures[0].name"), |r: &mut R| name(r, "cases.\0total")),
        row(Class::BidiInLine, bad("publication.figures[0].name"), |r: &mut R| name(r, "cases.\u{2066}total")),
        row(Class::SqlInText, bad("publication.figures[0].name"), |r: &mut R| {
            name(r, "x'; DROP TABLE publications; --")
        }),
    ];
    rows.extend(rows::time("publication.as_of", |r: &mut R, t| publication(r).as_of = t));
    rows.extend(rows::time("publication.recorded_before", |r: &mut R, t| publication(r).recorded_before = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

pub async fn walk(w: &mut Walk, c: &Clients, f: &Fixture) {
    let intake = &c.intake;
    let base = pb::CreateCaseRequest { case: Some(good_case()), request_id: String::new() };
    w.rpc(
        "CreateCase",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.create_case(r).await.map(drop) }
        },
        create_rows(),
    )
    .await;

    let base = pb::UpdateCaseRequest {
        case: Some(pb::Case { name: f.case.clone(), summary: "updated summary".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["summary".into()] }),
        request_id: String::new(),
    };
    w.rpc(
        "UpdateCase",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.update_case(r).await.map(drop) }
        },
        update_rows(f),
    )
    .await;

    let base = pb::TransitionCaseRequest {
        name: f.fresh_case.clone(),
        to_status: pb::CaseStatus::UnderAssessment as i32,
        note: "moving on".into(),
        ..Default::default()
    };
    w.rpc(
        "TransitionCase",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.transition_case(r).await.map(drop) }
        },
        transition_rows(f),
    )
    .await;

    let base = pb::AddCaseNoteRequest { name: f.case.clone(), note: "a note".into(), ..Default::default() };
    w.rpc(
        "AddCaseNote",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.add_case_note(r).await.map(drop) }
        },
        note_rows(f),
    )
    .await;

    let base = pb::AssignCaseRequest {
        name: f.case.clone(),
        team: "intake-2".into(),
        assigned_officer: "lee.kw".into(),
        request_id: String::new(),
    };
    w.rpc(
        "AssignCase",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.assign_case(r).await.map(drop) }
        },
        assign_rows(f),
    )
    .await;

    let base = pb::EraseCaseRequest { name: f.case.clone(), request_id: String::new() };
    let mut rows = rows::name("name", "cases", &f.link, |r: &mut pb::EraseCaseRequest, n| r.name = n);
    rows.extend(rows::request_id(|r: &mut pb::EraseCaseRequest, id| r.request_id = id));
    w.rpc(
        "EraseCase",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.erase_case(r).await.map(drop) }
        },
        rows,
    )
    .await;

    let just_now = doxwatch_kit::timestamp::now() - time::Duration::seconds(1);
    let base = pb::CreatePublicationRequest {
        publication: Some(pb::Publication {
            as_of: at("2019-11-08T12:00:00+08:00"),
            recorded_before: Some(doxwatch_kit::timestamp::to_proto(just_now)),
            figures: vec![pb::PublishedFigure { name: "cases.total".into(), value: 2 }],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    w.rpc(
        "CreatePublication",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.create_publication(r).await.map(drop) }
        },
        publication_rows(),
    )
    .await;
}
