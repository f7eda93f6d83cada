//! Small writes that many requests make at once, committed together.
//!
//! Reading a medication list records that the session saw it and writes an access-log entry:
//! a write on a read path. One commit per request would make the list as slow as the
//! database's commit rate (on SQLite, one writer). Here each request hands its write to one
//! task and waits for it: the task takes everything that queued up while the previous commit
//! was running and commits it in one transaction, then answers every waiter with that commit's
//! result. A request is answered only after its write is committed, so nothing is lost; when
//! requests come one at a time, each is a group of one and waits for nothing but its own write.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError, StoreResult};

/// Most writes waiting for the task; a request finding it full waits for room.
const QUEUE: usize = 4096;
/// Most writes in one commit.
const MAX_GROUP: usize = 256;

/// The store call that writes a group in one transaction.
pub(crate) type WriteGroup<T> =
    for<'a> fn(
        &'a dyn Store,
        &'a [T],
    ) -> Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'a>>;

type Waiting<T> = (T, oneshot::Sender<StoreResult<()>>);

/// Commits writes of one kind in groups (see the module documentation).
pub(crate) struct GroupCommit<T> {
    write: WriteGroup<T>,
    /// Started on first use, inside the runtime.
    queue: OnceLock<mpsc::Sender<Waiting<T>>>,
}

impl<T: Send + Sync + 'static> GroupCommit<T> {
    pub(crate) fn new(write: WriteGroup<T>) -> Self {
        GroupCommit {
            write,
            queue: OnceLock::new(),
        }
    }

    /// Writes `item` with whatever else is waiting; returns once it is committed.
    pub(crate) async fn write(&self, store: &Arc<dyn Store>, item: T) -> StoreResult<()> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(store.clone(), self.write, receiver));
            sender
        });
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the group writer has stopped".into());
        queue.send((item, done)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The task: one group at a time, until every sender is gone.
async fn run<T>(
    store: Arc<dyn Store>,
    write: WriteGroup<T>,
    mut queue: mpsc::Receiver<Waiting<T>>,
) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (items, waiters): (Vec<T>, Vec<_>) = group.into_iter().unzip();
        let result = write(store.as_ref(), &items).await;
        for waiter in waiters {
            // A waiter whose request has gone away no longer listens.
            let _ = waiter.send(result.clone());
        }
    }
}
