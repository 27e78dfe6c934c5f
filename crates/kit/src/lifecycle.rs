//! How every service runs: the server, its outbox relay, its operational gauges and its store
//! probe side by side. On shutdown the server finishes its calls first, then the background work
//! stops and the store closes, all within the grace period: whatever is still running after it is
//! abandoned and named, and the service ends with an error, so that SIGTERM always stops it.

use std::{future::Future, time::Duration};

use opentelemetry::{KeyValue, global};
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
    time::Instant,
};

use crate::{
    db::Db,
    error::CauseChain,
    outbox::Relay,
    rollup::store::Folding,
    server::{GrpcServer, Health, ServerError},
};

/// How often the operational gauges sample the outbox.
const GAUGE_SAMPLING: Duration = Duration::from_secs(5);

/// How often request ids past their retention are deleted.
const REQUEST_ID_SWEEPING: Duration = Duration::from_secs(600);

/// How often the figures' pending points are looked for when there were none.
const FOLDING: Duration = Duration::from_millis(250);

/// How often the store is probed for health.
const STORE_PROBING: Duration = Duration::from_secs(1);

/// Serves `server` until `shutdown`, with the relay (if the service has peers to deliver to), the
/// fold of its figures' points, the gauges, the store probe, and whatever `background` starts
/// given the stop signal (a rechecker, say).
pub async fn run_service(
    service: &'static str,
    server: GrpcServer,
    db: Db,
    relay: Option<Relay>,
    figures: &'static dyn Folding,
    background: impl FnOnce(watch::Receiver<bool>) -> Option<JoinHandle<()>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let grace = server.limits().shutdown_grace;
    let probe_timeout = server.limits().store_probe_timeout;
    let (stop, stopped) = watch::channel(false);
    let mut tasks: Vec<(&'static str, JoinHandle<()>)> = Vec::new();
    if let Some(relay) = relay {
        // Named after this replica, so that a restart takes back its dead run's claims at once.
        let relay = match server.local_addr() {
            Ok(addr) => relay.replica(crate::outbox::replica_name(service, addr.port())),
            Err(_) => relay,
        };
        tasks.push(("the outbox relay", tokio::spawn(relay.run(stopped.clone()))));
    }
    tasks.push((
        "the fold of the figures",
        tokio::spawn(crate::rollup::store::keep_folding(service, figures, db.clone(), FOLDING, stopped.clone())),
    ));
    if let Some(task) = background(stopped.clone()) {
        tasks.push(("background work", task));
    }
    tasks.push(("the gauges", crate::metrics::observe(service, db.clone(), GAUGE_SAMPLING, stopped.clone())));
    let retention = server.limits().request_id_retention;
    tasks.push((
        "the request-id sweep",
        tokio::spawn(crate::idempotency::sweep(service, db.clone(), retention, REQUEST_ID_SWEEPING, stopped.clone())),
    ));
    tasks.push(("the store probe", probe_store(service, db.clone(), server.health(), probe_timeout, stopped)));

    // The grace period runs from the signal, whatever part of the shutdown it is spent in.
    let (signalled, signal_time) = oneshot::channel::<Instant>();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled.send(Instant::now());
    };
    let served = server.serve(shutdown).await;
    let _ = stop.send(true);
    let deadline = match signal_time.await {
        Ok(at) => at + grace,
        Err(_) => Instant::now() + grace,
    };

    let mut cut_short = Vec::new();
    for (name, mut task) in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
            cut_short.push(name.to_owned());
        }
    }
    // Closing waits for every connection to come back; one that never does must not hold the
    // process.
    if tokio::time::timeout_at(deadline, db.close()).await.is_err() {
        cut_short.push("the store's connections".to_owned());
    }
    match served {
        Err(ServerError::CutShort(calls)) => {
            cut_short.insert(0, calls);
            Err(ServerError::CutShort(cut_short.join(", ")))
        }
        Err(e) => Err(e),
        Ok(()) if cut_short.is_empty() => Ok(()),
        Ok(()) => {
            let cut = cut_short.join(", ");
            tracing::error!(service, cut_short = %cut, "still running after the grace period; abandoned");
            Err(ServerError::CutShort(cut))
        }
    }
}

/// Probes the store every [`STORE_PROBING`] and reports it in health and in the `store.up` gauge:
/// a store that stops answering (a lock held from outside, a wedged connection) turns the
/// service NOT_SERVING within `timeout`, and SERVING again when it answers, without a restart.
fn probe_store(
    service: &'static str,
    db: Db,
    health: Health,
    timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let meter = global::meter("doxwatch");
    let up = meter.i64_gauge("store.up").with_description("1 while the store answers its health probe, else 0").build();
    let latency = meter
        .f64_histogram("store.probe.duration")
        .with_unit("s")
        .with_description("How long the store took to answer its health probe")
        .build();
    let attrs = [KeyValue::new("service", service)];
    tokio::spawn(async move {
        let mut answered = true;
        loop {
            let started = std::time::Instant::now();
            let outcome = tokio::select! {
                outcome = db.probe(timeout) => outcome,
                _ = stop.changed() => return,
            };
            latency.record(started.elapsed().as_secs_f64(), &attrs);
            let answers = outcome.is_ok();
            up.record(i64::from(answers), &attrs);
            match (&outcome, answered) {
                (Err(e), true) => {
                    tracing::error!(service, error = %CauseChain(e), "the store does not answer: NOT_SERVING")
                }
                (Ok(()), false) => tracing::info!(service, "the store answers again: SERVING"),
                _ => {}
            }
            answered = answers;
            health.store_answers(answers).await;
            tokio::select! {
                () = tokio::time::sleep(STORE_PROBING) => {}
                _ = stop.changed() => return,
            }
        }
    })
}
