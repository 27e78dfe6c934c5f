//! Erasure: a supervisor erases a case's personal data (PDPO DPP2(2)); what the figures count
//! stays, so that the statistics for any moment read the same after it. An erased case takes no
//! personal data again, a retry no longer gets it back, a search no longer finds the person, and a
//! referred case is kept until its referral ends.

mod common;

use common::*;
use doxwatch_kit::{
    identity::Identity,
    policy::Role,
    testing::{OfficerWith, TestDatabase, violated_fields},
};
use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use pb::{CaseStatus as S, DataSubjectCategory as Cat};
use tonic::Code;
use tonic_types::StatusExt;

backend_tests!(erasing_cases_leaves_no_personal_data_and_every_figure_as_it_was);

fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

async fn erasing_cases_leaves_no_personal_data_and_every_figure_as_it_was(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut officer = app.client.clone();
    let mut created = Vec::new();
    for i in 0..12 {
        let mut case =
            complaint("2019-08-01T10:00:00+08:00", if i % 3 == 0 { Cat::PoliceOfficer } else { Cat::Teacher });
        case.data_subjects[0].display_name = format!("Erasable Person {i:02}");
        case.data_subjects[0].contact = Some(pb::Contact { phone: format!("+852 5555 {i:04}"), ..Default::default() });
        let request = pb::CreateCaseRequest { case: Some(case), request_id: format!("erasure-{i}") };
        let case = officer.create_case(request).await.expect("created").into_inner();
        officer
            .add_case_note(pb::AddCaseNoteRequest {
                name: case.name.clone(),
                note: format!("spoke with person {i:02}"),
                ..Default::default()
            })
            .await
            .expect("a note");
        if i % 2 == 0 {
            // A second version of the subjects: both are erased.
            let mut changed = case.clone();
            changed.data_subjects[0].display_name = format!("Erasable Person {i:02} Renamed");
            let update = pb::UpdateCaseRequest {
                case: Some(changed),
                update_mask: Some(prost_types::FieldMask { paths: vec!["data_subjects".into()] }),
                request_id: String::new(),
            };
            officer.update_case(update).await.expect("updated");
        }
        if i % 4 == 1 {
            officer
                .transition_case(pb::TransitionCaseRequest {
                    name: case.name.clone(),
                    to_status: S::UnderAssessment as i32,
                    ..Default::default()
                })
                .await
                .expect("moved");
        }
        created.push(case);
    }
    let stats = |client: &mut Client| {
        let mut client = client.clone();
        async move {
            let request =
                pb::GetIntakeStatisticsRequest { as_of: Some(ts("2019-12-31T00:00:00+08:00")), recorded_before: None };
            client.get_intake_statistics(request).await.expect("the figures").into_inner()
        }
    };
    let before = stats(&mut officer).await;

    // Only a supervisor erases; a bad name is refused, naming it.
    let mut intake_officer =
        IntakeServiceClient::with_interceptor(app.channel.clone(), OfficerWith("chan", &[Role::IntakeOfficer]));
    let denied = intake_officer
        .erase_case(pb::EraseCaseRequest { name: created[1].name.clone(), request_id: String::new() })
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    let mut supervisor =
        IntakeServiceClient::with_interceptor(app.channel.clone(), OfficerWith("sup-kwok", &[Role::Supervisor]));
    let bad = supervisor
        .erase_case(pb::EraseCaseRequest { name: "cases/not-a-case".into(), request_id: String::new() })
        .await;
    assert_eq!(violated_fields(&bad.unwrap_err()), vec!["name".to_owned()]);

    // Half the cases erased.
    for case in created.iter().step_by(2).skip(1) {
        let erased = supervisor
            .erase_case(pb::EraseCaseRequest { name: case.name.clone(), request_id: String::new() })
            .await
            .expect("erased")
            .into_inner();
        assert!(erased.erase_time.is_some());
        assert_eq!((erased.summary.as_str(), erased.data_subjects[0].display_name.as_str()), ("", ""));
        assert!(erased.data_subjects[0].contact.is_none());
        assert_eq!(erased.data_subjects[0].category, case.data_subjects[0].category, "what the figures count stays");
        let complainant = erased.complainant.expect("the complainant's relationship stays");
        assert_eq!(
            (complainant.display_name.as_str(), complainant.relationship),
            ("", case.complainant.as_ref().map_or(0, |c| c.relationship))
        );
        assert_eq!(erased.status, case_status(&mut officer, &case.name).await);
    }
    assert_eq!(stats(&mut officer).await, before, "every figure as it was");

    // Nothing of the erased people is read back, found by a search, or given to a retry.
    let erased = &created[2];
    let events = officer
        .list_case_events(pb::ListCaseEventsRequest { name: erased.name.clone(), ..Default::default() })
        .await
        .expect("the timeline")
        .into_inner()
        .events;
    assert!(events.iter().all(|e| !e.note.contains("spoke with")), "{events:?}");
    assert_eq!(events.last().map(|e| e.note.as_str()), Some("personal data erased"));
    let search = |q: &str| pb::ListCasesRequest { data_subject: q.to_owned(), ..Default::default() };
    assert!(officer.list_cases(search("Erasable Person 02")).await.expect("searched").into_inner().cases.is_empty());
    assert!(officer.list_cases(search("+852 5555 0002")).await.expect("searched").into_inner().cases.is_empty());
    assert_eq!(
        officer.list_cases(search("Erasable Person 01")).await.expect("searched").into_inner().cases.len(),
        1,
        "the others are kept"
    );
    let mut again = complaint("2019-08-01T10:00:00+08:00", Cat::PoliceOfficer);
    again.data_subjects[0].display_name = "Erasable Person 02".into();
    again.data_subjects[0].contact = Some(pb::Contact { phone: "+852 5555 0002".into(), ..Default::default() });
    let retried =
        officer.create_case(pb::CreateCaseRequest { case: Some(again), request_id: "erasure-2".into() }).await;
    assert_ne!(retried.expect("a new request now").into_inner().name, erased.name, "the stored answer is gone");

    // An erased case takes no personal data again; erasing it again changes nothing.
    let note = officer
        .add_case_note(pb::AddCaseNoteRequest { name: erased.name.clone(), note: "more".into(), ..Default::default() })
        .await;
    assert_eq!(reason(&note.unwrap_err()), "CASE_ERASED");
    let twice =
        supervisor.erase_case(pb::EraseCaseRequest { name: erased.name.clone(), request_id: String::new() }).await;
    assert_eq!(
        twice.expect("erased again").into_inner().erase_time,
        officer.get_case(pb::GetCaseRequest { name: erased.name.clone() }).await.expect("read").into_inner().erase_time
    );

    // A referred case is erased too (the referral service keeps what the Police were sent until
    // the referral ends), and it still moves: the referral service's move keeps no words.
    let referred = &created[1];
    let mut referral = IntakeServiceClient::new(app.channel_as(&Identity::Service("referral")));
    referral
        .transition_case(pb::TransitionCaseRequest {
            name: referred.name.clone(),
            to_status: S::Referred as i32,
            ..Default::default()
        })
        .await
        .expect("referred");
    let erased_referred = supervisor
        .erase_case(pb::EraseCaseRequest { name: referred.name.clone(), request_id: String::new() })
        .await
        .expect("a referred case is erased")
        .into_inner();
    assert!(erased_referred.erase_time.is_some());
    assert_eq!(erased_referred.data_subjects[0].display_name, "");
    referral
        .transition_case(pb::TransitionCaseRequest {
            name: referred.name.clone(),
            to_status: S::UnderAssessment as i32,
            note: "referral withdrawn: Erasable Person 01 moved away".into(),
            ..Default::default()
        })
        .await
        .expect("an erased case still moves");
    referral
        .add_case_note(pb::AddCaseNoteRequest {
            name: referred.name.clone(),
            note: "outcome: Erasable Person 01".into(),
            ..Default::default()
        })
        .await
        .expect("the referral service's note is taken, without its words");
    let events = officer
        .list_case_events(pb::ListCaseEventsRequest { name: referred.name.clone(), ..Default::default() })
        .await
        .expect("timeline")
        .into_inner()
        .events;
    assert!(events.iter().all(|e| !e.note.contains("Erasable Person")), "no words kept: {events:?}");
    assert_eq!(case_status(&mut officer, &referred.name).await, S::UnderAssessment as i32);
    app.stop().await;
}

async fn case_status(client: &mut Client, name: &str) -> i32 {
    client.get_case(pb::GetCaseRequest { name: name.to_owned() }).await.expect("read").into_inner().status
}
