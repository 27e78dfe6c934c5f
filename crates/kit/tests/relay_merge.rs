//! The relay sending several effects of a mergeable method as one call, against a real store: each
//! effect is applied, no call carries more than the method allows or a request id, and an effect
//! the peer refuses is found by sending the merged ones alone, and kept as refused by itself.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use doxwatch_kit::{
    db::Db,
    outbox::{self, Deliver, Effect, Mergeable, Message, Relay, RelaySettings},
    testing::TestDatabase,
};
use prost::Message as _;
use tokio::sync::watch;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../../services/intake/migrations/sqlite");
const MIGRATIONS: doxwatch_kit::db::Migrations =
    doxwatch_kit::db::Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

const METHOD: &str = "/test.Items/Add";
const MERGEABLE: &[Mergeable] = &[Mergeable { peer: "items", method: METHOD, request_id_field: 2, most: 4 }];

/// A request with a list, as RegisterLinks has.
#[derive(Clone, PartialEq, prost::Message)]
struct AddItems {
    #[prost(string, repeated, tag = "1")]
    items: Vec<String>,
    #[prost(string, tag = "2")]
    request_id: String,
}

/// A peer that refuses any call holding the item "refused", and records the calls it took:
/// their items and request id.
#[derive(Default)]
struct ItemsPeer {
    calls: Mutex<Vec<AddItems>>,
}

impl Deliver for ItemsPeer {
    fn deliver<'a>(
        &'a self,
        message: &'a Message,
    ) -> Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send + 'a>> {
        Box::pin(async move {
            let call = AddItems::decode(message.payload.as_slice())
                .map_err(|e| tonic::Status::invalid_argument(format!("not a request: {e}")))?;
            if call.items.iter().any(|i| i == "refused") {
                return Err(tonic::Status::invalid_argument("items[0]: refused"));
            }
            self.calls.lock().expect("not poisoned").push(call);
            Ok(())
        })
    }
}

async fn merged_effects_are_each_applied_and_a_refused_one_is_kept_alone(db: TestDatabase) {
    let store =
        doxwatch_kit::testing::with_fresh_keys(Db::connect(db.url(), 5, MIGRATIONS).await.expect("store")).await;
    let mut written = Vec::new();
    for n in 0..23 {
        let item = if n == 9 { "refused".to_owned() } else { format!("item-{n}") };
        let mut tx = store.begin().await.expect("a transaction");
        let effect = Effect::new("items", METHOD, format!("things/{n}"), |request_id| AddItems {
            items: vec![item.clone(), format!("{item}-b")],
            request_id,
        });
        written.push((effect.id.to_string(), item));
        outbox::enqueue(&mut tx, store.keyring(), effect).await.expect("enqueued");
        tx.commit().await.expect("committed");
    }
    let peer = Arc::new(ItemsPeer::default());
    let settings = RelaySettings { poll_interval: Duration::from_millis(10), batch_size: 32, ..Default::default() };
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(Relay::new(store.clone(), peer.clone(), settings).merging(MERGEABLE).run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = outbox::status(&store).await.expect("status");
        if status.pending == 0 {
            assert_eq!((status.delivered, status.rejected), (22, 1), "{status:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the outbox did not empty: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    relay.await.expect("the relay ends");

    let calls = peer.calls.lock().expect("not poisoned").clone();
    assert!(calls.iter().all(|c| c.items.len() <= 2 * 4), "a call carried more than 4 effects");
    assert!(calls.iter().any(|c| c.items.len() > 2), "no call carried several effects: {calls:?}");
    for call in calls.iter().filter(|c| c.items.len() > 2) {
        assert_eq!(call.request_id, "", "a merged call keeps no request id");
    }
    for (id, item) in &written {
        let sent: Vec<&AddItems> = calls.iter().filter(|c| c.items.contains(item)).collect();
        if item == "refused" {
            assert!(sent.is_empty());
            continue;
        }
        assert!(!sent.is_empty(), "{item} was never applied");
        assert!(sent.iter().all(|c| c.items.contains(&format!("{item}-b"))), "{item} was split");
        // One alone carries its message id, as an unmerged effect does.
        for call in sent.iter().filter(|c| c.items.len() == 2) {
            assert_eq!(&call.request_id, id);
        }
    }
    let refused: Vec<(String, Option<String>)> = doxwatch_kit::on_pool!(store.read(), p => {
        sqlx::query_as("SELECT ordering_key, last_error FROM outbox WHERE state = 3").fetch_all(p).await.expect("rows")
    });
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, "things/9");
    assert!(refused[0].1.as_deref().is_some_and(|e| e.contains("refused")), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_merged_effects() {
    merged_effects_are_each_applied_and_a_refused_one_is_kept_alone(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_merged_effects() {
    match TestDatabase::postgres().await {
        Some(db) => merged_effects_are_each_applied_and_a_refused_one_is_kept_alone(db).await,
        None => eprintln!("DATABASE_URL is not set: PostgreSQL run skipped"),
    }
}
