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
const MIGRATIONS: doxwatch_kit::db::Migrations =
    doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

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
    let migrations = MIGRATIONS;
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
    let migrations = MIGRATIONS;
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

/// A peer that answers nothing until the test lets it: deliveries stay in flight.
#[derive(Default)]
struct HeldPeer {
    in_flight: Mutex<usize>,
    release: tokio::sync::Notify,
    released: std::sync::atomic::AtomicBool,
}

impl Deliver for HeldPeer {
    fn deliver<'a>(
        &'a self,
        _message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>> {
        Box::pin(async move {
            *self.in_flight.lock().expect("not poisoned") += 1;
            let released = self.release.notified();
            if !self.released.load(std::sync::atomic::Ordering::SeqCst) {
                released.await;
            }
            Ok(())
        })
    }
}

impl HeldPeer {
    fn let_go(&self) {
        self.released.store(true, std::sync::atomic::Ordering::SeqCst);
        self.release.notify_waiters();
    }
}

/// A store with `count` effects over `keys` keys, waiting to be delivered.
async fn store_with_effects(db: &TestDatabase, count: u32, keys: u32) -> Db {
    let migrations = MIGRATIONS;
    let store =
        doxwatch_kit::testing::with_fresh_keys(Db::connect(db.url(), 5, migrations).await.expect("store")).await;
    for n in 0..count {
        let mut tx = store.begin().await.unwrap();
        let effect = Effect {
            id: uuid::Uuid::now_v7(),
            peer: "links",
            method: "RegisterLinks",
            key: format!("cases/{}", n % keys),
            payload: n.to_be_bytes().to_vec(),
        };
        outbox::enqueue(&mut tx, store.keyring(), effect).await.unwrap();
        tx.commit().await.unwrap();
    }
    store
}

/// Waits, polling, until `done` holds, failing after `within`.
async fn eventually<F: Future<Output = bool>>(within: Duration, what: &str, mut done: impl FnMut() -> F) -> Duration {
    let started = tokio::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// Starts a relay of `store` under `name` whose deliveries all hang, waits until it holds claims,
/// then kills it (drops it mid-delivery, as SIGKILL would): its claims stay in the store.
async fn relay_dies_holding_claims(store: &Db, name: &str, settings: RelaySettings) {
    let peer = Arc::new(HeldPeer::default());
    let (_stop, stopped) = watch::channel(false);
    let relay = Relay::new(store.clone(), peer.clone(), settings).replica(name.to_owned());
    let running = tokio::spawn(relay.run(stopped));
    eventually(Duration::from_secs(10), "the doomed relay claims messages", || {
        let peer = peer.clone();
        async move { *peer.in_flight.lock().unwrap() > 0 }
    })
    .await;
    running.abort();
    let _ = running.await;
}

async fn pending(store: &Db) -> i64 {
    outbox::status(store).await.unwrap().pending
}

/// A replica that restarts takes back the claims its dead run held at once, however long their
/// lease: every effect is delivered well before the lease could have run out.
async fn a_restarted_replica_takes_back_its_claims_at_once(db: TestDatabase) {
    let store = store_with_effects(&db, 20, 4).await;
    let settings = RelaySettings {
        poll_interval: Duration::from_millis(10),
        lease: Duration::from_secs(60),
        ..Default::default()
    };
    relay_dies_holding_claims(&store, "intake@host-1:50051", settings).await;
    assert_eq!(pending(&store).await, 20, "nothing was delivered by the dead run");

    let peer = Arc::new(RecordingPeer::default());
    let (stop, stopped) = watch::channel(false);
    let restarted = tokio::spawn(
        Relay::new(store.clone(), peer.clone(), settings).replica("intake@host-1:50051".into()).run(stopped),
    );
    let took = eventually(Duration::from_secs(5), "every effect delivered after the restart", || async {
        pending(&store).await == 0
    })
    .await;
    eprintln!("{}: every effect delivered {took:?} after the restart (lease 60 s)", db.backend());
    let _ = stop.send(true);
    restarted.await.unwrap();
    assert_eq!(peer.received.lock().unwrap().len(), 20, "each effect delivered once");
}

/// Another replica takes a dead replica's claims when their lease runs out, not before.
async fn another_replica_takes_a_dead_ones_claims_after_the_lease(db: TestDatabase) {
    let store = store_with_effects(&db, 6, 3).await;
    let lease = Duration::from_millis(400);
    let settings = RelaySettings { poll_interval: Duration::from_millis(10), lease, ..Default::default() };
    relay_dies_holding_claims(&store, "intake@host-1:50051", settings).await;
    let peer = Arc::new(RecordingPeer::default());
    let (stop, stopped) = watch::channel(false);
    let other = tokio::spawn(
        Relay::new(store.clone(), peer.clone(), settings).replica("intake@host-2:50051".into()).run(stopped),
    );
    let took = eventually(Duration::from_secs(5), "every effect delivered by the other replica", || async {
        pending(&store).await == 0
    })
    .await;
    let _ = stop.send(true);
    other.await.unwrap();
    assert_eq!(peer.received.lock().unwrap().len(), 6, "each effect delivered once");
    assert!(took >= lease / 2, "the other replica stepped in after {took:?}, before the dead one's lease ran out");
    eprintln!("{}: the other replica delivered everything {took:?} after the death (lease {lease:?})", db.backend());
}

/// A live relay renews its claims while a slow peer holds its deliveries: another replica polling
/// all along takes none of them, however many leases pass.
async fn a_live_relay_keeps_its_claims_while_it_delivers(db: TestDatabase) {
    let store = store_with_effects(&db, 3, 3).await;
    // Renewed every third of it: a second lets a loaded machine renew in time.
    let lease = Duration::from_secs(1);
    let settings = RelaySettings { poll_interval: Duration::from_millis(10), lease, ..Default::default() };
    let slow = Arc::new(HeldPeer::default());
    let (stop, stopped) = watch::channel(false);
    let live = tokio::spawn(Relay::new(store.clone(), slow.clone(), settings).replica("a".into()).run(stopped.clone()));
    eventually(Duration::from_secs(10), "the live relay has every effect in flight", || {
        let slow = slow.clone();
        async move { *slow.in_flight.lock().unwrap() == 3 }
    })
    .await;
    let other_peer = Arc::new(RecordingPeer::default());
    let other =
        tokio::spawn(Relay::new(store.clone(), other_peer.clone(), settings).replica("b".into()).run(stopped.clone()));
    // Four leases pass while the deliveries are held; the other replica must not step in.
    let held_since = tokio::time::Instant::now();
    while held_since.elapsed() < lease * 4 {
        assert!(other_peer.received.lock().unwrap().is_empty(), "a live relay's claim was taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slow.let_go();
    eventually(Duration::from_secs(5), "the held deliveries complete", || async { pending(&store).await == 0 }).await;
    let _ = stop.send(true);
    live.await.unwrap();
    other.await.unwrap();
    assert!(other_peer.received.lock().unwrap().is_empty(), "a live relay's claim was taken");
    assert_eq!(*slow.in_flight.lock().unwrap(), 3, "each effect delivered once, by the relay that claimed it");
}

/// A peer that is down (UNAVAILABLE) until the test brings it up, counting attempts per message.
#[derive(Default)]
struct FlakyPeer {
    up: std::sync::atomic::AtomicBool,
    attempts: Mutex<HashMap<uuid::Uuid, u32>>,
    delivered: Mutex<Vec<uuid::Uuid>>,
}

impl Deliver for FlakyPeer {
    fn deliver<'a>(
        &'a self,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>> {
        Box::pin(async move {
            *self.attempts.lock().expect("not poisoned").entry(message.id).or_default() += 1;
            if !self.up.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(tonic::Status::unavailable("down"));
            }
            self.delivered.lock().expect("not poisoned").push(message.id);
            Ok(())
        })
    }
}

/// Effects that have backed off far while their peer was down go within about a second of its
/// return, not when their backoff ends: one of them probes the peer every `probe_interval`, and
/// its success makes the rest due.
async fn effects_go_soon_after_their_peer_returns_whatever_their_backoff(db: TestDatabase) {
    let store = store_with_effects(&db, 5, 5).await;
    let settings = RelaySettings {
        poll_interval: Duration::from_millis(10),
        base_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(60),
        probe_interval: Duration::from_millis(500),
        ..Default::default()
    };
    let peer = Arc::new(FlakyPeer::default());
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(Relay::new(store.clone(), peer.clone(), settings).run(stopped));
    // Every effect tried twice: each now waits 3 to 5 s more.
    eventually(Duration::from_secs(15), "every effect tried twice while the peer is down", || {
        let peer = peer.clone();
        async move {
            let attempts = peer.attempts.lock().unwrap();
            attempts.len() == 5 && attempts.values().all(|n| *n >= 2)
        }
    })
    .await;
    peer.up.store(true, std::sync::atomic::Ordering::SeqCst);
    let took = eventually(Duration::from_secs(10), "every effect delivered once the peer is back", || async {
        pending(&store).await == 0
    })
    .await;
    let _ = stop.send(true);
    relay.await.unwrap();
    assert_eq!(peer.delivered.lock().unwrap().len(), 5, "each effect delivered once");
    assert!(took < Duration::from_millis(1500), "the effects went {took:?} after the peer returned");
    eprintln!("{}: every effect delivered {took:?} after the peer returned", db.backend());
}

/// A peer that holds every delivery of one key until the test lets it go and answers the rest at
/// once, recording the keys it applied in order.
#[derive(Default)]
struct OneSlowKey {
    held: HeldPeer,
    applied: Mutex<Vec<String>>,
}

const SLOW: &str = "cases/slow";

impl Deliver for OneSlowKey {
    fn deliver<'a>(
        &'a self,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>> {
        Box::pin(async move {
            if message.key == SLOW {
                self.held.deliver(message).await?;
            }
            self.applied.lock().expect("not poisoned").push(message.key.clone());
            Ok(())
        })
    }
}

async fn enqueue(store: &Db, key: &str) {
    let mut tx = store.begin().await.unwrap();
    let effect = Effect {
        id: uuid::Uuid::now_v7(),
        peer: "links",
        method: "RegisterLinks",
        key: key.to_owned(),
        payload: vec![],
    };
    outbox::enqueue(&mut tx, store.keyring(), effect).await.unwrap();
    tx.commit().await.unwrap();
}

/// Independent keys go concurrently and a delivery that hangs holds back only its own key: the
/// hundred other keys' effects (many times the relay's places) all go while it hangs, and the
/// slow key's later effects wait for it, in order.
async fn a_slow_key_holds_back_only_its_own_effects(db: TestDatabase) {
    let store = store_with_effects(&db, 0, 1).await;
    enqueue(&store, SLOW).await;
    for n in 0..100 {
        enqueue(&store, &format!("cases/{n}")).await;
    }
    enqueue(&store, SLOW).await;
    enqueue(&store, SLOW).await;
    let settings = RelaySettings { poll_interval: Duration::from_millis(10), batch_size: 8, ..Default::default() };
    let peer = Arc::new(OneSlowKey::default());
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(Relay::new(store.clone(), peer.clone(), settings).run(stopped));
    eventually(Duration::from_secs(30), "every other key's effect applied while one key's hangs", || {
        let peer = peer.clone();
        async move { peer.applied.lock().unwrap().len() == 100 }
    })
    .await;
    eventually(Duration::from_secs(30), "every other key's effect recorded", || async { pending(&store).await == 3 })
        .await;
    assert!(!peer.applied.lock().unwrap().iter().any(|k| k == SLOW));
    peer.held.let_go();
    eventually(Duration::from_secs(30), "the slow key's effects applied once let go", || async {
        pending(&store).await == 0
    })
    .await;
    let _ = stop.send(true);
    relay.await.unwrap();
    let applied = peer.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 103, "each effect applied once");
    assert_eq!(applied[100..], [SLOW, SLOW, SLOW]);
}

/// A commit wakes the relay: an effect goes at once, not at the next poll an hour away.
async fn a_commit_wakes_the_relay(db: TestDatabase) {
    let store = store_with_effects(&db, 1, 1).await;
    let settings = RelaySettings { poll_interval: Duration::from_secs(3600), ..Default::default() };
    let peer = Arc::new(OneSlowKey::default());
    let (stop, stopped) = watch::channel(false);
    let relay = Relay::new(store.clone(), peer.clone(), settings);
    let wake = relay.waker();
    let running = tokio::spawn(relay.run(stopped));
    // The effect waiting at start goes in the relay's first look.
    eventually(Duration::from_secs(10), "the waiting effect applied", || async { pending(&store).await == 0 }).await;
    enqueue(&store, "cases/later").await;
    wake.notify_one();
    eventually(Duration::from_secs(10), "the effect of the commit applied", || async { pending(&store).await == 0 })
        .await;
    let _ = stop.send(true);
    running.await.unwrap();
    assert_eq!(peer.applied.lock().unwrap().clone(), ["cases/0", "cases/later"]);
}

/// A peer that holds every delivery until the test lets it go, then refuses the effects of keys
/// ending in 0, fails those ending in 1 for now, and applies the rest.
#[derive(Default)]
struct MixedAnswers {
    held: HeldPeer,
}

impl Deliver for MixedAnswers {
    fn deliver<'a>(
        &'a self,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>> {
        Box::pin(async move {
            self.held.deliver(message).await?;
            match message.key.chars().last() {
                Some('0') => Err(tonic::Status::invalid_argument("refused by the peer")),
                Some('1') => Err(tonic::Status::unavailable("the peer is down")),
                _ => Ok(()),
            }
        })
    }
}

/// Deliveries that end together are recorded together, each with its own outcome: a refusal kept
/// with its reason, a passing failure waiting out its backoff, the rest delivered, in fewer
/// transactions than there are outcomes.
async fn outcomes_that_end_together_are_written_together(db: TestDatabase) {
    let store = store_with_effects(&db, 30, 30).await;
    let settings = RelaySettings {
        poll_interval: Duration::from_millis(10),
        batch_size: 32,
        base_backoff: Duration::from_secs(600),
        probe_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let peer = Arc::new(MixedAnswers::default());
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(Relay::new(store.clone(), peer.clone(), settings).run(stopped));
    eventually(Duration::from_secs(10), "every effect in flight at once", || {
        let peer = peer.clone();
        async move { *peer.held.in_flight.lock().unwrap() == 30 }
    })
    .await;
    peer.held.let_go();
    eventually(Duration::from_secs(10), "every outcome recorded", || async {
        let status = outbox::status(&store).await.unwrap();
        status.delivered == 24 && status.rejected == 3
    })
    .await;
    let _ = stop.send(true);
    relay.await.unwrap();
    type Row = (String, i64, i64, Option<String>, bool);
    let rows: Vec<Row> = doxwatch_kit::on_pool!(store.read(), p => {
        sqlx::query_as(
            "SELECT ordering_key, CAST(state AS BIGINT), CAST(attempts AS BIGINT), last_error, \
             claimed_by IS NULL FROM outbox ORDER BY seq",
        )
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert_eq!(rows.len(), 30);
    for (key, state, attempts, error, unclaimed) in &rows {
        let (want_state, want_error) = match key.chars().last() {
            Some('0') => (3, Some("refused by the peer")),
            Some('1') => (1, Some("the peer is down")),
            _ => (2, None),
        };
        assert_eq!(*state, want_state, "{key}");
        assert_eq!(*attempts, 1, "{key}");
        assert!(unclaimed, "{key} is still claimed");
        match want_error {
            Some(want) => assert!(error.as_deref().is_some_and(|e| e.contains(want)), "{key}: {error:?}"),
            None => assert_eq!(*error, None, "{key}"),
        }
    }
    let writes: i64 = doxwatch_kit::on_pool!(store.read(), p => {
        sqlx::query_scalar("SELECT COUNT(DISTINCT done_time) FROM outbox WHERE state IN (2, 3)")
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert!(writes < 27 / 2, "27 outcomes that ended together were written at {writes} moments");
    eprintln!("{}: 27 outcomes written at {writes} moments", db.backend());
}

doxwatch_kit::backend_tests!(
    a_slow_key_holds_back_only_its_own_effects,
    a_commit_wakes_the_relay,
    earlier_effects_are_brought_up_to_date,
    a_restarted_replica_takes_back_its_claims_at_once,
    another_replica_takes_a_dead_ones_claims_after_the_lease,
    a_live_relay_keeps_its_claims_while_it_delivers,
    effects_go_soon_after_their_peer_returns_whatever_their_backoff,
    outcomes_that_end_together_are_written_together,
);
