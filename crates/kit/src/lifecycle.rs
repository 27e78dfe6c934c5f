//! How every service runs: the server, its outbox relay and its operational gauges side by side;
//! on shutdown the server finishes its calls first, then the background work stops and the store
//! closes.

use std::{future::Future, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    db::Db,
    outbox::Relay,
    server::{GrpcServer, ServerError},
};

/// How often the operational gauges sample the outbox.
const GAUGE_SAMPLING: Duration = Duration::from_secs(5);

/// Serves `server` until `shutdown`, with the relay (if the service has peers to deliver to), the
/// gauges, and whatever `background` starts given the stop signal (a rechecker, say).
pub async fn run_service(
    service: &'static str,
    server: GrpcServer,
    db: Db,
    relay: Option<Relay>,
    background: impl FnOnce(watch::Receiver<bool>) -> Option<JoinHandle<()>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let (stop, stopped) = watch::channel(false);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    if let Some(relay) = relay {
        tasks.push(tokio::spawn(relay.run(stopped.clone())));
    }
    tasks.extend(background(stopped.clone()));
    tasks.push(crate::metrics::observe(service, db.clone(), GAUGE_SAMPLING, stopped));
    let result = server.serve(shutdown).await;
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    db.close().await;
    result
}
