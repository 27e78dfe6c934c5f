//! Need-to-know: a case belongs to its recording officer's team. Officers of other teams see it
//! redacted (what kind of case, how many subjects of which categories, its status and links, but
//! not whose) unless they break the glass, which the audit log marks for a supervisor's review.
//! Supervisors assign cases to teams and officers; no one else can.

mod common;

use common::*;
use doxwatch_kit::{
    policy::Role,
    testing::{OfficerWith, TeamOfficer, TestDatabase, violated_fields},
};
use doxwatch_proto::{
    intake::{self as pb, intake_service_client::IntakeServiceClient},
    ops::{self as ops, audit_service_client::AuditServiceClient},
};
use pb::DataSubjectCategory as Cat;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};

backend_tests!(
    other_teams_see_a_case_redacted_unless_they_break_the_glass,
    supervisors_assign_cases_and_nobody_else_can,
    a_case_a_supervisor_records_is_their_team_s,
    many_reads_of_other_teams_cases_in_a_day_are_flagged
);

type TeamClient = IntakeServiceClient<InterceptedService<Channel, TeamOfficer>>;

const NAME: &str = "Yeung Hoi Ying";
const SUMMARY: &str = "Her home address and her son's school were posted";
const NOTE: &str = "Called her at work";

fn officer(app: &TestApp, id: &'static str, team: &'static str, break_glass: bool) -> TeamClient {
    let roles: &'static [Role] = &[Role::IntakeOfficer];
    IntakeServiceClient::with_interceptor(app.channel.clone(), TeamOfficer { id, team, roles, break_glass })
}

async fn recorded(client: &mut TeamClient) -> pb::Case {
    let mut case = complaint("2019-08-01T10:00:00+08:00", Cat::PoliceOfficer);
    case.summary = SUMMARY.to_owned();
    case.data_subjects[0].display_name = NAME.to_owned();
    let request = pb::CreateCaseRequest { case: Some(case), request_id: String::new() };
    let created = client.create_case(request).await.expect("created").into_inner();
    client
        .add_case_note(pb::AddCaseNoteRequest { name: created.name.clone(), note: NOTE.into(), ..Default::default() })
        .await
        .expect("a note");
    created
}

async fn get(client: &mut TeamClient, name: &str) -> pb::Case {
    client.get_case(pb::GetCaseRequest { name: name.to_owned() }).await.expect("read").into_inner()
}

async fn notes(client: &mut TeamClient, name: &str) -> Vec<String> {
    let request = pb::ListCaseEventsRequest { name: name.to_owned(), ..Default::default() };
    let events = client.list_case_events(request).await.expect("the timeline").into_inner().events;
    events.into_iter().map(|e| e.note).collect()
}

/// The audit records of reads of `case`: (officer, outcome, fields).
async fn reads_of(app: &TestApp, case: &str) -> Vec<(String, String, Vec<String>)> {
    let mut auditor =
        AuditServiceClient::with_interceptor(app.channel.clone(), OfficerWith("auditor-ho", &[Role::Auditor]));
    let request = ops::ListAuditRecordsRequest {
        resource: case.to_owned(),
        access: ops::AuditAccess::Read as i32,
        page_size: 1000,
        ..Default::default()
    };
    let records = auditor.list_audit_records(request).await.expect("the log").into_inner().records;
    records.into_iter().map(|r| (r.officer_id, r.outcome, r.fields)).collect()
}

async fn other_teams_see_a_case_redacted_unless_they_break_the_glass(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut chan = officer(&app, "chan", "intake-1", false);
    let case = recorded(&mut chan).await;
    assert_eq!((case.team.as_str(), case.redacted), ("intake-1", false), "the recording officer's team");

    // The team sees it whole.
    let mut lee = officer(&app, "lee", "intake-1", false);
    let seen = get(&mut lee, &case.name).await;
    assert_eq!((seen.summary.as_str(), seen.data_subjects[0].display_name.as_str()), (SUMMARY, NAME));
    assert!(!seen.redacted);

    // Another team sees what kind of case it is, not whose.
    let mut wong = officer(&app, "wong", "intake-2", false);
    let redacted = get(&mut wong, &case.name).await;
    assert!(redacted.redacted);
    assert_eq!((redacted.summary.as_str(), redacted.data_subjects[0].display_name.as_str()), ("", ""));
    assert!(redacted.data_subjects[0].contact.is_none());
    assert_eq!(redacted.data_subjects[0].category, Cat::PoliceOfficer as i32);
    assert_eq!(redacted.complainant.as_ref().map(|c| c.display_name.as_str()), Some(""));
    assert_eq!((redacted.status, redacted.reported_urls.clone()), (case.status, case.reported_urls.clone()));
    let listed = wong.list_cases(pb::ListCasesRequest::default()).await.expect("listed").into_inner().cases;
    assert!(listed.iter().all(|c| c.redacted && c.summary.is_empty()), "{listed:?}");
    assert!(!notes(&mut wong, &case.name).await.contains(&NOTE.to_owned()), "notes are withheld too");
    // A search by name still finds the case: "this person has a case with another team".
    let found = wong
        .list_cases(pb::ListCasesRequest { data_subject: NAME.to_owned(), ..Default::default() })
        .await
        .expect("searched")
        .into_inner()
        .cases;
    assert_eq!(
        found.iter().map(|c| (c.name.as_str(), c.redacted)).collect::<Vec<_>>(),
        vec![(case.name.as_str(), true)]
    );

    // Breaking the glass gives it all, and says so in the log.
    let mut urgent = officer(&app, "wong", "intake-2", true);
    let whole = get(&mut urgent, &case.name).await;
    assert_eq!((whole.summary.as_str(), whole.redacted), (SUMMARY, false));
    assert!(notes(&mut urgent, &case.name).await.contains(&NOTE.to_owned()));

    let reads = reads_of(&app, &case.name).await;
    let outcomes = |officer: &str| -> Vec<(String, bool)> {
        reads
            .iter()
            .filter(|(o, _, _)| o == officer)
            .map(|(_, outcome, fields)| (outcome.clone(), fields.is_empty()))
            .collect()
    };
    assert_eq!(outcomes("lee"), vec![("OK".to_owned(), false)]);
    let wong_reads = outcomes("wong");
    assert!(wong_reads.contains(&("REDACTED".to_owned(), true)), "{wong_reads:?}");
    assert!(wong_reads.contains(&("BREAK_GLASS".to_owned(), false)), "{wong_reads:?}");
    assert!(!wong_reads.contains(&("OK".to_owned(), false)), "wong never read it by right: {wong_reads:?}");

    // A supervisor's review: only the flagged records, each with what to look at.
    let mut auditor =
        AuditServiceClient::with_interceptor(app.channel.clone(), OfficerWith("sup-kwok", &[Role::Supervisor]));
    let request = ops::ListAuditRecordsRequest { flagged: true, page_size: 1000, ..Default::default() };
    let flagged = auditor.list_audit_records(request).await.expect("the review").into_inner().records;
    assert!(!flagged.is_empty() && flagged.iter().all(|r| r.officer_id == "wong"), "{flagged:?}");
    let flags: Vec<&str> = flagged.iter().flat_map(|r| r.flags.iter().map(String::as_str)).collect();
    assert!(flags.contains(&"BREAK_GLASS") && flags.contains(&"OUTSIDE_TEAM"), "{flags:?}");

    // Fifty cases read in one call is a bulk read, flagged whoever reads them.
    for _ in 0..50 {
        recorded(&mut lee).await;
    }
    let page = lee.list_cases(pb::ListCasesRequest { page_size: 60, ..Default::default() }).await.expect("listed");
    assert_eq!(page.into_inner().cases.len(), 51);
    let request = ops::ListAuditRecordsRequest { flagged: true, officer_id: "lee".into(), ..Default::default() };
    let bulk = auditor.list_audit_records(request).await.expect("the review").into_inner().records;
    assert_eq!(
        bulk.iter().map(|r| (r.method.as_str(), r.flags.clone())).collect::<Vec<_>>(),
        vec![("/doxwatch.intake.v1.IntakeService/ListCases", vec!["BULK_READ".to_owned()])]
    );
    app.stop().await;
}

async fn a_case_a_supervisor_records_is_their_team_s(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let roles: &'static [Role] = &[Role::Supervisor];
    let mut supervisor = IntakeServiceClient::with_interceptor(
        app.channel.clone(),
        TeamOfficer { id: "sup-kwok", team: "intake-1", roles, break_glass: false },
    );
    let case = supervisor
        .create_case(pb::CreateCaseRequest {
            case: Some(complaint("2019-08-01T10:00:00+08:00", Cat::PoliceOfficer)),
            request_id: String::new(),
        })
        .await
        .expect("created")
        .into_inner();
    assert_eq!(case.team, "intake-1", "the supervisor's own team, not no team");
    assert!(!get(&mut officer(&app, "chan", "intake-1", false), &case.name).await.redacted, "the team sees it");
    let seen = get(&mut officer(&app, "lee", "intake-2", false), &case.name).await;
    assert!(seen.redacted && seen.data_subjects[0].display_name.is_empty(), "another team does not: {seen:?}");
    app.stop().await;
}

async fn supervisors_assign_cases_and_nobody_else_can(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut chan = officer(&app, "chan", "intake-1", false);
    let case = recorded(&mut chan).await;
    let assign = |team: &str, officer: &str| pb::AssignCaseRequest {
        name: case.name.clone(),
        team: team.to_owned(),
        assigned_officer: officer.to_owned(),
        request_id: String::new(),
    };

    let refused = chan.assign_case(assign("intake-1", "")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let mut supervisor =
        IntakeServiceClient::with_interceptor(app.channel.clone(), OfficerWith("sup-kwok", &[Role::Supervisor]));
    for (team, officer, field) in [
        ("", "", "team"),
        ("Intake 2", "", "team"),
        (&"t".repeat(65) as &str, "", "team"),
        ("intake-2", "a\u{7}b", "assigned_officer"),
    ] {
        let bad = supervisor.assign_case(assign(team, officer)).await.unwrap_err();
        assert_eq!(violated_fields(&bad), vec![field.to_owned()], "{team:?} {officer:?}");
    }
    assert_eq!(get(&mut chan, &case.name).await.team, "intake-1", "a refused assignment changes nothing");

    // Moved to another team, with chan kept on it by name.
    let moved = supervisor.assign_case(assign("intake-2", "chan")).await.expect("assigned").into_inner();
    assert_eq!((moved.team.as_str(), moved.assigned_officer.as_str()), ("intake-2", "chan"));
    let mut wong = officer(&app, "wong", "intake-2", false);
    assert!(!get(&mut wong, &case.name).await.redacted, "the new team sees it");
    assert!(!get(&mut chan, &case.name).await.redacted, "the assigned officer sees it");
    let mut lee = officer(&app, "lee", "intake-1", false);
    assert!(get(&mut lee, &case.name).await.redacted, "the old team no longer does");
    let events = supervisor
        .list_case_events(pb::ListCaseEventsRequest { name: case.name.clone(), ..Default::default() })
        .await
        .expect("the timeline")
        .into_inner()
        .events;
    let last = events.last().expect("an event");
    assert_eq!(
        (last.kind, last.note.as_str()),
        (pb::CaseEventKind::Updated as i32, "assigned to team intake-2, officer chan")
    );
    // An update by an officer outside the team answers redacted.
    let mut changed = case.clone();
    changed.summary = "Posted again on another forum".into();
    let request = pb::UpdateCaseRequest {
        case: Some(changed),
        update_mask: Some(prost_types::FieldMask { paths: vec!["summary".into()] }),
        request_id: String::new(),
    };
    let answered = lee.update_case(request).await.expect("updated").into_inner();
    assert!(answered.redacted && answered.summary.is_empty());
    app.stop().await;
}

async fn many_reads_of_other_teams_cases_in_a_day_are_flagged(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut chan = officer(&app, "chan", "intake-1", false);
    let mut cases = Vec::new();
    for _ in 0..23 {
        cases.push(recorded(&mut chan).await.name);
    }
    // An officer of another team reads them one by one: the first 20 in a day pass unremarked
    // (each is still OUTSIDE_TEAM), every one after that is flagged for the rate too.
    let mut wong = officer(&app, "wong", "intake-2", false);
    for name in &cases {
        assert!(get(&mut wong, name).await.redacted);
    }
    // The team's own reads are never flagged, however many.
    let mut lee = officer(&app, "lee", "intake-1", false);
    for name in &cases {
        assert!(!get(&mut lee, name).await.redacted);
    }
    let mut supervisor =
        AuditServiceClient::with_interceptor(app.channel.clone(), OfficerWith("sup-kwok", &[Role::Supervisor]));
    let request = ops::ListAuditRecordsRequest { officer_id: "wong".into(), page_size: 1000, ..Default::default() };
    let records = supervisor.list_audit_records(request).await.expect("the log").into_inner().records;
    let gets: Vec<&ops::AuditRecord> = records.iter().filter(|r| r.method.ends_with("/GetCase")).collect();
    assert_eq!(gets.len(), 23);
    let rated: Vec<bool> = gets.iter().map(|r| r.flags.contains(&"MANY_OUTSIDE_TEAM".to_owned())).collect();
    assert_eq!(rated, [vec![false; 20], vec![true; 3]].concat(), "{gets:?}");
    assert!(gets.iter().all(|r| r.flags.contains(&"OUTSIDE_TEAM".to_owned())));
    // A page that starts late in the day still counts the reads before it.
    let late = ops::ListAuditRecordsRequest {
        officer_id: "wong".into(),
        page_token: String::new(),
        page_size: 1,
        recorded_after: gets[21].record_time,
        ..Default::default()
    };
    let page = supervisor.list_audit_records(late).await.expect("a page").into_inner().records;
    assert!(page[0].flags.contains(&"MANY_OUTSIDE_TEAM".to_owned()), "{page:?}");
    let request = ops::ListAuditRecordsRequest { officer_id: "lee".into(), flagged: true, ..Default::default() };
    let lee_flagged = supervisor.list_audit_records(request).await.expect("the log").into_inner().records;
    assert!(lee_flagged.is_empty(), "{lee_flagged:?}");
    app.stop().await;
}
