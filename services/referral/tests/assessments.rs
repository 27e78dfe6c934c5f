//! Assessments through gRPC, against real intake and link-tracking services: the decisions the
//! criteria support, supersession, the case's status in intake, and the cases that cannot be
//! assessed.

mod common;

use common::*;
use doxwatch_proto::{
    intake::{self as intake_pb, CaseStatus as CS},
    referral as pb,
};
use pb::Decision as D;
use tonic::Code;

backend_tests!(
    worker_threads = 4;
    decisions_the_criteria_do_not_support_are_refused,
    a_new_assessment_supersedes_the_current_one_and_moves_the_case,
    enquiries_unknown_cases_and_bad_input_are_refused,
    intake_down_makes_assessment_unavailable,
    request_ids_replay_the_first_assessment,
);

async fn decisions_the_criteria_do_not_support_are_refused(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    let at = "2019-08-05T10:00:00+08:00";
    let refused: Vec<(&str, D, pb::Criteria, &str)> = vec![
        (
            "no consent element",
            D::ReferToPolice,
            pb::Criteria { disclosed_without_consent: false, ..criteria() },
            "without consent",
        ),
        (
            "neither intent nor recklessness",
            D::ReferToPolice,
            pb::Criteria { intent_or_recklessness: pb::IntentOrRecklessness::Neither as i32, ..criteria() },
            "intent or recklessness",
        ),
        (
            "intent unknown",
            D::ProsecuteSummary,
            pb::Criteria { intent_or_recklessness: pb::IntentOrRecklessness::Unknown as i32, ..criteria() },
            "intent or recklessness",
        ),
        (
            "no Hong Kong nexus",
            D::ReferToPolice,
            pb::Criteria { hong_kong_nexus: intake_pb::HongKongNexus::Neither as i32, ..criteria() },
            "Hong Kong nexus",
        ),
        (
            "nexus unknown",
            D::ReferToPolice,
            pb::Criteria { hong_kong_nexus: intake_pb::HongKongNexus::Unknown as i32, ..criteria() },
            "Hong Kong nexus",
        ),
        ("no legal basis", D::ReferToPolice, pb::Criteria { legal_basis: vec![], ..criteria() }, "legal basis"),
        (
            "prosecution without the summary offence",
            D::ProsecuteSummary,
            pb::Criteria { legal_basis: vec![pb::LegalBasis::S641 as i32], ..criteria() },
            "S64_3A",
        ),
        (
            "s64(3C) without harm caused",
            D::ReferToPolice,
            pb::Criteria { harm_caused: vec![], ..criteria() },
            "harm caused",
        ),
    ];
    for (what, decision, c, because) in refused {
        let err = s.try_assess(&case, decision, at, c).await.unwrap_err();
        assert_eq!(violated_fields(&err), vec!["assessment.decision".to_owned()], "{what}");
        assert!(err.message().contains(because), "{what}: {}", err.message());
    }
    // NO_FURTHER_ACTION needs its reason.
    let no_reason = pb::Assessment {
        case: case.clone(),
        criteria: Some(criteria()),
        decision: D::NoFurtherAction as i32,
        ..Default::default()
    };
    let err = s
        .referral
        .create_assessment(pb::CreateAssessmentRequest { assessment: Some(no_reason), request_id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["assessment.reason".to_owned()]);

    // Nothing was stored, and the case was not touched.
    let listed = s
        .referral
        .list_assessments(pb::ListAssessmentsRequest { case: case.clone(), ..Default::default() })
        .await
        .unwrap();
    assert!(listed.into_inner().assessments.is_empty());
    assert_eq!(s.case(&case).await.status, CS::Received as i32);

    // Decisions the criteria support, including those that need no criteria.
    let weak = pb::Criteria { disclosed_without_consent: false, legal_basis: vec![], ..criteria() };
    s.try_assess(&case, D::MoreInformationNeeded, at, weak.clone()).await.expect("more information needs no criteria");
    s.try_assess(&case, D::NoFurtherAction, at, weak).await.expect("no further action needs no criteria");
    s.try_assess(&case, D::ProsecuteSummary, at, criteria()).await.expect("every element found");
    s.stop().await;
}

async fn a_new_assessment_supersedes_the_current_one_and_moves_the_case(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;

    let first = s.assess(&case, D::MoreInformationNeeded, "2019-08-03T10:00:00+08:00").await;
    assert!(first.supersedes.is_empty() && first.superseded_by.is_empty());
    assert_eq!(first.assessor, "officer-lam");
    assert_eq!(s.case_status_eventually(&case, CS::UnderAssessment).await, CS::UnderAssessment);

    let second = s.assess(&case, D::ReferToPolice, "2019-08-10T10:00:00+08:00").await;
    assert_eq!(second.supersedes, first.name);
    let first_now =
        s.referral.get_assessment(pb::GetAssessmentRequest { name: first.name.clone() }).await.unwrap().into_inner();
    assert_eq!(first_now.superseded_by, second.name);
    assert_eq!(first_now.decision, D::MoreInformationNeeded as i32, "an assessment is never edited");

    // A new assessment cannot be dated before the one it supersedes.
    let err = s.try_assess(&case, D::NoFurtherAction, "2019-08-09T10:00:00+08:00", criteria()).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["assessment.assessed_at".to_owned()]);

    // NO_FURTHER_ACTION closes the case with its reason; a later referral decision reopens it;
    // a decision to prosecute is a note on the case's timeline.
    let third = s.assess(&case, D::NoFurtherAction, "2019-08-12T10:00:00+08:00").await;
    assert_eq!(s.case_status_eventually(&case, CS::Closed).await, CS::Closed);
    let closed = s.case(&case).await;
    assert_eq!(closed.closure_reason, intake_pb::ClosureReason::NoPrimaFacieCase as i32);
    s.assess(&case, D::ProsecuteSummary, "2019-08-20T10:00:00+08:00").await;
    assert_eq!(s.case_status_eventually(&case, CS::UnderAssessment).await, CS::UnderAssessment);
    assert_eq!(s.outbox_settled().await.rejected, 0, "every effect was accepted by intake");

    let events = s.case_events(&case).await;
    let moves: Vec<(i32, String)> = events
        .iter()
        .filter(|e| e.kind == intake_pb::CaseEventKind::StatusChanged as i32)
        .map(|e| (e.to_status, e.occurred_at.as_ref().map(|t| t.seconds.to_string()).unwrap_or_default()))
        .collect();
    assert_eq!(
        moves.iter().map(|m| m.0).collect::<Vec<_>>(),
        vec![CS::UnderAssessment as i32, CS::Closed as i32, CS::UnderAssessment as i32]
    );
    let closing = events.iter().find(|e| e.to_status == CS::Closed as i32).unwrap();
    assert_eq!(closing.note, "no evidence of intent");
    assert_eq!(closing.occurred_at, third.assessed_at, "moves happen at the assessment's business time");
    assert_eq!(closing.actor, "service:referral");
    let note = events.iter().find(|e| e.kind == intake_pb::CaseEventKind::Note as i32).expect("a note");
    assert!(note.note.contains("prosecute the summary offence"), "{}", note.note);

    let all = s
        .referral
        .list_assessments(pb::ListAssessmentsRequest { case: case.clone(), ..Default::default() })
        .await
        .unwrap();
    let names: Vec<String> = all.into_inner().assessments.into_iter().map(|a| a.name).collect();
    assert_eq!(names.len(), 4);
    assert_eq!(names[..3], [first.name, second.name, third.name]);
    s.stop().await;
}

async fn enquiries_unknown_cases_and_bad_input_are_refused(stores: Stores) {
    let mut s = start(&stores).await;
    let enquiry = s.case_of(intake_pb::CaseKind::Enquiry, "2019-08-01T10:00:00+08:00", &[]).await;
    let err = s.try_assess(&enquiry, D::NoFurtherAction, "2019-08-02T10:00:00+08:00", criteria()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let unknown = "cases/01900000-0000-7000-8000-0000000000ff";
    let err = s.try_assess(unknown, D::ReferToPolice, "2019-08-02T10:00:00+08:00", criteria()).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["assessment.case".to_owned()]);

    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    let err = s.try_assess(&case, D::ReferToPolice, "2019-07-31T10:00:00+08:00", criteria()).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["assessment.assessed_at".to_owned()], "not before the case was received");

    let bad = pb::Assessment {
        case: "not-a-case".into(),
        criteria: Some(pb::Criteria {
            harms_intended: vec![intake_pb::Harm::Threat as i32, intake_pb::Harm::Threat as i32],
            legal_basis: vec![99],
            ..Default::default()
        }),
        assessed_at: Some(ts("2999-01-01T00:00:00Z")),
        ..Default::default()
    };
    let err = s
        .referral
        .create_assessment(pb::CreateAssessmentRequest { assessment: Some(bad), request_id: String::new() })
        .await
        .unwrap_err();
    let mut fields = violated_fields(&err);
    fields.sort();
    assert_eq!(
        fields,
        [
            "assessment.assessed_at",
            "assessment.case",
            "assessment.criteria.discloser",
            "assessment.criteria.harms_intended[1]",
            "assessment.criteria.hong_kong_nexus",
            "assessment.criteria.intent_or_recklessness",
            "assessment.criteria.legal_basis[0]",
            "assessment.decision",
        ]
    );

    let err = s
        .officer(None)
        .create_assessment(pb::CreateAssessmentRequest {
            assessment: Some(pb::Assessment {
                case,
                criteria: Some(criteria()),
                decision: D::ReferToPolice as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = s
        .referral
        .get_assessment(pb::GetAssessmentRequest { name: "assessments/01900000-0000-7000-8000-0000000000ff".into() })
        .await;
    assert_eq!(err.unwrap_err().code(), Code::NotFound);
    s.stop().await;
}

async fn intake_down_makes_assessment_unavailable(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    s.stop_intake().await;
    let err = s.try_assess(&case, D::ReferToPolice, "2019-08-02T10:00:00+08:00", criteria()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let listed = s.referral.list_assessments(pb::ListAssessmentsRequest::default()).await.unwrap().into_inner();
    assert!(listed.assessments.is_empty(), "nothing is stored when the case cannot be checked");

    s.restart_intake(&stores).await;
    s.assess(&case, D::ReferToPolice, "2019-08-02T10:00:00+08:00").await;
    assert_eq!(s.case_status_eventually(&case, CS::UnderAssessment).await, CS::UnderAssessment);
    s.stop().await;
}

async fn request_ids_replay_the_first_assessment(stores: Stores) {
    let mut s = start(&stores).await;
    let case = s.complaint("2019-08-01T10:00:00+08:00").await;
    let request = pb::CreateAssessmentRequest {
        assessment: Some(pb::Assessment {
            case: case.clone(),
            criteria: Some(criteria()),
            decision: D::ReferToPolice as i32,
            assessed_at: Some(ts("2019-08-02T10:00:00+08:00")),
            ..Default::default()
        }),
        request_id: "assess-once".into(),
    };
    let first = s.referral.create_assessment(request.clone()).await.unwrap().into_inner();
    let again = s.referral.create_assessment(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    let mut other = request.clone();
    other.assessment.as_mut().unwrap().decision = D::MoreInformationNeeded as i32;
    assert_eq!(s.referral.create_assessment(other).await.unwrap_err().code(), Code::Aborted);

    // Replayed even while intake is down.
    s.stop_intake().await;
    assert_eq!(s.referral.create_assessment(request).await.unwrap().into_inner(), first);
    let listed = s.referral.list_assessments(pb::ListAssessmentsRequest { case, ..Default::default() }).await.unwrap();
    assert_eq!(listed.into_inner().assessments.len(), 1);
    s.stop().await;
}
