//! The evidence files: sealed frames, tampering refused, permissions, re-sealing.

use std::os::unix::fs::PermissionsExt;

use doxwatch_kit::{
    db::{Db, Migrations},
    sealing::Kek,
};

use super::*;

/// A store under `base`, with data keys of its own.
async fn store(base: &Path) -> LocalBlobStore {
    static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
    let url = format!("sqlite:{}", base.join("keys.db").display());
    let db = Db::connect(&url, 1, Migrations { postgres: &NONE, sqlite: &NONE, outbox: true }).await.expect("a store");
    let kek = Kek::from_base64(&Kek::generate().expect("a key")).expect("the key");
    let keys = Keyring::open(&db, &kek).await.expect("data keys");
    LocalBlobStore::open(base.join("evidence"), keys).await.expect("the evidence store opens")
}

async fn put(store: &LocalBlobStore, bytes: &[u8], chunk: usize) -> StoredBlob {
    let mut writer = store.begin().await.expect("a writer");
    for part in bytes.chunks(chunk) {
        writer.write(part).await.expect("the bytes are written");
    }
    writer.commit().await.expect("the blob is stored")
}

async fn read(store: &LocalBlobStore, sha256: &Sha256Digest) -> Result<Vec<u8>, BlobError> {
    let mut stream = store.get(sha256).await?.expect("the blob is there");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

fn writable(path: &Path) {
    let mut perms = std::fs::metadata(path).expect("metadata").permissions();
    perms.set_mode(0o600);
    std::fs::set_permissions(path, perms).expect("made writable");
}

#[tokio::test]
async fn stored_captures_are_readable_by_the_service_alone() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let store = store(base.path()).await;
    let stored = put(&store, b"a captured post", 4).await;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let path = store.path_of(&stored.sha256);
    assert_eq!(mode(&path), 0o400, "the capture is read-only and private");
    let mut dir = path.parent().map(Path::to_path_buf);
    while let Some(d) = dir.filter(|d| d != base.path()) {
        assert_eq!(mode(&d), 0o700, "{} is private", d.display());
        dir = d.parent().map(Path::to_path_buf);
    }
    assert_eq!(mode(&base.path().join("evidence").join("tmp")), 0o700);
}

#[tokio::test]
async fn bytes_are_sealed_on_disk_and_open_as_they_were() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let store = store(base.path()).await;
    // Three and a bit frames, written in chunks that do not line up with them.
    let post: Vec<u8> =
        b"Chan Tai Man, 9123 4567, Flat 3A Block 2 ".iter().copied().cycle().take(3 * FRAME + 1234).collect();
    let stored = put(&store, &post, 10_000).await;
    assert_eq!(stored.sha256, Sha256Digest(Sha256::digest(&post).into()), "named by the plaintext's SHA-256");
    assert_eq!(stored.size, post.len() as u64);
    let on_disk = std::fs::read(store.path_of(&stored.sha256)).expect("the file");
    assert!(on_disk.starts_with(MAGIC));
    assert!(!on_disk.windows(12).any(|w| w == b"Chan Tai Man" || w == b"9123 4567, F"), "no plaintext on disk");
    assert_eq!(read(&store, &stored.sha256).await.expect("it opens"), post);

    // The same bytes again are the same blob.
    assert!(put(&store, &post, 777).await.deduplicated);
    // A one-byte capture and a capture of exactly one frame round-trip too.
    for bytes in [vec![7u8], vec![1u8; FRAME]] {
        let stored = put(&store, &bytes, 4096).await;
        assert_eq!(read(&store, &stored.sha256).await.expect("it opens"), bytes);
    }
}

#[tokio::test]
async fn a_changed_cut_or_extended_file_does_not_open() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let store = store(base.path()).await;
    let post = vec![42u8; 2 * FRAME + 10];
    let stored = put(&store, &post, FRAME).await;
    let path = store.path_of(&stored.sha256);
    writable(&path);
    let good = std::fs::read(&path).expect("the file");
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
        std::fs::write(&path, &bytes).expect("the file changed");
        assert!(read(&store, &stored.sha256).await.is_err(), "{what}: refused");
    }
    // Adding the bytes again replaces the damaged copy with a good one.
    assert!(!put(&store, &post, 999).await.deduplicated);
    assert_eq!(read(&store, &stored.sha256).await.expect("it opens"), post);
}

#[tokio::test]
async fn blobs_stored_before_sealing_are_read_as_they_are() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let store = store(base.path()).await;
    for legacy in [b"<html>an old capture</html>".to_vec(), b"short".to_vec()] {
        let sha256 = Sha256Digest(Sha256::digest(&legacy).into());
        let path = store.path_of(&sha256);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("the directories");
        std::fs::write(&path, &legacy).expect("a legacy file");
        assert_eq!(read(&store, &sha256).await.expect("it reads"), legacy);
    }
}

#[tokio::test]
async fn another_stores_keys_do_not_open_a_blob() {
    let base = tempfile::tempdir().expect("a temporary directory");
    let ours = store(base.path()).await;
    let stored = put(&ours, b"a captured post", 64).await;
    let other_base = tempfile::tempdir().expect("a temporary directory");
    let theirs = store(other_base.path()).await;
    let target = theirs.path_of(&stored.sha256);
    std::fs::create_dir_all(target.parent().expect("a parent")).expect("the directories");
    std::fs::copy(ours.path_of(&stored.sha256), &target).expect("copied");
    assert!(read(&theirs, &stored.sha256).await.is_err());
}
