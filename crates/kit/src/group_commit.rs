//! Group commit: the writes of several requests made in one transaction and committed together.
//!
//! A request that every caller makes often and that ends on rows every such request updates (a
//! case's reference counter, the audit log's head) costs a commit and a turn at those rows each.
//! Handed to a [`GroupCommit`], the requests that are waiting when a committer is free are written
//! in one transaction, committed once: each request still sees the writes before it, and is
//! answered only once its writes are durable. The transaction holds the audit records, numbers,
//! answers, effects and figure points of the whole group and writes each kind in a few statements
//! at the commit (see [`Tx`](crate::db::Tx)).
//!
//! A request's work comes in two phases: `prepare` writes what is the request's own, and `finish`
//! what it shares with every other (numbering, the audit log). A group prepares all its requests,
//! then finishes them all, so it holds the shared rows only for its finishing phase; on PostgreSQL
//! several committers run at once, one group preparing while another finishes. SQLite has one
//! writer, so it has one committer.
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
//! The work runs on a committer's task, in the audit context, the caller and the span of the
//! request that handed it over. Work whose request has gone (a client's deadline) before it began
//! is dropped undone; once begun, it finishes and commits. The work must be able to run more than
//! once, from the start, and do nothing outside its transaction but log.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use opentelemetry::global;
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

use crate::{
    audit,
    db::{Db, Tx},
    transaction::{RACE_RETRIES, StoreFailure},
};

/// How many requests a group holds at most: enough to share the commit and the hot rows' turn,
/// few enough that the group holds a SQLite store's one writer for a few milliseconds.
pub const DEFAULT_MOST: usize = 32;

/// How many requests may wait for a committer; a caller beyond them waits to hand its work over.
const QUEUE: usize = 1024;

/// Committers of a PostgreSQL store: two, so that one group prepares while the other holds the
/// rows every group shares (the audit log's head, the year's counter). More make smaller groups,
/// each taking those rows' locks for about as long: at sixteen clients two took 448 cases a second
/// where four took 385.
const POSTGRES_COMMITTERS: usize = 2;

/// What a request's first phase found: work for its second, or the answer already.
pub enum Prepared<P, T> {
    /// Finish with this.
    Go(P),
    /// Answered already (a replayed request id): nothing to finish.
    Done(T),
}

/// A handle to a store's committer. Clones share it; the committer stops when the last is dropped.
#[derive(Clone, Debug)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Starts the committers of `db`, each committing at most `most` requests' writes together:
    /// one on SQLite, several on PostgreSQL.
    pub fn start(db: Db, most: usize) -> Self {
        let committers = if db.is_postgres() { POSTGRES_COMMITTERS } else { 1 };
        Self::start_with(db, most, committers)
    }

    /// [`GroupCommit::start`] with `committers` committers (at least one).
    pub fn start_with(db: Db, most: usize, committers: usize) -> Self {
        let (jobs, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..committers.max(1) {
            tokio::spawn(serve(db.clone(), waiting.clone(), most.max(1)));
        }
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
        self.run_phased(answered_by(work), nothing_to_finish()).await
    }

    /// Runs `prepare`, then (unless it answered already) `finish` with what it prepared, in a
    /// write transaction shared with other requests' work, and returns the answer once that
    /// transaction has committed. Both may run more than once (see the module).
    pub async fn run_phased<P, T, E, F, G>(&self, prepare: F, finish: G) -> Result<T, E>
    where
        P: Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + StoreFailure + Send + 'static,
        F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<Prepared<P, T>, E>> + Send + 'static,
        G: for<'t> Fn(&'t mut Tx, P) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = Work {
            prepare,
            finish,
            prepared: None,
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
    /// Runs the first phase in `tx`; whether it succeeded.
    fn prepare<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool>;
    /// Runs the second phase in `tx` and keeps the answer; whether it succeeded.
    fn finish<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool>;
    /// Answers with the kept answer (the shared transaction committed) or with `failed`.
    fn answer(self: Box<Self>, failed: Option<sqlx::Error>);
    /// Runs both phases in transactions of its own and answers.
    fn alone(self: Box<Self>, db: Db) -> BoxFuture<'static, ()>;
}

struct Work<P, T, E, F, G> {
    prepare: F,
    finish: G,
    prepared: Option<Prepared<P, T>>,
    output: Option<Result<T, E>>,
    answer: oneshot::Sender<Result<T, E>>,
    context: audit::Context,
    caller: Option<String>,
    span: tracing::Span,
}

impl<P, T, E, F, G> Work<P, T, E, F, G>
where
    P: Send + 'static,
    T: Send + 'static,
    E: From<sqlx::Error> + StoreFailure + Send + 'static,
    F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<Prepared<P, T>, E>> + Send + 'static,
    G: for<'t> Fn(&'t mut Tx, P) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    /// `work` in the request's audit context, caller and span.
    fn as_requested<'t, R>(
        &self,
        work: BoxFuture<'t, Result<R, E>>,
    ) -> impl Future<Output = Result<R, E>> + Send + use<'t, R, P, T, E, F, G> {
        let work = audit::scoped(self.context.clone(), work);
        let (caller, span) = (self.caller.clone(), self.span.clone());
        async move {
            match caller {
                Some(caller) => crate::auth::as_caller(caller, work).instrument(span).await,
                None => work.instrument(span).await,
            }
        }
    }

    fn send(self, result: Result<T, E>) {
        // A request that has gone (its deadline passed) no longer waits for the answer.
        let _ = self.answer.send(result);
    }
}

impl<P, T, E, F, G> Job for Work<P, T, E, F, G>
where
    P: Send + 'static,
    T: Send + 'static,
    E: From<sqlx::Error> + StoreFailure + Send + 'static,
    F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<Prepared<P, T>, E>> + Send + 'static,
    G: for<'t> Fn(&'t mut Tx, P) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    fn wanted(&self) -> bool {
        !self.answer.is_closed()
    }

    fn prepare<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            self.output = None;
            match self.as_requested((self.prepare)(tx)).await {
                Ok(prepared) => {
                    self.prepared = Some(prepared);
                    true
                }
                Err(e) => {
                    self.output = Some(Err(e));
                    false
                }
            }
        })
    }

    fn finish<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let result = match self.prepared.take() {
                Some(Prepared::Done(answer)) => Ok(answer),
                Some(Prepared::Go(prepared)) => self.as_requested((self.finish)(tx, prepared)).await,
                // Finished only once prepared; an answer is owed all the same.
                None => Err(E::from(sqlx::Error::WorkerCrashed)),
            };
            let ok = result.is_ok();
            self.output = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failed: Option<sqlx::Error>) {
        let mut work = *self;
        let result = match (failed, work.output.take()) {
            (Some(e), _) => Err(E::from(e)),
            (None, Some(output)) => output,
            (None, None) => Err(E::from(sqlx::Error::WorkerCrashed)),
        };
        work.send(result);
    }

    fn alone(self: Box<Self>, db: Db) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut work = *self;
            let mut attempt = 0;
            let result = loop {
                let mut tx = match db.begin().await {
                    Ok(tx) => tx,
                    Err(e) => break Err(E::from(e)),
                };
                let _ = work.prepare(&mut tx).await && work.finish(&mut tx).await;
                match work.output.take() {
                    Some(Ok(value)) => match tx.commit().await {
                        Ok(()) => break Ok(value),
                        Err(e) if crate::db::is_unique_violation(&e) && attempt < RACE_RETRIES => attempt += 1,
                        Err(e) => break Err(E::from(e)),
                    },
                    Some(Err(e)) if e.is_unique_violation() && attempt < RACE_RETRIES => {
                        // Dropping `tx` rolls it back.
                        attempt += 1
                    }
                    Some(Err(e)) => break Err(e),
                    None => break Err(E::from(sqlx::Error::WorkerCrashed)),
                }
            };
            work.send(result);
        })
    }
}

/// Single-phase work as a first phase that answers.
fn answered_by<T, E, F>(
    work: F,
) -> impl for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<Prepared<(), T>, E>> + Send + 'static
where
    T: Send + 'static,
    E: Send + 'static,
    F: for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    move |tx| {
        let done = work(tx);
        Box::pin(async move { done.await.map(Prepared::Done) })
    }
}

/// The second phase of single-phase work, which never runs: its first phase answers.
fn nothing_to_finish<T, E>() -> impl for<'t> Fn(&'t mut Tx, ()) -> BoxFuture<'t, Result<T, E>> + Send + 'static
where
    T: Send + 'static,
    E: From<sqlx::Error> + Send + 'static,
{
    |_, ()| Box::pin(async { Err(E::from(sqlx::Error::WorkerCrashed)) })
}

/// A committer: takes what is waiting, up to `most`, and commits it together.
async fn serve(db: Db, waiting: Arc<Mutex<mpsc::Receiver<Box<dyn Job>>>>, most: usize) {
    let sizes = global::meter("doxwatch")
        .u64_histogram("db.group_commit.size")
        .with_description("Requests whose writes were committed in one transaction")
        .with_boundaries(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
        .build();
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(most);
    // The committers take turns waiting; the one that takes a group lets the next wait.
    while waiting.lock().await.recv_many(&mut group, most).await > 0 {
        // A request that went away before its work began is not done: it was never answered,
        // and a retry with its request id does it then.
        group.retain(|job| job.wanted());
        if group.is_empty() {
            continue;
        }
        sizes.record(group.len() as u64, &[]);
        // On a task of its own, so that work that panics fails its group's requests (their
        // answers are dropped) and not the committer.
        if tokio::spawn(commit(db.clone(), std::mem::take(&mut group))).await.is_err() {
            tracing::error!("a group commit's work panicked; its requests were answered with an error");
        }
    }
}

/// Commits `group` together, or each of its requests alone, and answers them.
async fn commit(db: Db, mut group: Vec<Box<dyn Job>>) {
    if group.len() > 1 {
        match together(&db, &mut group).await {
            Together::Committed => return group.into_iter().for_each(|job| job.answer(None)),
            Together::Unknown(e) => {
                tracing::warn!(error = %e, requests = group.len(), "a group commit's outcome is unknown");
                return group.into_iter().for_each(|job| job.answer(Some(unknown(&e))));
            }
            Together::Undone => {}
        }
    }
    for job in group {
        job.alone(db.clone()).await;
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Prepare,
    Finish,
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
    // Every request's own writes first, then the shared ones: the group holds the rows it shares
    // with other writers only from its first finish to its commit.
    for phase in [Phase::Prepare, Phase::Finish] {
        // What the requests' own writes hold (effects, figure points) is written before the group
        // takes the shared rows, so that it holds them for two statements fewer.
        if matches!(phase, Phase::Finish) && tx.write_held().await.is_err() {
            let _ = tokio::time::timeout(Duration::from_secs(30), tx.rollback()).await;
            return Together::Undone;
        }
        for job in group.iter_mut() {
            let ok = match phase {
                Phase::Prepare => job.prepare(&mut tx).await,
                Phase::Finish => job.finish(&mut tx).await,
            };
            if !ok {
                let _ = tokio::time::timeout(Duration::from_secs(30), tx.rollback()).await;
                return Together::Undone;
            }
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
