//! The outbox relay against a real store: several relays sharing one database deliver every
//! message exactly once and, per key, in the order the messages were written.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use doxwatch_kit::{
    db::Db,
    outbox::{self, Deliver, Effect, Message, Relay, RelaySettings},
    testing::TestDatabase,
};
use tokio::sync::watch;

// Any service's migrations will do (the kit adds its outbox table to them); intake's are used here.
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");

/// A peer that records what it was sent, in order, and is slow enough that relays overlap.
#[derive(Default)]
struct RecordingPeer {
    received: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Deliver for RecordingPeer {
    fn deliver<'a>(
        &'a self,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.received.lock().expect("not poisoned").push((message.key.clone(), message.payload.clone()));
            Ok(())
        })
    }
}

async fn two_relays_deliver_each_message_once_in_order_per_key(db: TestDatabase) {
    let migrations = doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };
    let store =
        doxwatch_kit::testing::with_fresh_keys(Db::connect(db.url(), 5, migrations).await.expect("store")).await;
    let messages = 300u32;
    let keys = 15u32;
    for n in 0..messages {
        let mut tx = store.begin().await.unwrap();
        outbox::enqueue(
            &mut tx,
            store.keyring(),
            Effect {
                id: uuid::Uuid::now_v7(),
                peer: "links",
                method: "RegisterLinks",
                key: format!("cases/{}", n % keys),
                payload: n.to_be_bytes().to_vec(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let peer = Arc::new(RecordingPeer::default());
    let settings =
        RelaySettings { poll_interval: Duration::from_millis(10), batch_size: 8, ..RelaySettings::default() };
    let (stop, stopped) = watch::channel(false);
    let mut relays = Vec::new();
    for _ in 0..2 {
        // Replicas share the store's data keys, as a service's replicas share its KEK.
        let replica = Db::connect(db.url(), 5, migrations).await.expect("store").with_keyring(store.keyring().clone());
        relays.push(tokio::spawn(Relay::new(replica, peer.clone(), settings).run(stopped.clone())));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = outbox::status(&store).await.unwrap();
        if status.pending == 0 {
            assert_eq!((status.delivered, status.rejected), (i64::from(messages), 0));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "undelivered: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    for relay in relays {
        relay.await.unwrap();
    }
    let received = peer.received.lock().unwrap().clone();
    assert_eq!(received.len(), messages as usize, "each message delivered exactly once ({})", db.backend());
    let mut last: HashMap<String, u32> = HashMap::new();
    for (key, payload) in received {
        let n = u32::from_be_bytes(payload.try_into().unwrap());
        if let Some(previous) = last.insert(key.clone(), n) {
            assert!(previous < n, "{key}: {n} delivered after {previous}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_relays() {
    two_relays_deliver_each_message_once_in_order_per_key(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_relays() {
    match TestDatabase::postgres().await {
        Some(db) => two_relays_deliver_each_message_once_in_order_per_key(db).await,
        None => eprintln!("DATABASE_URL is not set: PostgreSQL run skipped"),
    }
}

/// Effects written before delivery was generic (a short method name, no `request_id` in the
/// payload) are brought to the current form: the path, and the message id as the request id.
async fn earlier_effects_are_brought_up_to_date(db: TestDatabase) {
    use doxwatch_proto::links as pb;
    use prost::Message as _;
    let migrations = doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };
    let store =
        doxwatch_kit::testing::with_fresh_keys(Db::connect(db.url(), 5, migrations).await.expect("store")).await;
    let request = pb::RegisterLinksRequest {
        registrations: vec![pb::LinkRegistration { url: "https://t.me/example/1".into(), ..Default::default() }],
        request_id: String::new(),
    };
    let id = uuid::Uuid::now_v7();
    let mut tx = store.begin().await.unwrap();
    outbox::enqueue(
        &mut tx,
        store.keyring(),
        Effect { id, peer: "links", method: "RegisterLinks", key: "cases/1".into(), payload: request.encode_to_vec() },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let legacy = [outbox::LegacyEffect {
        method: "RegisterLinks",
        path: "/doxwatch.links.v1.LinksService/RegisterLinks",
        request_id_field: 2,
    }];
    assert_eq!(outbox::upgrade_legacy(&store, &legacy).await.unwrap(), 1);
    assert_eq!(outbox::upgrade_legacy(&store, &legacy).await.unwrap(), 0, "once only");
    let peer = Arc::new(RecordingPeer::default());
    let (stop, stopped) = watch::channel(false);
    let settings = RelaySettings { poll_interval: Duration::from_millis(10), ..RelaySettings::default() };
    let relay = tokio::spawn(Relay::new(store.clone(), peer.clone(), settings).run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while outbox::status(&store).await.unwrap().pending > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the upgraded effect is delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    relay.await.unwrap();
    let received = peer.received.lock().unwrap().clone();
    let delivered = pb::RegisterLinksRequest::decode(received[0].1.as_slice()).expect("the payload decodes");
    assert_eq!(delivered.request_id, id.to_string());
    assert_eq!(delivered.registrations, request.registrations);
}

doxwatch_kit::backend_tests!(earlier_effects_are_brought_up_to_date);
