//! The kit's own tables come with the kit's migrations, run beside each service's. A store made
//! before, whose service migrations created the outbox themselves (version 2, since removed from
//! the services), opens and keeps its effects.

use doxwatch_kit::{
    db::{Db, Migrations},
    on_pool, outbox,
    testing::TestDatabase,
};

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: Migrations = Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

async fn a_store_made_before_the_kit_owned_the_outbox_opens(db: TestDatabase) {
    let store = Db::connect(db.url(), 2, MIGRATIONS).await.expect("a fresh store");
    let kek = doxwatch_kit::sealing::Kek::from_base64(&doxwatch_kit::sealing::Kek::generate().unwrap()).unwrap();
    let keys = doxwatch_kit::sealing::Keyring::open(&store, &kek).await.expect("the store's data keys");
    let mut tx = store.begin().await.unwrap();
    let effect =
        outbox::Effect::new("links", "/doxwatch.links.v1.LinksService/RegisterLinks", "cases/1".into(), |id| {
            doxwatch_proto::links::RegisterLinksRequest { registrations: vec![], request_id: id }
        });
    outbox::enqueue(&mut tx, &keys, effect).await.unwrap();
    tx.commit().await.unwrap();
    // Make it look as an older store does: the service's own outbox migration applied, the kit's not.
    on_pool!(store.write(), p => {
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 1000001").execute(p).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (2, 'outbox', TRUE, $1, 0)",
        )
        .bind(vec![0u8; 48])
        .execute(p)
        .await
        .unwrap();
    });
    store.close().await;

    let store = Db::connect(db.url(), 2, MIGRATIONS).await.expect("the older store opens");
    assert_eq!(outbox::status(&store).await.unwrap().pending, 1, "its effects are kept");
    let applied: Vec<(i64,)> = on_pool!(store.read(), p => {
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version").fetch_all(p).await.unwrap()
    });
    assert_eq!(
        applied,
        vec![
            (1,),
            (2,),
            (3,),
            (4,),
            (5,),
            (6,),
            (7,),
            (8,),
            (9,),
            (10,),
            (11,),
            (12,),
            (1000001,),
            (1000002,),
            (1000003,),
            (1000004,),
            (1000005,)
        ],
        "the kit's migration is recorded, the old one kept"
    );
    store.close().await;
}

/// Request ids past their retention are deleted, with the answers (and personal data) kept for them.
async fn request_ids_past_their_retention_are_deleted(db: TestDatabase) {
    use doxwatch_kit::idempotency::{self, RequestKey};
    let store = Db::connect(db.url(), 2, MIGRATIONS).await.expect("a fresh store");
    let kek = doxwatch_kit::sealing::Kek::from_base64(&doxwatch_kit::sealing::Kek::generate().unwrap()).unwrap();
    let keys = doxwatch_kit::sealing::Keyring::open(&store, &kek).await.expect("the store's data keys");
    let store = store.with_keyring(keys);
    for id in ["old", "new"] {
        let key = RequestKey::new("Test", id, &prost_types::Timestamp::default()).expect("a key");
        let mut tx = store.begin().await.unwrap();
        idempotency::claim(&mut tx, &key).await.unwrap();
        idempotency::remember(&mut tx, store.keyring(), &key, &prost_types::Timestamp { seconds: 1, nanos: 0 })
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let eight_days_ago = doxwatch_kit::db::Ts(time::OffsetDateTime::now_utc() - time::Duration::days(8));
    on_pool!(store.write(), p => {
        sqlx::query("UPDATE idempotency_keys SET recorded_at = $1 WHERE request_id = 'old'")
            .bind(eight_days_ago)
            .execute(p)
            .await
            .unwrap();
    });
    // Effects: one delivered eight days ago, one delivered now, one pending since eight days ago.
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for key in ["old-delivered", "new-delivered", "old-pending"] {
        let effect = outbox::Effect::new("links", "/doxwatch.links.v1.LinksService/RegisterLinks", key.into(), |_| {
            prost_types::Timestamp::default()
        });
        ids.push(outbox::enqueue(&mut tx, store.keyring(), effect).await.unwrap());
    }
    tx.commit().await.unwrap();
    let now = doxwatch_kit::db::Ts(time::OffsetDateTime::now_utc());
    for (id, state, done) in [(ids[0], 2, eight_days_ago), (ids[1], 2, now), (ids[2], 1, eight_days_ago)] {
        on_pool!(store.write(), p => {
            sqlx::query("UPDATE outbox SET state = $2, done_time = $3, create_time = $3 WHERE id = $1")
                .bind(id)
                .bind(state)
                .bind(done)
                .execute(p)
                .await
                .unwrap();
        });
    }
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    assert_eq!(idempotency::expire(&store, week).await.unwrap(), 1);
    let left: Vec<(String,)> = on_pool!(store.read(), p => {
        sqlx::query_as("SELECT request_id FROM idempotency_keys").fetch_all(p).await.unwrap()
    });
    assert_eq!(left, vec![("new".to_owned(),)]);
    // The delivered effect's request (sealed personal data) goes with the answers; what is still
    // owed stays.
    let effects: Vec<(String,)> = on_pool!(store.read(), p => {
        sqlx::query_as("SELECT ordering_key FROM outbox ORDER BY seq").fetch_all(p).await.unwrap()
    });
    assert_eq!(effects, vec![("new-delivered".to_owned(),), ("old-pending".to_owned(),)]);
    store.close().await;
}

/// A service that writes no effects (link-tracking) gets no outbox table; its outbox reads as empty
/// and the sweeps that clean the outbox leave it alone.
async fn a_service_that_writes_no_effects_has_no_outbox(db: TestDatabase) {
    let migrations = Migrations { outbox: false, ..MIGRATIONS };
    let store = Db::connect(db.url(), 2, migrations).await.expect("a fresh store");
    assert!(!store.keeps_outbox());
    let outbox_tables: Vec<(String,)> = on_pool!(store.read(), p => {
        sqlx::query_as(if db.backend() == "postgres" {
            "SELECT table_name::text FROM information_schema.tables WHERE table_name = 'outbox'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
        })
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert!(outbox_tables.is_empty(), "no outbox table: {outbox_tables:?}");
    let status = outbox::status(&store).await.expect("an empty outbox's status");
    assert_eq!((status.pending, status.delivered, status.rejected, status.oldest_pending), (0, 0, 0, None));
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    assert_eq!(doxwatch_kit::idempotency::expire(&store, week).await.expect("the sweep runs"), 0);
    let kek = doxwatch_kit::sealing::Kek::from_base64(&doxwatch_kit::sealing::Kek::generate().unwrap()).unwrap();
    let keys = doxwatch_kit::sealing::Keyring::open(&store, &kek).await.expect("the store's data keys");
    let store = store.with_keyring(keys);
    let report = doxwatch_kit::data_keys::Resealer::new(store.clone(), &[]).sweep().await.expect("a re-sealing sweep");
    assert_eq!(report.resealed, 0);
    store.close().await;
}

doxwatch_kit::backend_tests!(
    a_store_made_before_the_kit_owned_the_outbox_opens,
    request_ids_past_their_retention_are_deleted,
    a_service_that_writes_no_effects_has_no_outbox
);
