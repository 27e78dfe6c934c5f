//! The operational gauges every service exports besides its RPC metrics: the depth of its outbox,
//! the age of the oldest undelivered effect, refused effects, and its database pool's use. The
//! outbox figures are sampled by a background task (a gauge callback cannot query the store).

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use opentelemetry::{KeyValue, global};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::{
    db::{Db, Pool},
    outbox,
};

#[derive(Default)]
struct Sample {
    pending: AtomicI64,
    rejected: AtomicI64,
    oldest_age_ms: AtomicI64,
}

fn pool_use(pool: &Pool) -> (i64, i64) {
    match pool {
        Pool::Postgres(p) => (i64::from(p.size()), p.num_idle() as i64),
        Pool::Sqlite(p) => (i64::from(p.size()), p.num_idle() as i64),
    }
}

/// Registers the gauges of `service` and samples its outbox every `every` until `stop`.
pub fn observe(
    service: &'static str,
    db: Db,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let sample = Arc::new(Sample::default());
    let meter = global::meter("doxwatch");
    let attrs = [KeyValue::new("service", service)];
    {
        let sample = sample.clone();
        let attrs = attrs.clone();
        let _ = meter
            .i64_observable_gauge("outbox.pending")
            .with_description("Effects not yet delivered to peers")
            .with_callback(move |o| o.observe(sample.pending.load(Ordering::Relaxed), &attrs))
            .build();
    }
    {
        let sample = sample.clone();
        let attrs = attrs.clone();
        let _ = meter
            .i64_observable_gauge("outbox.rejected")
            .with_description("Effects peers refused")
            .with_callback(move |o| o.observe(sample.rejected.load(Ordering::Relaxed), &attrs))
            .build();
    }
    {
        let sample = sample.clone();
        let attrs = attrs.clone();
        let _ = meter
            .i64_observable_gauge("outbox.oldest_pending_age")
            .with_unit("ms")
            .with_description("Age of the oldest undelivered effect")
            .with_callback(move |o| o.observe(sample.oldest_age_ms.load(Ordering::Relaxed), &attrs))
            .build();
    }
    {
        let db = db.clone();
        let _ = meter
            .i64_observable_gauge("db.pool.connections")
            .with_description("Database connections by state")
            .with_callback(move |o| {
                let (size, idle) = pool_use(db.write());
                o.observe(size - idle, &[KeyValue::new("service", service), KeyValue::new("state", "in_use")]);
                o.observe(idle, &[KeyValue::new("service", service), KeyValue::new("state", "idle")]);
            })
            .build();
    }
    tokio::spawn(async move {
        loop {
            if let Ok(status) = outbox::status(&db).await {
                sample.pending.store(status.pending, Ordering::Relaxed);
                sample.rejected.store(status.rejected, Ordering::Relaxed);
                let age =
                    status.oldest_pending.map_or(0, |t| (OffsetDateTime::now_utc() - t).whole_milliseconds() as i64);
                sample.oldest_age_ms.store(age.max(0), Ordering::Relaxed);
            }
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}
