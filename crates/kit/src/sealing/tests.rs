//! Sealing, opening, rotation and blind indexes, against a real store.

use super::*;
use crate::db::Migrations;

async fn store() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    let db = Db::connect(&url, 2, Migrations { postgres: &NONE, sqlite: &NONE, outbox: true }).await.unwrap();
    (dir, db)
}

fn new_kek() -> (String, Kek) {
    let text = Kek::generate().unwrap();
    let kek = Kek::from_base64(&text).unwrap();
    (text, kek)
}

#[tokio::test]
async fn a_sealed_value_opens_only_as_itself() {
    let (_dir, db) = store().await;
    let (_, kek) = new_kek();
    let keys = Keyring::open(&db, &kek).await.unwrap();
    let sealed = keys.seal_text("case_subjects.display_name", "case-1/1/0", "Chan Tai Man").unwrap();
    assert!(sealed.starts_with("dw1.k1.") && !sealed.contains("Chan"), "{sealed}");
    assert_eq!(keys.open_text("case_subjects.display_name", "case-1/1/0", &sealed).unwrap(), "Chan Tai Man");
    let again = keys.seal_text("case_subjects.display_name", "case-1/1/0", "Chan Tai Man").unwrap();
    assert_ne!(sealed, again, "each value has its own nonce");
    // Moved to another record or column, or changed, it does not open.
    assert!(matches!(keys.open_text("case_subjects.display_name", "case-2/1/0", &sealed), Err(SealError::Open { .. })));
    assert!(matches!(keys.open_text("cases.summary", "case-1/1/0", &sealed), Err(SealError::Open { .. })));
    let mut bytes = sealed.into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(keys.open_text("case_subjects.display_name", "case-1/1/0", &tampered).is_err());
    // A value from before sealing reads as it is.
    assert_eq!(keys.open_text("cases.summary", "x", "plain text").unwrap(), "plain text");
    let blob = keys.seal_bytes("evidence", "sha", b"capture").unwrap();
    assert_eq!(keys.open_bytes("evidence", "sha", &blob).unwrap(), b"capture");
    assert!(keys.open_bytes("evidence", "other", &blob).is_err());
}

#[tokio::test]
async fn keys_survive_a_restart_open_only_with_their_kek_and_rotate() {
    let (_dir, db) = store().await;
    let (_, kek) = new_kek();
    let keys = Keyring::open(&db, &kek).await.unwrap();
    let old = keys.seal_text("f", "r", "before the rotation").unwrap();
    let index = keys.blind_index("name", "chan").unwrap();

    // The same store and KEK after a restart: the same keys.
    let reopened = Keyring::open(&db, &kek).await.unwrap();
    assert_eq!(reopened.open_text("f", "r", &old).unwrap(), "before the rotation");
    assert_eq!(reopened.blind_index("name", "chan").unwrap(), index);
    // Another KEK opens none of them.
    let (_, other) = new_kek();
    assert!(matches!(Keyring::open(&db, &other).await, Err(SealError::Unwrap(1))));

    let id = reopened.rotate(&db).await.unwrap().id;
    assert_eq!(id, 3, "keys 1 (sealing) and 2 (index) came first");
    let new = reopened.seal_text("f", "r", "after").unwrap();
    assert!(new.starts_with("dw1.k3.") && reopened.is_current(&new).unwrap() && !reopened.is_current(&old).unwrap());
    assert_eq!(reopened.open_text("f", "r", &old).unwrap(), "before the rotation", "old values stay readable");
    assert_eq!(reopened.blind_index("name", "chan").unwrap(), index, "the index key does not rotate");
    // A replica that started before the rotation learns of the new key.
    assert!(matches!(keys.open_text("f", "r", &new), Err(SealError::UnknownKey(3))));
    keys.reload(&db).await.unwrap();
    assert_eq!(keys.open_text("f", "r", &new).unwrap(), "after");
    assert_eq!(keys.active_key().unwrap(), 3);
}

#[tokio::test]
async fn a_rotated_key_seals_only_once_every_replica_can_have_read_it() {
    let (_dir, db) = store().await;
    let (_, kek) = new_kek();
    let hour = std::time::Duration::from_secs(3600);
    let first = Keyring::open_with(&db, &kek, hour).await.unwrap();
    assert_eq!(first.active_key().unwrap(), 1, "the first key seals from the start");
    let replica = Keyring::open_with(&db, &kek, hour).await.unwrap();
    let added = first.rotate(&db).await.unwrap();
    assert!(!added.active);
    assert_eq!(added.active_from - added.create_time, time::Duration::HOUR);
    // Until then both replicas seal with key 1, which both hold.
    let sealed = first.seal_text("f", "r", "x").unwrap();
    assert!(sealed.starts_with("dw1.k1."), "{sealed}");
    assert_eq!(replica.open_text("f", "r", &sealed).unwrap(), "x");
    let status = first.status().unwrap();
    assert_eq!(status.iter().map(|k| (k.id, k.active)).collect::<Vec<_>>(), vec![(1, true), (3, false)]);
    assert_eq!(first.reload_interval(), std::time::Duration::from_secs(30));

    // Without a delay, a rotation takes effect at once.
    let now = Keyring::open(&db, &kek).await.unwrap();
    assert_eq!(now.active_key().unwrap(), 3);
}

#[test]
fn keks_are_32_bytes_of_base64() {
    assert!(Kek::from_base64("not base64!").is_err());
    assert!(Kek::from_base64(&base64::engine::general_purpose::STANDARD.encode([0u8; 16])).is_err());
    assert!(Kek::from_base64(&Kek::generate().unwrap()).is_ok());
    assert!(matches!(Keyring::none().seal_text("f", "r", "x"), Err(SealError::NoKeys)));
}

#[test]
fn names_and_phones_are_normalized_for_the_index() {
    assert_eq!(name_terms("Chan  Tai-man"), vec!["chan", "man", "tai"]);
    assert_eq!(name_terms("chan tai man"), name_terms("CHAN Tai Man"));
    assert_eq!(name_terms("陳大文"), vec!["陳大文"]);
    assert_eq!(phone_digits("+852 9123 4567").as_deref(), Some("91234567"));
    assert_eq!(phone_digits("9123-4567").as_deref(), Some("91234567"));
    assert_eq!(phone_digits("123"), None);
}
