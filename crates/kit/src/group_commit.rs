//! Group commit: the writes of several requests made in one transaction and committed together.
//!
//! A request that every caller makes often and that ends on rows every such request updates (a
//! case's reference counter, the audit log's head) costs a commit and a turn at those rows each.
//! Handed to a [`GroupCommit`], the writes that are waiting when its committer is free are run one
//! after the other in one transaction, and that transaction is committed once: each request still
//! sees the writes before it, and is answered only once its writes are durable.
//!
//! A request's writes stay all-or-nothing:
//! - if one request's work fails inside the shared transaction, the transaction is rolled back and
//!   every request of the group is run again alone, in a transaction of its own (retried when it
//!   lost a unique key to another writer, as [`in_transaction!`](crate::in_transaction) does), so
//!   one bad request never fails another;
//! - if the store refuses the commit, nothing was written and each request is run again alone;
//! - if the connection fails during the commit, whether it was written is unknown: every request
//!   of the group is answered with that failure (UNAVAILABLE), and a retry with its request id is
//!   answered from the store.
//!
//! The work runs on the committer's task, in the audit context, the caller and the span of the
//! request that handed it over. Work whose request has gone (a client's deadline) before it began
//! is dropped undone; once begun, it finishes and commits. The work must be able to run more than
//! once, from the start, and do nothing outside its transaction but log.

use std::time::Duration;

use futures::future::BoxFuture;
use opentelemetry::{KeyValue, global};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::{
    audit,
    db::{Db, Tx},
    transaction::{RACE_RETRIES, StoreFailure},
};

/// How many requests a group holds at most: enough to share the commit and the hot rows' turn,
/// few enough that the group holds a SQLite store's one writer for a few milliseconds.
pub const DEFAULT_MOST: usize = 32;

/// How many requests may wait for the committer; a caller beyond them waits to hand its work over.
const QUEUE: usize = 1024;

/// A handle to a store's committer. Clones share it; the committer stops when the last is dropped.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Starts the committer of `db`, which commits at most `most` requests' writes together.
    pub fn start(db: Db, most: usize) -> Self {
        let (jobs, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(serve(db, waiting, most.max(1)));
        Self { jobs }
    }

    /// Runs `work` in a write transaction shared with other requests' work, and returns its
    /// output once that transaction has committed. `work` may run more than once (see the module).
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<sqlx::Error> + StoreFailure + Send + 'static,
        F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = Work {
            work,
            output: None,
            answer,
            context: audit::current(),
            caller: crate::auth::current_caller(),
            span: tracing::Span::current(),
        };
        if self.jobs.send(Box::new(job)).await.is_err() {
            return Err(E::from(sqlx::Error::PoolClosed));
        }
        // The committer answers every job it takes; a dropped answer means it has stopped.
        answered.await.unwrap_or_else(|_| Err(E::from(sqlx::Error::WorkerCrashed)))
    }
}

/// A request's work, with where its answer goes.
trait Job: Send {
    /// Whether the request still waits for its answer.
    fn wanted(&self) -> bool;
    /// Runs the work in `tx` and keeps its output; whether it succeeded.
    fn run<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool>;
    /// Answers with the kept output (the shared transaction committed) or with `failed`.
    fn finish(self: Box<Self>, failed: Option<sqlx::Error>);
    /// Runs the work in transactions of its own and answers.
    fn alone(self: Box<Self>, db: Db) -> BoxFuture<'static, ()>;
}

struct Work<T, E, F> {
    work: F,
    output: Option<Result<T, E>>,
    answer: oneshot::Sender<Result<T, E>>,
    context: audit::Context,
    caller: Option<String>,
    span: tracing::Span,
}

impl<T, E, F> Work<T, E, F>
where
    T: Send + 'static,
    E: From<sqlx::Error> + StoreFailure + Send + 'static,
    F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    /// The work in the request's audit context, caller and span.
    fn as_requested<'t>(&self, tx: &'t mut Tx) -> impl Future<Output = Result<T, E>> + Send + use<'t, T, E, F> {
        let work = audit::scoped(self.context.clone(), (self.work)(tx));
        let (caller, span) = (self.caller.clone(), self.span.clone());
        async move {
            match caller {
                Some(caller) => crate::auth::as_caller(caller, work).instrument(span).await,
                None => work.instrument(span).await,
            }
        }
    }

    fn answer(self, result: Result<T, E>) {
        // A request that has gone (its deadline passed) no longer waits for the answer.
        let _ = self.answer.send(result);
    }
}

impl<T, E, F> Job for Work<T, E, F>
where
    T: Send + 'static,
    E: From<sqlx::Error> + StoreFailure + Send + 'static,
    F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    fn wanted(&self) -> bool {
        !self.answer.is_closed()
    }

    fn run<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let result = self.as_requested(tx).await;
            let ok = result.is_ok();
            self.output = Some(result);
            ok
        })
    }

    fn finish(self: Box<Self>, failed: Option<sqlx::Error>) {
        let mut work = *self;
        let result = match (failed, work.output.take()) {
            (Some(e), _) => Err(E::from(e)),
            (None, Some(output)) => output,
            // Finished only after running; an answer is owed all the same.
            (None, None) => Err(E::from(sqlx::Error::WorkerCrashed)),
        };
        work.answer(result);
    }

    fn alone(self: Box<Self>, db: Db) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let work = *self;
            let mut attempt = 0;
            let result = loop {
                let mut tx = match db.begin().await {
                    Ok(tx) => tx,
                    Err(e) => break Err(E::from(e)),
                };
                match work.as_requested(&mut tx).await {
                    Ok(value) => match tx.commit().await {
                        Ok(()) => break Ok(value),
                        Err(e) if crate::db::is_unique_violation(&e) && attempt < RACE_RETRIES => attempt += 1,
                        Err(e) => break Err(E::from(e)),
                    },
                    Err(e) if e.is_unique_violation() && attempt < RACE_RETRIES => {
                        // Dropping `tx` rolls it back.
                        attempt += 1
                    }
                    Err(e) => break Err(e),
                }
            };
            work.answer(result);
        })
    }
}

/// The committer: takes what is waiting, up to `most`, and commits it together.
async fn serve(db: Db, mut waiting: mpsc::Receiver<Box<dyn Job>>, most: usize) {
    let sizes = global::meter("doxwatch")
        .u64_histogram("db.group_commit.size")
        .with_description("Requests whose writes were committed in one transaction")
        .with_boundaries(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
        .build();
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(most);
    while waiting.recv_many(&mut group, most).await > 0 {
        // A request that went away before its work began is not done: it was never answered,
        // and a retry with its request id does it then.
        group.retain(|job| job.wanted());
        let alone = match group.len() {
            0 => false,
            1 => true,
            n => {
                sizes.record(n as u64, &[KeyValue::new("outcome", "attempted")]);
                match together(&db, &mut group).await {
                    Together::Committed => {
                        group.drain(..).for_each(|job| job.finish(None));
                        false
                    }
                    Together::Unknown(e) => {
                        tracing::warn!(error = %e, requests = n, "a group commit's outcome is unknown");
                        group.drain(..).for_each(|job| job.finish(Some(unknown(&e))));
                        false
                    }
                    Together::Undone => true,
                }
            }
        };
        if alone {
            for job in group.drain(..) {
                job.alone(db.clone()).await;
            }
        }
    }
}

enum Together {
    Committed,
    /// Nothing was written: run each alone.
    Undone,
    /// The commit was sent and its answer lost.
    Unknown(sqlx::Error),
}

async fn together(db: &Db, group: &mut [Box<dyn Job>]) -> Together {
    let Ok(mut tx) = db.begin().await else { return Together::Undone };
    for job in group.iter_mut() {
        if !job.run(&mut tx).await {
            // Rolled back when dropped (on a task of its own, so that it completes).
            let _ = tokio::time::timeout(Duration::from_secs(30), tx.rollback()).await;
            return Together::Undone;
        }
    }
    match tx.commit().await {
        Ok(()) => Together::Committed,
        // The store answered, refusing: it rolled the transaction back.
        Err(sqlx::Error::Database(_)) => Together::Undone,
        Err(e) => Together::Unknown(e),
    }
}

/// The failure each request of a group whose commit's outcome is unknown is answered with: an
/// I/O error, which the services answer as UNAVAILABLE.
fn unknown(e: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        format!("the store's answer to a shared commit was lost: {e}"),
    ))
}
