//! Small writes that many requests make at once, committed together.
//!
//! Reading a medication list writes an access-log entry and, the first time a session sees a
//! version of the list, records that it did: writes on a read path. One commit per read would
//! make the list as slow as the database's commit rate, and on SQLite every commit also empties
//! the read connections' page caches. So each request hands its write to one task, which
//! commits everything queued in one transaction.
//!
//! A write comes in one of two kinds:
//!
//! * **Awaited** ([`GroupCommit::write`]): the request is answered only after its write is
//!   committed. The order rule depends on the recorded version, so that write is awaited. The
//!   task commits as soon as an awaited write is queued, taking along whatever else is waiting.
//! * **Written behind** ([`GroupCommit::write_behind`]): the request goes on at once, and the
//!   task waits up to its linger (`Config::write_behind_linger`, 5 ms by default) for more
//!   before it commits, so that a busy server makes a few
//!   large commits instead of many small ones. Re-reading a list the session has already seen
//!   writes only its access-log entry, this way. A failed commit of such entries is retried
//!   ([`RETRIES`]); entries still not written are reported in the log (how many, never whose).
//!   [`GroupCommit::flush`] waits until everything queued before it is committed: readers of
//!   the access log call it first, and the server calls it when it stops.
//!
//! What written behind costs: the entries of the last linger of reads can be lost if the
//! process dies without stopping (docs/operations.md). Writes of every other kind (orders,
//! bookings, practice actions) are committed with their access-log entries, in one transaction,
//! before their reply.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::{Store, StoreError, StoreResult};

/// Most writes waiting for the task; a request finding it full waits for room.
const QUEUE: usize = 4096;
/// Most writes in one commit.
const MAX_GROUP: usize = 256;
/// Pauses between attempts at committing written-behind entries that failed.
const RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(500),
    Duration::from_secs(2),
];

/// The store call that writes a group in one transaction.
pub(crate) type WriteGroup<T> =
    for<'a> fn(
        &'a dyn Store,
        &'a [T],
    ) -> Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'a>>;

type Answer = oneshot::Sender<StoreResult<()>>;

/// What the task is handed.
enum Job<T> {
    /// A write; with an answer if the request waits for its commit.
    Write(T, Option<Answer>),
    /// Answered once everything queued before it is committed.
    Flush(Answer),
}

/// Commits writes of one kind in groups (see the module documentation).
pub(crate) struct GroupCommit<T> {
    write: WriteGroup<T>,
    /// How long written-behind entries wait for company before they are committed.
    linger: Duration,
    /// Started on first use, inside the runtime.
    queue: OnceLock<mpsc::Sender<Job<T>>>,
}

impl<T: Send + Sync + 'static> GroupCommit<T> {
    pub(crate) fn new(write: WriteGroup<T>, linger: Duration) -> Self {
        GroupCommit {
            write,
            linger,
            queue: OnceLock::new(),
        }
    }

    /// Writes `item` with whatever else is waiting; returns once it is committed.
    pub(crate) async fn write(&self, store: &Arc<dyn Store>, item: T) -> StoreResult<()> {
        let (done, answer) = oneshot::channel();
        self.send(store, Job::Write(item, Some(done))).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Queues `item` to be committed within the linger; returns once it is queued.
    pub(crate) async fn write_behind(&self, store: &Arc<dyn Store>, item: T) -> StoreResult<()> {
        self.send(store, Job::Write(item, None)).await
    }

    /// Returns once every write queued before this call is committed (or has failed).
    pub(crate) async fn flush(&self, store: &Arc<dyn Store>) -> StoreResult<()> {
        if self.queue.get().is_none() {
            return Ok(()); // nothing was ever queued
        }
        let (done, answer) = oneshot::channel();
        self.send(store, Job::Flush(done)).await?;
        answer.await.map_err(|_| stopped())?
    }

    async fn send(&self, store: &Arc<dyn Store>, job: Job<T>) -> StoreResult<()> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(store.clone(), self.write, self.linger, receiver));
            sender
        });
        queue.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the group writer has stopped".into())
}

/// The task: one group at a time, until every sender is gone.
async fn run<T>(
    store: Arc<dyn Store>,
    write: WriteGroup<T>,
    linger: Duration,
    mut queue: mpsc::Receiver<Job<T>>,
) {
    while let Some(first) = queue.recv().await {
        let mut items = Vec::new();
        let mut waiters = Vec::new();
        let mut behind = 0usize; // how many of `items` (from the start) are written behind
        let mut take = |job: Job<T>, items: &mut Vec<T>, waiters: &mut Vec<Answer>| match job {
            Job::Write(item, Some(done)) => {
                items.push(item);
                waiters.push(done);
            }
            Job::Write(item, None) => {
                // Written-behind entries go first, so a retry can take them alone.
                items.insert(behind, item);
                behind += 1;
            }
            Job::Flush(done) => waiters.push(done),
        };
        take(first, &mut items, &mut waiters);
        let deadline = Instant::now() + linger;
        while items.len() < MAX_GROUP {
            let next = if waiters.is_empty() {
                match tokio::time::timeout_at(deadline, queue.recv()).await {
                    Ok(Some(job)) => job,
                    Ok(None) | Err(_) => break,
                }
            } else {
                match queue.try_recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            };
            take(next, &mut items, &mut waiters);
        }
        let result = commit(store.as_ref(), write, &items).await;
        for waiter in waiters {
            // A waiter whose request has gone away no longer listens.
            let _ = waiter.send(result.clone());
        }
        if result.is_err() && behind > 0 {
            // The awaiting requests have their answer; the entries written behind are tried
            // again on their own, before anything queued after them.
            items.truncate(behind);
            retry(store.as_ref(), write, &items).await;
        }
    }
}

async fn commit<T>(store: &dyn Store, write: WriteGroup<T>, items: &[T]) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    write(store, items).await
}

/// Tries written-behind entries again after pauses; reports them if they still fail.
async fn retry<T>(store: &dyn Store, write: WriteGroup<T>, items: &[T]) {
    let mut last = None;
    for pause in RETRIES {
        tokio::time::sleep(pause).await;
        match write(store, items).await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        tracing::error!(
            entries = items.len(),
            error = %e,
            "access-log entries of reads could not be written and are lost"
        );
    }
}
