//! The audit log, through real gRPC on both backends: every read and write of a case's personal
//! data and every refused call leaves a record of who, what, why and from where; an auditor lists
//! and filters them; the chain and the signed checkpoints verify, and every kind of tampering
//! with the store is named by the verifier.

use doxwatch_kit::{
    audit::{self, Broken, VerifyError},
    backend_tests,
    db::Db,
    identity::Identity,
    on_pool,
    policy::Role,
    testing::{OfficerWith, Running, TEST_CLIENT, TEST_PURPOSE, TestDatabase, pki, ts},
};
use doxwatch_proto::{
    intake as pb,
    ops::{
        AuditAccess, AuditCheckpoint, AuditRecord, ListAuditRecordsRequest, SignAuditCheckpointRequest,
        audit_service_client::AuditServiceClient,
    },
};
use doxwatch_suite_tests::*;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};
use tonic_types::StatusExt;

type Auditor = AuditServiceClient<InterceptedService<Channel, OfficerWith>>;

fn auditor(service: &Running) -> Auditor {
    AuditServiceClient::with_interceptor(
        service.channel_as(&Identity::Officer(TEST_CLIENT.to_owned())),
        OfficerWith("auditor-lam", &[Role::Auditor]),
    )
}

fn a_case(summary: &str) -> pb::Case {
    pb::Case {
        kind: pb::CaseKind::Complaint as i32,
        received_at: Some(ts("2019-07-01T09:00:00+08:00")),
        channel: pb::IntakeChannel::Email as i32,
        summary: summary.into(),
        data_subjects: vec![pb::DataSubject {
            display_name: "Chan Tai Man".into(),
            category: pb::DataSubjectCategory::PoliceOfficer as i32,
            hong_kong_nexus: pb::HongKongNexus::Resident as i32,
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn records(client: &mut Auditor, filter: ListAuditRecordsRequest) -> Vec<AuditRecord> {
    let mut all = Vec::new();
    let mut request = filter;
    loop {
        let page = client.list_audit_records(request.clone()).await.expect("an auditor lists records").into_inner();
        all.extend(page.records);
        if page.next_page_token.is_empty() {
            return all;
        }
        request.page_token = page.next_page_token;
    }
}

async fn verify(client: &mut Auditor, kept: Vec<AuditCheckpoint>) -> Result<audit::Verified, VerifyError> {
    audit::verify_remote(client, &pki().audit_public_key("intake"), "intake", kept).await
}

async fn every_read_and_write_of_a_case_and_every_refused_call_is_recorded(db: TestDatabase) {
    let links_db = TestDatabase::sqlite();
    let links_service = start_links(&links_db, ANY_PORT).await;
    let service = start_intake(&db, &links_service.url()).await;
    let mut officer = intake(&service);
    let case = officer
        .create_case(pb::CreateCaseRequest { case: Some(a_case("An audited complaint")), request_id: String::new() })
        .await
        .expect("the case is created")
        .into_inner();
    officer.get_case(pb::GetCaseRequest { name: case.name.clone() }).await.expect("the officer reads it");
    officer.list_cases(pb::ListCasesRequest::default()).await.expect("the officer lists cases");

    // A read without a purpose is refused, and so is a role that may not read cases.
    let channel = service.channel_as(&Identity::Officer(TEST_CLIENT.to_owned()));
    let mut request = tonic::Request::new(pb::GetCaseRequest { name: case.name.clone() });
    let token = doxwatch_kit::testing::officer_token("officer-ho", doxwatch_kit::testing::OFFICER_ROLES);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let refused = pb::intake_service_client::IntakeServiceClient::new(channel.clone()).get_case(request).await;
    let status = refused.expect_err("no purpose, no read");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.get_error_details().error_info().map(|i| i.reason.as_str()), Some("PURPOSE_REQUIRED"));
    let mut reader = pb::intake_service_client::IntakeServiceClient::with_interceptor(
        channel,
        OfficerWith("reader-yip", &[Role::ReportReader]),
    );
    let status = reader.get_case(pb::GetCaseRequest { name: case.name.clone() }).await.expect_err("a report reader");
    assert_eq!(status.code(), Code::PermissionDenied);

    let mut client = auditor(&service);
    let log = records(&mut client, ListAuditRecordsRequest::default()).await;
    let summary: Vec<(&str, i32, &str, &str)> = log
        .iter()
        .map(|r| (r.method.rsplit('/').next().unwrap_or(""), r.access, r.officer_id.as_str(), r.outcome.as_str()))
        .collect();
    let (read, write, denied) = (AuditAccess::Read as i32, AuditAccess::Write as i32, AuditAccess::Denied as i32);
    assert_eq!(
        summary,
        vec![
            ("CreateCase", write, "officer-wong", "OK"),
            ("GetCase", read, "officer-wong", "OK"),
            ("ListCases", read, "officer-wong", "OK"),
            ("GetCase", denied, "officer-ho", "PURPOSE_REQUIRED"),
            ("GetCase", denied, "reader-yip", "PERMISSION_DENIED"),
        ],
        "{log:#?}"
    );
    let get = &log[1];
    assert_eq!(get.resources, vec![case.name.clone()]);
    assert!(get.fields.iter().any(|f| f == "data_subjects"), "{:?}", get.fields);
    assert_eq!(get.purpose, TEST_PURPOSE);
    assert_eq!(get.identity, format!("spiffe://doxwatch/officer/{TEST_CLIENT}"));
    assert!(get.peer_address.starts_with("127.0.0.1:"), "{}", get.peer_address);
    assert!(log.iter().all(|r| !format!("{r:?}").contains("Chan Tai Man")), "no personal data in the log");
    assert_eq!((log[0].sequence, log[4].sequence), (1, 5));

    // Filters: by resource, officer and kind of access.
    let of_case =
        records(&mut client, ListAuditRecordsRequest { resource: case.name.clone(), ..Default::default() }).await;
    assert_eq!(of_case.iter().map(|r| r.sequence).collect::<Vec<_>>(), vec![1, 2, 3]);
    let refusals = records(
        &mut client,
        ListAuditRecordsRequest {
            access: AuditAccess::Denied as i32,
            officer_id: "reader-yip".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(refusals.iter().map(|r| r.sequence).collect::<Vec<_>>(), vec![5]);
    let bad = client
        .list_audit_records(ListAuditRecordsRequest { page_size: -1, ..Default::default() })
        .await
        .expect_err("a negative page size");
    assert_eq!(bad.code(), Code::InvalidArgument);

    // The log verifies against the service's public key, with a checkpoint the auditor keeps.
    let kept = client.sign_audit_checkpoint(SignAuditCheckpointRequest {}).await.expect("a checkpoint").into_inner();
    assert_eq!((kept.service.as_str(), kept.record_count), ("intake", 5));
    assert_eq!(kept.head_hash, log[4].hash);
    let verified = verify(&mut client, vec![kept.clone()]).await.expect("an intact log verifies");
    assert_eq!(verified.records, 5);
    // Reading the audit log is not itself a read of personal data.
    assert_eq!(records(&mut client, ListAuditRecordsRequest::default()).await.len(), 5);

    // Only auditors and supervisors read the log; an officer who reads cases may not.
    let mut nosy = AuditServiceClient::with_interceptor(
        service.channel_as(&Identity::Officer(TEST_CLIENT.to_owned())),
        OfficerWith("officer-wong", &[Role::IntakeOfficer]),
    );
    let status = nosy.list_audit_records(ListAuditRecordsRequest::default()).await.expect_err("not an auditor");
    assert_eq!(status.code(), Code::PermissionDenied);

    // The log grows; the kept checkpoint still verifies it (the log only grew since).
    officer.get_case(pb::GetCaseRequest { name: case.name.clone() }).await.unwrap();
    assert_eq!(verify(&mut client, vec![kept.clone()]).await.expect("a grown log verifies").records, 7);

    // Tampering with the store, as someone with database access would.
    let store = Db::connect(db.url(), 2, doxwatch_intake::MIGRATIONS).await.expect("the intake store");
    let exec = |sql: &'static str| {
        let store = store.clone();
        async move {
            on_pool!(store.write(), p => { sqlx::query(sql).execute(p).await.expect(sql); });
        }
    };
    exec("UPDATE audit_records SET purpose = 'nothing to see' WHERE seq = 2").await;
    assert!(matches!(verify(&mut client, vec![]).await, Err(VerifyError::Broken(Broken::Changed(2)))));
    exec("UPDATE audit_records SET purpose = 'test of the suite' WHERE seq = 2").await;
    assert!(verify(&mut client, vec![]).await.is_ok(), "restored, it verifies again");

    exec("DELETE FROM audit_records WHERE seq = 3").await;
    assert!(matches!(verify(&mut client, vec![]).await, Err(VerifyError::Broken(Broken::Missing(3, 4)))));

    // Removing the newest records and rewinding the head hides them from the chain, not from the
    // checkpoint the auditor kept.
    exec("DELETE FROM audit_records WHERE seq >= 3").await;
    exec("UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_records WHERE seq = 2)").await;
    assert!(matches!(verify(&mut client, vec![kept.clone()]).await, Err(VerifyError::Broken(Broken::Truncated(2, 5)))));
    store.close().await;

    // A checkpoint signed with another key is refused.
    let mut forged = kept;
    forged.signature[0] ^= 1;
    assert!(matches!(verify(&mut client, vec![forged]).await, Err(VerifyError::Broken(Broken::BadSignature(5, _)))));

    service.stop().await;
    links_service.stop().await;
}

backend_tests!(
    every_read_and_write_of_a_case_and_every_refused_call_is_recorded,
    retried_answers_missing_cases_and_link_notes_are_reads_too
);

/// Reads that give personal data without loading a case are recorded too: a retry answered from
/// the stored answer, a look for a case that is not there, and the notes of a link's checks.
async fn retried_answers_missing_cases_and_link_notes_are_reads_too(db: TestDatabase) {
    use doxwatch_proto::links as links_pb;
    let links_db = TestDatabase::sqlite();
    let links_service = start_links(&links_db, ANY_PORT).await;
    let service = start_intake(&db, &links_service.url()).await;
    let mut officer = intake(&service);
    let request = pb::CreateCaseRequest { case: Some(a_case("Recorded once")), request_id: "audit-retry-1".into() };
    officer.create_case(request.clone()).await.expect("recorded");
    officer.create_case(request).await.expect("the retry is answered");
    let missing = "cases/0190f1c2-3b4d-7e5f-8a6b-000000000000";
    let refused = officer.get_case(pb::GetCaseRequest { name: missing.into() }).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);

    let mut auditor_of_intake = auditor(&service);
    let all = records(&mut auditor_of_intake, ListAuditRecordsRequest::default()).await;
    let replayed: Vec<&AuditRecord> = all.iter().filter(|r| r.outcome == "REPLAYED").collect();
    assert_eq!(replayed.len(), 1, "{all:?}");
    assert_eq!(replayed[0].resources, vec!["requests/audit-retry-1".to_owned()]);
    assert!(replayed[0].method.ends_with("/CreateCase") && replayed[0].access == AuditAccess::Read as i32);
    let not_found: Vec<&AuditRecord> = all.iter().filter(|r| r.outcome == "NOT_FOUND").collect();
    assert_eq!(not_found.iter().map(|r| r.resources.clone()).collect::<Vec<_>>(), vec![vec![missing.to_owned()]]);
    assert_eq!(not_found[0].purpose, TEST_PURPOSE);

    let mut wong = links(&links_service);
    let link = wong
        .register_links(links_pb::RegisterLinksRequest {
            registrations: vec![links_pb::LinkRegistration {
                url: "https://t.me/auditchannel/1".into(),
                case: "cases/0190f1c2-3b4d-7e5f-8a6b-000000000001".into(),
                seen_at: Some(ts("2019-07-01T10:00:00+08:00")),
            }],
            request_id: String::new(),
        })
        .await
        .expect("registered")
        .into_inner()
        .results
        .remove(0)
        .link
        .expect("a link");
    wong.list_observations(links_pb::ListObservationsRequest { link: link.name.clone(), ..Default::default() })
        .await
        .expect("the checks");
    let mut auditor_of_links = auditor(&links_service);
    let reads = records(
        &mut auditor_of_links,
        ListAuditRecordsRequest { resource: link.name.clone(), access: AuditAccess::Read as i32, ..Default::default() },
    )
    .await;
    assert_eq!(reads.iter().map(|r| r.fields.clone()).collect::<Vec<_>>(), vec![vec!["observation_notes".to_owned()]]);
    service.stop().await;
    links_service.stop().await;
}
