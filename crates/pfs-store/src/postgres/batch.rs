//! Session-context reads, sent to the database together.
//!
//! Nearly every in-session request starts with a session-context read, so under load many are
//! waiting at once. One task sends them: each batch is everything that arrived while the
//! previous one was in flight (up to [`MAX_BATCH`]), as one statement over arrays. The
//! database then plans nothing, starts one executor and sends one reply for the whole batch,
//! and the server makes one round trip instead of one per request. When requests come one at a
//! time each is a batch of one, so nothing waits longer than its own read.

use std::sync::Arc;

use pfs_core::model::SessionContext;
use pfs_core::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use super::{Db, Params, session_context_row};

/// The most reads in one statement.
const MAX_BATCH: usize = 64;

/// A read waiting for its batch.
struct Waiting {
    suid_hash: String,
    patient_id: Option<String>,
    reply: oneshot::Sender<StoreResult<Option<SessionContext>>>,
}

/// The queue of session-context reads; the task serving it ends when the last handle is gone.
#[derive(Clone)]
pub(super) struct ContextReads {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl ContextReads {
    /// Starts the task that sends the batches over `db`'s read connections.
    pub(super) fn start(db: Arc<Db>) -> ContextReads {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(serve(db, waiting));
        ContextReads { queue }
    }

    /// The session with this suid hash and its context (see `Store::session_context`),
    /// read in the next batch.
    pub(super) async fn read(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
    ) -> StoreResult<Option<SessionContext>> {
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            suid_hash: suid_hash.to_owned(),
            patient_id: patient_id.map(str::to_owned),
            reply,
        };
        let closed = || StoreError::Unavailable("store closed".into());
        self.queue.send(waiting).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn serve(db: Arc<Db>, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        answer(&db, std::mem::take(&mut batch)).await;
    }
}

/// Reads a batch in one statement and hands each read its answer.
async fn answer(db: &Db, batch: Vec<Waiting>) {
    let suid_hashes: Vec<&str> = batch.iter().map(|w| w.suid_hash.as_str()).collect();
    // PostgreSQL text cannot hold NUL, so no patient has such an id; asking for it would fail
    // the whole statement, and with it every other read of the batch.
    let patient_ids: Vec<Option<&str>> = batch
        .iter()
        .map(|w| w.patient_id.as_deref().filter(|id| !id.contains('\0')))
        .collect();
    let params: Params = &[&suid_hashes, &patient_ids];
    let rows = db.read("sessions", session_contexts_sql!(), params).await;
    let mut found: Vec<Option<StoreResult<SessionContext>>> = batch.iter().map(|_| None).collect();
    match rows {
        Ok(rows) => {
            for row in &rows {
                let slot = row
                    .try_get::<_, i64>(0)
                    .ok()
                    .and_then(|ord| usize::try_from(ord - 1).ok())
                    .and_then(|i| found.get_mut(i));
                match slot {
                    Some(slot) => *slot = Some(session_context_row(row)),
                    None => {
                        let broken = StoreError::Other("sessions: unexpected result shape".into());
                        return hand_out(batch, |_| Err(broken.clone()));
                    }
                }
            }
            let mut found = found.into_iter();
            hand_out(batch, |_| found.next().flatten().transpose());
        }
        Err(e) => hand_out(batch, |_| Err(e.clone())),
    }
}

/// Sends every waiting read its answer (a read whose caller has gone is skipped).
fn hand_out(
    batch: Vec<Waiting>,
    mut answer: impl FnMut(&Waiting) -> StoreResult<Option<SessionContext>>,
) {
    for w in batch {
        let a = answer(&w);
        let _ = w.reply.send(a);
    }
}
