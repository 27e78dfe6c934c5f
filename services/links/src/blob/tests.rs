//! The evidence stores, each test on the local directory and, when `DOXWATCH_TEST_S3_ENDPOINT`
//! names an S3-compatible server, on a fresh bucket of its own: sealed frames, tampering refused,
//! duplicates stored once, nothing left of an abandoned write, durable deletes, re-sealing;
//! permissions on disk, and errors that name the bucket and key but no secret.

use std::os::unix::fs::PermissionsExt;

use doxwatch_kit::{
    config::Secret,
    data_keys::SealedFiles,
    db::{Db, Migrations},
    sealing::{Kek, Keyring},
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{
    testing::{StoredBlobs, TestBucket},
    *,
};
use crate::blob::sealed::{FRAME_HEADER_LEN, HEADER_LEN, MAGIC, SEAL_OVERHEAD};

/// A store with data keys of its own, and its blobs as they are stored.
struct Fixture {
    store: std::sync::Arc<dyn BlobStore>,
    files: std::sync::Arc<dyn SealedFiles>,
    stored: StoredBlobs,
    location: EvidenceLocation,
    base: tempfile::TempDir,
    _bucket: Option<TestBucket>,
}

async fn keys(base: &std::path::Path) -> Keyring {
    static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
    let url = format!("sqlite:{}", base.join("keys.db").display());
    let db = Db::connect(&url, 1, Migrations { postgres: &NONE, sqlite: &NONE, outbox: true }).await.expect("a store");
    let kek = Kek::from_base64(&Kek::generate().expect("a key")).expect("the key");
    Keyring::open(&db, &kek).await.expect("data keys")
}

impl Fixture {
    async fn local() -> Self {
        let base = tempfile::tempdir().expect("a temporary directory");
        let location = EvidenceLocation::Local(base.path().join("evidence"));
        Self::open(base, location, None).await
    }

    async fn s3() -> Option<Self> {
        let bucket = TestBucket::fresh().await?;
        let base = tempfile::tempdir().expect("a temporary directory");
        Some(Self::open(base, bucket.location(), Some(bucket)).await)
    }

    async fn open(base: tempfile::TempDir, location: EvidenceLocation, bucket: Option<TestBucket>) -> Self {
        let (store, files) = open(&location, keys(base.path()).await).await.expect("the evidence store opens");
        Self { store, files, stored: StoredBlobs::of(&location), location, base, _bucket: bucket }
    }

    /// The same store opened again, with other data keys.
    async fn with_other_keys(&self) -> std::sync::Arc<dyn BlobStore> {
        let base = tempfile::tempdir().expect("a temporary directory");
        open(&self.location, keys(base.path()).await).await.expect("the evidence store opens").0
    }
}

/// Generates, from each `async fn name(f: Fixture)`, a test on the local store and one on S3.
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::local().await).await;
                }
            )+
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match super::Fixture::s3().await {
                        Some(fixture) => super::$name(fixture).await,
                        None => eprintln!("{} is not set: S3 run of {} skipped", super::testing::ENDPOINT_VARIABLE, stringify!($name)),
                    }
                }
            )+
        }
    };
}

on_both_stores!(
    bytes_are_sealed_and_open_as_they_were,
    a_changed_cut_or_extended_blob_does_not_open,
    blobs_stored_before_sealing_are_read_as_they_are,
    another_stores_keys_do_not_open_a_blob,
    an_abandoned_write_leaves_nothing_and_a_stored_blob_only_itself,
    a_commit_cut_short_leaves_a_whole_blob_or_nothing,
    a_delete_is_final,
    a_sweep_seals_every_blob_under_the_active_key,
    a_capture_of_several_upload_parts_round_trips,
);

async fn put(store: &dyn BlobStore, bytes: &[u8], chunk: usize) -> StoredBlob {
    let mut writer = store.begin().await.expect("a writer");
    for part in bytes.chunks(chunk) {
        writer.write(part).await.expect("the bytes are written");
    }
    writer.commit().await.expect("the blob is stored")
}

async fn read(store: &dyn BlobStore, sha256: &Sha256Digest) -> Result<Vec<u8>, BlobError> {
    let mut stream = store.get(sha256).await?.expect("the blob is there");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

fn name_of(sha256: &Sha256Digest) -> String {
    let hex = sha256.to_hex();
    format!("sha256/{}/{}/{hex}", &hex[0..2], &hex[2..4])
}

async fn bytes_are_sealed_and_open_as_they_were(f: Fixture) {
    // Three and a bit frames, written in chunks that do not line up with them.
    let post: Vec<u8> =
        b"Chan Tai Man, 9123 4567, Flat 3A Block 2 ".iter().copied().cycle().take(3 * FRAME + 1234).collect();
    let stored = put(&*f.store, &post, 10_000).await;
    assert_eq!(stored.sha256, Sha256Digest(Sha256::digest(&post).into()), "named by the plaintext's SHA-256");
    assert_eq!((stored.size, stored.deduplicated), (post.len() as u64, false));
    let at_rest = f.stored.read(&stored.sha256).await.expect("the stored bytes");
    assert!(at_rest.starts_with(MAGIC));
    assert!(!at_rest.windows(12).any(|w| w == b"Chan Tai Man" || w == b"9123 4567, F"), "no plaintext at rest");
    assert_eq!(read(&*f.store, &stored.sha256).await.expect("it opens"), post);

    // The same bytes again are the same blob, left as it was.
    assert!(put(&*f.store, &post, 777).await.deduplicated);
    assert_eq!(f.stored.read(&stored.sha256).await.expect("the stored bytes"), at_rest);
    // A one-byte capture and a capture of exactly one frame round-trip too.
    for bytes in [vec![7u8], vec![1u8; FRAME]] {
        let stored = put(&*f.store, &bytes, 4096).await;
        assert_eq!(read(&*f.store, &stored.sha256).await.expect("it opens"), bytes);
    }
}

async fn a_changed_cut_or_extended_blob_does_not_open(f: Fixture) {
    let post = vec![42u8; 2 * FRAME + 10];
    let stored = put(&*f.store, &post, FRAME).await;
    let good = f.stored.read(&stored.sha256).await.expect("the stored bytes");
    let frame = FRAME_HEADER_LEN + FRAME + SEAL_OVERHEAD;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte", {
            let mut b = good.clone();
            b[HEADER_LEN + 100] ^= 1;
            b
        }),
        ("the last frame cut off", good[..HEADER_LEN + 2 * frame].to_vec()),
        ("a byte appended", [good.as_slice(), &[0]].concat()),
        ("two frames swapped", {
            let (a, b) = (&good[HEADER_LEN..HEADER_LEN + frame], &good[HEADER_LEN + frame..HEADER_LEN + 2 * frame]);
            [&good[..HEADER_LEN], b, a, &good[HEADER_LEN + 2 * frame..]].concat()
        }),
        ("another file id", {
            let mut b = good.clone();
            b[MAGIC.len()] ^= 1;
            b
        }),
    ];
    for (what, bytes) in cases {
        f.stored.write(&stored.sha256, &bytes).await;
        assert!(read(&*f.store, &stored.sha256).await.is_err(), "{what}: refused");
    }
    // Adding the bytes again replaces the damaged copy with a good one.
    assert!(!put(&*f.store, &post, 999).await.deduplicated);
    assert_eq!(read(&*f.store, &stored.sha256).await.expect("it opens"), post);
}

async fn blobs_stored_before_sealing_are_read_as_they_are(f: Fixture) {
    for legacy in [b"<html>an old capture</html>".to_vec(), b"short".to_vec()] {
        let sha256 = Sha256Digest(Sha256::digest(&legacy).into());
        f.stored.write(&sha256, &legacy).await;
        assert_eq!(read(&*f.store, &sha256).await.expect("it reads"), legacy);
    }
}

async fn another_stores_keys_do_not_open_a_blob(f: Fixture) {
    let stored = put(&*f.store, b"a captured post", 64).await;
    let theirs = f.with_other_keys().await;
    assert!(read(&*theirs, &stored.sha256).await.is_err());
    assert_eq!(read(&*f.store, &stored.sha256).await.expect("ours opens it"), b"a captured post");
}

async fn an_abandoned_write_leaves_nothing_and_a_stored_blob_only_itself(f: Fixture) {
    // More than one part of an S3 upload, abandoned before its commit.
    let mut writer = f.store.begin().await.expect("a writer");
    for _ in 0..12 {
        writer.write(&[9u8; 1024 * 1024]).await.expect("written");
    }
    drop(writer);
    let leftovers = doxwatch_kit::testing::eventually(std::time::Duration::from_secs(10), async || {
        let names = f.stored.names().await;
        names.is_empty().then_some(())
    })
    .await;
    assert!(leftovers.is_some(), "left behind: {:?}", f.stored.names().await);

    let stored = put(&*f.store, &[5u8; 3 * FRAME], 50_000).await;
    assert_eq!(f.stored.names().await, vec![name_of(&stored.sha256)], "the blob alone, no temporary copy");
    assert!(put(&*f.store, &[5u8; 3 * FRAME], 70_000).await.deduplicated);
    assert_eq!(f.stored.names().await, vec![name_of(&stored.sha256)]);
}

async fn a_commit_cut_short_leaves_a_whole_blob_or_nothing(f: Fixture) {
    // A call whose client goes away drops its commit wherever it is: before the upload completes,
    // while it does, or while the object is put under its digest.
    for cut in 0..24u64 {
        let mut writer = f.store.begin().await.expect("a writer");
        writer.write(format!("a post cut after {cut} quarter-milliseconds").as_bytes()).await.expect("written");
        let _ = tokio::time::timeout(std::time::Duration::from_micros(cut * 250), writer.commit()).await;
    }
    let whole = doxwatch_kit::testing::eventually(std::time::Duration::from_secs(10), async || {
        f.stored.names().await.iter().all(|name| name.starts_with("sha256/")).then_some(())
    })
    .await;
    assert!(whole.is_some(), "left behind: {:?}", f.stored.names().await);
}

async fn a_capture_of_several_upload_parts_round_trips(f: Fixture) {
    // Over two 5 MiB parts of an S3 upload, written in chunks that line up with neither parts nor
    // frames; each byte depends on its position, so a part out of place would show.
    let post: Vec<u8> = (0..11 * 1024 * 1024 + 4321).map(|i: usize| ((i % 251) ^ (i / 65_536)) as u8).collect();
    let stored = put(&*f.store, &post, 100_003).await;
    assert_eq!(stored.sha256, Sha256Digest(Sha256::digest(&post).into()));
    assert_eq!(read(&*f.store, &stored.sha256).await.expect("it opens"), post);
    assert_eq!(f.stored.names().await, vec![name_of(&stored.sha256)]);
}

async fn a_delete_is_final(f: Fixture) {
    let stored = put(&*f.store, b"a post to erase", 4).await;
    assert!(f.store.exists(&stored.sha256).await.expect("looked for"));
    assert!(f.store.delete(&stored.sha256).await.expect("deleted"));
    assert!(!f.store.exists(&stored.sha256).await.expect("looked for"));
    assert!(f.store.get(&stored.sha256).await.expect("read").is_none());
    assert!(!f.store.delete(&stored.sha256).await.expect("nothing to delete"), "a second delete finds nothing");
    assert_eq!(f.stored.names().await, Vec::<String>::new());
}

async fn a_sweep_seals_every_blob_under_the_active_key(f: Fixture) {
    let sealed_post = b"<p>sealed under the first key</p>".repeat(3000);
    let sealed = put(&*f.store, &sealed_post, 64 * 1024).await;
    let plain_post = b"<p>stored before sealing began</p>".to_vec();
    let plain = Sha256Digest(Sha256::digest(&plain_post).into());
    f.stored.write(&plain, &plain_post).await;
    // A damaged blob under the active key is no concern of the sweep: it is left as it is.
    let damaged_post = b"<p>damaged at rest</p>".to_vec();
    let damaged = put(&*f.store, &damaged_post, 64).await;
    let mut bytes = f.stored.read(&damaged.sha256).await.expect("the stored bytes");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    f.stored.write(&damaged.sha256, &bytes).await;

    // Under the same key, only the plain blob needs sealing.
    assert_eq!(f.files.reseal().await.expect("a sweep"), (1, 0));
    let at_rest = f.stored.read(&plain).await.expect("the stored bytes");
    assert!(at_rest.starts_with(MAGIC), "sealed now");
    assert_eq!(read(&*f.store, &plain).await.expect("it opens"), plain_post);
    assert_eq!(read(&*f.store, &sealed.sha256).await.expect("it opens"), sealed_post);
    assert_eq!(f.stored.read(&damaged.sha256).await.expect("left as it was"), bytes);
    let mut names = vec![name_of(&sealed.sha256), name_of(&plain), name_of(&damaged.sha256)];
    names.sort();
    assert_eq!(f.stored.names().await, names, "no temporary copies left");
}

#[tokio::test]
async fn stored_captures_are_readable_by_the_service_alone() {
    let f = Fixture::local().await;
    let EvidenceLocation::Local(root) = &f.location else { unreachable!("a local store") };
    let stored = put(&*f.store, b"a captured post", 4).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let path = root.join(name_of(&stored.sha256));
    assert_eq!(mode(&path), 0o400, "the capture is read-only and private");
    let mut dir = path.parent().map(std::path::Path::to_path_buf);
    while let Some(d) = dir.filter(|d| d != f.base.path()) {
        assert_eq!(mode(&d), 0o700, "{} is private", d.display());
        dir = d.parent().map(std::path::Path::to_path_buf);
    }
    assert_eq!(mode(&root.join("tmp")), 0o700);
}

/// An S3 store that cannot be reached, or whose bucket is not there, fails to open with an error
/// naming the bucket and key, and neither credential.
#[tokio::test]
async fn an_s3_store_that_does_not_answer_is_named_without_its_secrets() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let endpoint = format!("http://{}", closed.local_addr().expect("its address"));
    drop(closed);
    let settings = S3Settings {
        bucket: "pcpd-evidence".to_owned(),
        endpoint: Some(endpoint),
        region: "us-east-1".to_owned(),
        prefix: "links".to_owned(),
        credentials: Some((Secret::from("AKIDSECRETID".to_owned()), Secret::from("s3cr3t-access-key".to_owned()))),
        allow_http: true,
    };
    let mut attempts = vec![settings.clone()];
    if let Some(test) = TestBucket::fresh().await {
        // A server that answers, asked for a bucket it does not have.
        let bucket = format!("{}-missing", test.settings.bucket);
        attempts.push(S3Settings { bucket, endpoint: test.settings.endpoint.clone(), ..settings.clone() });
    }
    let keys = keys(base.path()).await;
    for settings in attempts {
        let error = S3BlobStore::open(settings.clone(), keys.clone()).await.expect_err("no store");
        let text = format!("{}", doxwatch_kit::error::CauseChain(&error));
        assert!(text.contains(&format!("s3://{}/links/tmp", settings.bucket)), "{text}");
        for secret in ["AKIDSECRETID", "s3cr3t-access-key"] {
            assert!(!text.contains(secret) && !format!("{error:?}").contains(secret), "{secret} in {text}");
        }
    }
}
