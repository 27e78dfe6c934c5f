//! Evidence through the public interface, on the local store and on the S3 one: bytes in and out
//! with their SHA-256 checked, a blob changed at rest refused, the size limit enforced mid-stream
//! with nothing left behind, identical bytes stored once, and the custody log of every fetch.

mod common;

use common::*;
use doxwatch_links::domain::Sha256Digest;
use doxwatch_proto::links as pb;
use sha2::{Digest, Sha256};
use tonic::Code;

evidence_tests!(
    evidence_round_trip_verifies_the_hash_and_logs_custody,
    a_tampered_blob_is_never_served,
    the_size_limit_mid_stream_leaves_nothing,
    identical_bytes_are_one_blob_and_two_records,
    bad_captures_are_refused_with_every_field_named,
    captures_notes_and_reasons_are_sealed_at_rest,
    a_rotation_seals_every_evidence_file_again,
);

const SEEN: &str = "2019-10-01T10:00:00+08:00";

fn metadata(link: &str, media_type: &str) -> pb::EvidenceMetadata {
    pb::EvidenceMetadata {
        link: link.to_owned(),
        media_type: media_type.to_owned(),
        captured_at: Some(ts("2019-10-02T09:30:00+08:00")),
        note: "screenshot by patrol".to_owned(),
        request_id: String::new(),
    }
}

async fn add(
    client: &mut Client,
    metadata: pb::EvidenceMetadata,
    bytes: &[u8],
    chunk: usize,
) -> Result<pb::Evidence, tonic::Status> {
    let mut messages =
        vec![pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Metadata(metadata)) }];
    for part in bytes.chunks(chunk) {
        messages
            .push(pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Chunk(part.to_vec())) });
    }
    client.add_evidence(tokio_stream::iter(messages)).await.map(|r| r.into_inner())
}

async fn get(client: &mut Client, name: &str, reason: &str) -> Result<(pb::Evidence, Vec<u8>), tonic::Status> {
    use tokio_stream::StreamExt;
    let request = pb::GetEvidenceRequest { name: name.to_owned(), reason: reason.to_owned() };
    let mut stream = client.get_evidence(request).await?.into_inner();
    let mut evidence = None;
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        let message = message?;
        if message.evidence.is_some() {
            evidence = message.evidence;
        }
        bytes.extend_from_slice(&message.chunk);
    }
    Ok((evidence.expect("the first message describes the evidence"), bytes))
}

async fn custody(client: &mut Client, name: &str) -> Vec<pb::CustodyEvent> {
    client
        .list_custody_events(pb::ListCustodyEventsRequest { evidence: name.to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events
}

async fn list(client: &mut Client, link: &str) -> Vec<pb::Evidence> {
    client
        .list_evidence(pb::ListEvidenceRequest { link: link.to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .evidence
}

fn digest(hex: &str) -> Sha256Digest {
    Sha256Digest::parse_hex(hex).expect("a SHA-256")
}

fn page_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

async fn evidence_round_trip_verifies_the_hash_and_logs_custody(stores: EvidenceStores) {
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    let link = link(&mut c, "https://t.me/doxchannel/77", SEEN).await;
    let bytes = page_bytes(200_000);
    let sha = hex::encode(Sha256::digest(&bytes));

    let stored = add(&mut c, metadata(&link.name, "image/png"), &bytes, 64 * 1024).await.unwrap();
    assert_eq!(stored.name, format!("{}/evidence/{sha}", link.name));
    assert_eq!((stored.sha256.as_str(), stored.size_bytes), (sha.as_str(), 200_000));
    assert_eq!((stored.media_type.as_str(), stored.captured_by.as_str()), ("image/png", "officer-lee"));
    assert_eq!(stored.captured_at, Some(ts("2019-10-02T09:30:00+08:00")));

    let (described, fetched) = get(&mut c, &stored.name, "evidence bundle for referral").await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&fetched)), sha);
    assert_eq!(fetched, bytes);
    assert_eq!(described.capture_id, stored.capture_id);

    let mut wong = client_as(&app, "officer-wong");
    get(&mut wong, &stored.name, "legal review").await.unwrap();
    let log = custody(&mut c, &stored.name).await;
    let entries: Vec<(i32, &str, &str)> = log.iter().map(|e| (e.kind, e.actor.as_str(), e.reason.as_str())).collect();
    assert_eq!(
        entries,
        vec![
            (pb::CustodyEventKind::Captured as i32, "officer-lee", "screenshot by patrol"),
            (pb::CustodyEventKind::Fetched as i32, "officer-lee", "evidence bundle for referral"),
            (pb::CustodyEventKind::Fetched as i32, "officer-wong", "legal review"),
        ]
    );
    assert!(log.iter().all(|e| e.occurred_at.is_some() && e.evidence == stored.name));

    // A fetch without a reason is refused and logs nothing; an unknown digest is NOT_FOUND.
    let refused = get(&mut c, &stored.name, " ").await.unwrap_err();
    assert_eq!(violated_fields(&refused), vec!["reason"]);
    let unknown = format!("{}/evidence/{}", link.name, "0".repeat(64));
    assert_eq!(get(&mut c, &unknown, "check").await.unwrap_err().code(), Code::NotFound);
    assert_eq!(custody(&mut c, &stored.name).await.len(), 3);

    // A retry with the same request id is the first capture; the same id with other bytes is not.
    let mut m = metadata(&link.name, "text/html");
    m.request_id = "capture-1".to_owned();
    let first = add(&mut c, m.clone(), b"<html>post</html>", 5).await.unwrap();
    let again = add(&mut c, m.clone(), b"<html>post</html>", 7).await.unwrap();
    assert_eq!(first.capture_id, again.capture_id);
    assert_eq!(add(&mut c, m, b"<html>other</html>", 7).await.unwrap_err().code(), Code::Aborted);
    assert_eq!(list(&mut c, &link.name).await.len(), 2);
    app.stop().await;
}

async fn a_tampered_blob_is_never_served(stores: EvidenceStores) {
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    let link = link(&mut c, "https://www.facebook.com/groups/999/posts/5/", SEEN).await;
    let stored = add(&mut c, metadata(&link.name, "text/html"), b"<html>name, phone, address</html>", 8).await.unwrap();

    let sha256 = digest(&stored.sha256);
    assert!(app.evidence.read(&sha256).await.is_some(), "the blob is stored");
    app.evidence.write(&sha256, b"<html>name, phone, addresS</html>").await;

    let refused = get(&mut c, &stored.name, "evidence bundle").await.unwrap_err();
    assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
    let log = custody(&mut c, &stored.name).await;
    let last = log.last().unwrap();
    assert_eq!((last.kind, last.actor.as_str()), (pb::CustodyEventKind::IntegrityFailure as i32, "officer-lee"));

    // A blob that is gone altogether is refused the same way.
    app.evidence.remove(&sha256).await;
    assert_eq!(get(&mut c, &stored.name, "again").await.unwrap_err().code(), Code::DataLoss);

    // Adding the same bytes again restores a good copy.
    add(&mut c, metadata(&link.name, "text/html"), b"<html>name, phone, address</html>", 8).await.unwrap();
    let (_, bytes) = get(&mut c, &stored.name, "after recapture").await.unwrap();
    assert_eq!(bytes, b"<html>name, phone, address</html>");
    app.stop().await;
}

async fn the_size_limit_mid_stream_leaves_nothing(stores: EvidenceStores) {
    let app = spawn_app_on(&stores, |c| c.evidence.max_bytes = 64 * 1024).await;
    let mut c = app.client.clone();
    let link = link(&mut c, "https://lihkg.com/thread/3000000/page/1", SEEN).await;

    let refused = add(&mut c, metadata(&link.name, "application/warc"), &page_bytes(90_000), 30_000).await.unwrap_err();
    assert_eq!(violated_fields(&refused), vec!["chunk"]);
    assert!(refused.message().contains("65536"), "{}", refused.message());
    assert_eq!(app.evidence.names().await, Vec::<String>::new(), "no blob and no partial file");
    assert!(list(&mut c, &link.name).await.is_empty(), "no capture record");

    // Exactly at the limit is accepted.
    let stored = add(&mut c, metadata(&link.name, "application/warc"), &page_bytes(64 * 1024), 30_000).await.unwrap();
    assert_eq!(stored.size_bytes, 64 * 1024);
    assert_eq!(app.evidence.names().await.len(), 1);
    app.stop().await;
}

async fn identical_bytes_are_one_blob_and_two_records(stores: EvidenceStores) {
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    let first_link = link(&mut c, "https://t.me/doxchannel/80", SEEN).await;
    let second_link = link(&mut c, "https://t.me/doxchannel/81", SEEN).await;
    let bytes = page_bytes(10_000);

    let a = add(&mut c, metadata(&first_link.name, "image/jpeg"), &bytes, 4096).await.unwrap();
    let b = add(&mut c, metadata(&first_link.name, "image/jpeg"), &bytes, 1000).await.unwrap();
    let other = add(&mut c, metadata(&second_link.name, "image/jpeg"), &bytes, 10_000).await.unwrap();
    assert_eq!(a.name, b.name);
    assert_ne!(a.capture_id, b.capture_id);
    assert_eq!(other.sha256, a.sha256);
    assert_ne!(other.name, a.name);
    assert_eq!(app.evidence.names().await.len(), 1, "one blob for the same bytes");

    let records = list(&mut c, &first_link.name).await;
    assert_eq!(records.iter().map(|e| e.capture_id.as_str()).collect::<Vec<_>>(), vec![&a.capture_id, &b.capture_id]);
    let captured = custody(&mut c, &a.name).await;
    assert_eq!(captured.len(), 2, "one custody entry per capture record");
    let (_, fetched) = get(&mut c, &other.name, "compare").await.unwrap();
    assert_eq!(fetched, bytes);
    app.stop().await;
}

async fn bad_captures_are_refused_with_every_field_named(stores: EvidenceStores) {
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    let mut m = metadata("links/not-a-uuid", "application/x-msdownload");
    m.captured_at = Some(ts("2999-01-01T00:00:00Z"));
    let refused = add(&mut c, m, b"MZ", 2).await.unwrap_err();
    assert_eq!(violated_fields(&refused), vec!["metadata.link", "metadata.media_type", "metadata.captured_at"]);

    let unknown = "links/01900000-0000-7000-8000-000000000999";
    assert_eq!(add(&mut c, metadata(unknown, "image/png"), b"png", 3).await.unwrap_err().code(), Code::NotFound);

    let link = link(&mut c, "https://t.me/doxchannel/90", SEEN).await;
    let empty = add(&mut c, metadata(&link.name, "image/png"), b"", 1).await.unwrap_err();
    assert_eq!(violated_fields(&empty), vec!["chunk"]);
    let chunk_first = pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Chunk(b"x".to_vec())) };
    let no_metadata = c.add_evidence(tokio_stream::iter(vec![chunk_first])).await.unwrap_err();
    assert_eq!(violated_fields(&no_metadata), vec!["metadata"]);

    let mut anonymous = doxwatch_proto::links::links_service_client::LinksServiceClient::new(app.channel.clone());
    let request =
        pb::GetEvidenceRequest { name: format!("{}/evidence/{}", link.name, "0".repeat(64)), reason: "x".into() };
    assert_eq!(anonymous.get_evidence(request).await.unwrap_err().code(), Code::Unauthenticated);
    assert_eq!(app.evidence.names().await, Vec::<String>::new());
    app.stop().await;
}

async fn captures_notes_and_reasons_are_sealed_at_rest(stores: EvidenceStores) {
    const NAME: &str = "Ho Siu Ming";
    const PHONE: &str = "9876 5432";
    const NOTE: &str = "posted Ho Siu Ming's daughter's school";
    const REASON: &str = "bundle for Ho Siu Ming's complaint";
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    let link = link(&mut c, "https://lihkg.com/thread/123456/page/1", SEEN).await;
    // A post larger than one sealed frame, with the victim's details in every part of it.
    let post: Vec<u8> =
        format!("<p>{NAME}, tel {PHONE}, Flat 7C</p>").into_bytes().into_iter().cycle().take(150_000).collect();
    let mut m = metadata(&link.name, "text/html");
    m.note = NOTE.to_owned();
    m.request_id = "sealed-capture".to_owned();
    let stored = add(&mut c, m, &post, 32 * 1024).await.unwrap();
    assert_eq!(stored.note, NOTE);
    c.record_observations(pb::RecordObservationsRequest {
        observations: vec![pb::Observation {
            link: link.name.clone(),
            status: pb::LinkStatus::Online as i32,
            observed_at: Some(ts("2019-10-03T10:00:00+08:00")),
            vantage: pb::Vantage::InsideHk as i32,
            source: pb::ObservationSource::OfficerCheck as i32,
            note: NOTE.to_owned(),
            ..Default::default()
        }],
        request_id: "sealed-observation".to_owned(),
    })
    .await
    .unwrap();

    // Every read gives the words and the bytes back.
    let (_, fetched) = get(&mut c, &stored.name, REASON).await.unwrap();
    assert_eq!(fetched, post);
    assert_eq!(list(&mut c, &link.name).await[0].note, NOTE);
    let log = custody(&mut c, &stored.name).await;
    assert_eq!(log.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), vec![NOTE, REASON]);
    let observed = c
        .list_observations(pb::ListObservationsRequest { link: link.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .observations;
    assert_eq!(observed.iter().map(|o| o.note.as_str()).collect::<Vec<_>>(), vec![NOTE]);

    // Yet neither the store nor the evidence store holds any of it in plain text.
    assert_eq!(stores.db.plaintext(&[NAME, PHONE]).await, Vec::<String>::new());
    assert_eq!(app.evidence.names().await.len(), 1);
    let bytes = app.evidence.read(&digest(&stored.sha256)).await.expect("the stored blob");
    for needle in [NAME, PHONE] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} in the stored blob");
    }
    app.stop().await;
}

/// The key id the first frame of a stored evidence blob is sealed under (after the 8-byte magic,
/// the 16-byte file id, the frame's 5-byte header and the 3-byte format); `None` for a plain one.
async fn file_key(app: &TestApp, sha256: &str) -> Option<u32> {
    let bytes = app.evidence.read(&digest(sha256)).await.expect("the evidence blob");
    bytes.starts_with(b"DWEVID1\n").then(|| u32::from_be_bytes(bytes[32..36].try_into().expect("four bytes")))
}

async fn a_rotation_seals_every_evidence_file_again(stores: EvidenceStores) {
    use doxwatch_kit::{policy::Role, testing::OfficerWith};
    use doxwatch_proto::ops::{self as ops, key_service_client::KeyServiceClient};
    let app = spawn_app_on(&stores, |_| {}).await;
    let mut c = app.client.clone();
    let link = link(&mut c, "https://lihkg.com/thread/777/page/1", SEEN).await;
    let sealed_post = b"<p>posted under the first key</p>".repeat(3000);
    let sealed = add(&mut c, metadata(&link.name, "text/html"), &sealed_post, 64 * 1024).await.unwrap();
    assert_eq!(file_key(&app, &sealed.sha256).await, Some(1));
    // A file stored before sealing began: the plain bytes in place of the sealed ones.
    let plain_post = b"<p>stored before sealing began</p>".to_vec();
    let plain = add(&mut c, metadata(&link.name, "text/html"), &plain_post, 1024).await.unwrap();
    let hex = plain.sha256.as_str();
    app.evidence.write(&digest(hex), &plain_post).await;
    assert_eq!(file_key(&app, hex).await, None);

    let mut operator =
        KeyServiceClient::with_interceptor(app.channel.clone(), OfficerWith("ops-lee", &[Role::Operator]));
    operator.rotate_data_key(ops::RotateDataKeyRequest {}).await.expect("rotated");
    let status = doxwatch_kit::testing::eventually(std::time::Duration::from_secs(30), async || {
        let status = operator.get_data_key_status(ops::GetDataKeyStatusRequest {}).await.ok()?.into_inner();
        (status.keys.iter().any(|k| k.active && k.id == 3) && status.last_sweep_resealed >= 2).then_some(status)
    })
    .await
    .expect("a sweep under the new key");
    assert_eq!(status.last_sweep_remaining, 0, "{status:?}");
    assert_eq!(file_key(&app, &sealed.sha256).await, Some(3));
    assert_eq!(file_key(&app, hex).await, Some(3));
    // Both read as before, checked against their digests.
    assert_eq!(get(&mut c, &sealed.name, "after rotation").await.unwrap().1, sealed_post);
    assert_eq!(get(&mut c, &plain.name, "after rotation").await.unwrap().1, plain_post);
    app.stop().await;
}
