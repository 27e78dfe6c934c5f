//! Control characters never reach a store: NUL and the other C0 characters are refused in notes
//! (but tab and line breaks), in names (where no control character is taken) and in `request_id`,
//! with INVALID_ARGUMENT naming the field, on both backends; and URLs that name no host where a
//! reader would look for one are refused.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;

backend_tests!(control_characters_and_hostless_urls_are_refused_and_nothing_is_stored);

async fn events(client: &mut Client, name: &str) -> usize {
    let request = pb::ListCaseEventsRequest { name: name.to_owned(), ..Default::default() };
    client.list_case_events(request).await.expect("timeline").into_inner().events.len()
}

async fn control_characters_and_hostless_urls_are_refused_and_nothing_is_stored(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut c = app.client.clone();
    let case = create(&mut c, complaint("2019-07-01T09:00:00+08:00", Cat::Student)).await;
    let before = events(&mut c, &case.name).await;

    for note in ["nul\0here", "bell\u{7}", "escape\u{1b}[31m"] {
        let note_request = pb::AddCaseNoteRequest { name: case.name.clone(), note: note.into(), ..Default::default() };
        let refused = c.add_case_note(note_request).await.unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["note".to_owned()], "{note:?}");
        let move_request = pb::TransitionCaseRequest {
            name: case.name.clone(),
            to_status: pb::CaseStatus::UnderAssessment as i32,
            note: note.into(),
            ..Default::default()
        };
        let refused = c.transition_case(move_request).await.unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["note".to_owned()], "{note:?}");
    }
    let refused = c
        .add_case_note(pb::AddCaseNoteRequest {
            name: case.name.clone(),
            note: "fine".into(),
            request_id: "id\0with nul".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), vec!["request_id".to_owned()]);
    assert_eq!(events(&mut c, &case.name).await, before, "nothing was stored");
    // Tabs and line breaks are text.
    let kept =
        pb::AddCaseNoteRequest { name: case.name.clone(), note: "line one\n\tline two".into(), ..Default::default() };
    c.add_case_note(kept).await.expect("a note of two lines");

    // A name is one line.
    let mut named = complaint("2019-07-01T09:00:00+08:00", Cat::Student);
    named.data_subjects[0].display_name = "Chan\nTai Man".into();
    named.reported_urls = vec!["https:///path".into(), "https://example.com:0/x".into()];
    let refused = c.create_case(pb::CreateCaseRequest { case: Some(named), request_id: String::new() }).await;
    let fields = violated_fields(&refused.unwrap_err());
    assert!(fields.contains(&"case.data_subjects[0].display_name".to_owned()), "{fields:?}");
    assert_eq!(fields.iter().filter(|f| f.starts_with("case.reported_urls[")).count(), 2, "{fields:?}");
    assert_eq!(count_cases(&mut c).await, 1, "nothing was stored");
    app.stop().await;
}
