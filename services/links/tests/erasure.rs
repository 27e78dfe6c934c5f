//! Erasure of a case's evidence: a link that only erased cases cite loses its evidence bytes and
//! the officers' words about it, keeping its records (and every figure); a link another case still
//! cites keeps everything; bytes another link still needs stay. On the local evidence store and
//! the S3 one.

mod common;

use common::*;
use doxwatch_proto::links as pb;
use tonic::Code;
use tonic_types::StatusExt;

evidence_tests!(erasing_a_case_erases_the_evidence_only_its_links_hold);

const SEEN: &str = "2019-10-01T10:00:00+08:00";

async fn capture(client: &mut Client, link: &str, bytes: &[u8]) -> pb::Evidence {
    let metadata = pb::EvidenceMetadata {
        link: link.to_owned(),
        media_type: "text/html".to_owned(),
        captured_at: Some(ts("2019-10-02T09:30:00+08:00")),
        note: "shows Chan Tai Man's address".to_owned(),
        request_id: String::new(),
    };
    let messages = vec![
        pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Metadata(metadata)) },
        pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Chunk(bytes.to_vec())) },
    ];
    client.add_evidence(tokio_stream::iter(messages)).await.expect("captured").into_inner()
}

async fn erase(client: &mut Client, case: &str) -> pb::EraseCaseDataResponse {
    client
        .erase_case_data(pb::EraseCaseDataRequest {
            case: case.to_owned(),
            erase_time: Some(ts("2026-01-01T00:00:00Z")),
            request_id: format!("erase {case}"),
        })
        .await
        .expect("erased")
        .into_inner()
}

async fn custody(client: &mut Client, evidence: &str) -> Vec<pb::CustodyEvent> {
    client
        .list_custody_events(pb::ListCustodyEventsRequest { evidence: evidence.to_owned(), ..Default::default() })
        .await
        .expect("custody")
        .into_inner()
        .events
}

async fn erasing_a_case_erases_the_evidence_only_its_links_hold(stores: EvidenceStores) {
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    // Case A cites two links; case B cites the first of them too.
    let shared = "https://lihkg.com/thread/1001/page/1";
    let own = "https://lihkg.com/thread/1002/page/1";
    let results = register(
        &mut c,
        vec![registration(shared, CASE_A, SEEN), registration(own, CASE_A, SEEN), registration(shared, CASE_B, SEEN)],
    )
    .await;
    let shared = results[0].link.clone().expect("registered").name;
    let own = results[1].link.clone().expect("registered").name;
    let kept = capture(&mut c, &shared, b"<p>Chan Tai Man, Flat 7C</p>").await;
    let gone = capture(&mut c, &own, b"<p>Chan Tai Man's phone</p>").await;
    // The same bytes under a link that another case keeps stay on disk.
    let same_bytes = capture(&mut c, &shared, b"<p>Chan Tai Man's phone</p>").await;
    assert_eq!(same_bytes.sha256, gone.sha256);
    let before = c.get_link_statistics(pb::GetLinkStatisticsRequest::default()).await.unwrap().into_inner();

    // Only the evidence of a link that only erased cases cite goes; the shared link keeps its own.
    let done = erase(&mut c, CASE_A).await;
    assert_eq!((done.links_erased, done.captures_erased, done.files_deleted), (1, 1, 0), "{done:?}");
    let refused = c
        .get_evidence(pb::GetEvidenceRequest { name: gone.name.clone(), reason: "review".into() })
        .await
        .expect_err("erased evidence is not served");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.get_details_error_info().map(|i| i.reason), Some("EVIDENCE_ERASED".to_owned()));
    let listed = c
        .list_evidence(pb::ListEvidenceRequest { link: own.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .evidence;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].erase_time.is_some() && listed[0].note.is_empty(), "{:?}", listed[0]);
    assert_eq!((listed[0].sha256.as_str(), listed[0].size_bytes), (gone.sha256.as_str(), gone.size_bytes));
    let log = custody(&mut c, &gone.name).await;
    assert_eq!(log.last().map(|e| e.kind), Some(pb::CustodyEventKind::Erased as i32));
    assert!(log.iter().all(|e| !e.reason.contains("Chan Tai Man")), "{log:?}");
    let shared_list = c
        .list_evidence(pb::ListEvidenceRequest { link: shared.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .evidence;
    assert!(shared_list.iter().all(|e| e.erase_time.is_none() && e.note.contains("Chan Tai Man")));

    // Once case B is erased too, the shared link's evidence goes, and the bytes with it.
    let done = erase(&mut c, CASE_B).await;
    assert_eq!((done.links_erased, done.captures_erased, done.files_deleted), (1, 2, 2), "{done:?}");
    let files = app.evidence.names().await;
    assert!(files.is_empty(), "no evidence file is left: {files:?}");
    assert!(custody(&mut c, &kept.name).await.iter().any(|e| e.kind == pb::CustodyEventKind::Erased as i32));
    // Again: nothing more to erase.
    assert_eq!(erase(&mut c, CASE_B).await, pb::EraseCaseDataResponse::default());
    // The figures stay.
    let after = c.get_link_statistics(pb::GetLinkStatisticsRequest::default()).await.unwrap().into_inner();
    assert_eq!((after.total, after.platforms_involved), (before.total, before.platforms_involved));

    // Only the referral service may call it; bad input is refused, naming the field.
    // (This client makes every call but RecordObservations as an officer.)
    let mut officer = observing_as(&app, "liaison");
    let denied = officer
        .erase_case_data(pb::EraseCaseDataRequest {
            case: CASE_A.into(),
            erase_time: Some(ts(SEEN)),
            request_id: String::new(),
        })
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    let bad = c
        .erase_case_data(pb::EraseCaseDataRequest {
            case: "case/x".into(),
            erase_time: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), vec!["case".to_owned(), "erase_time".to_owned()]);
    app.stop().await;
}
