//! Group commit for the one-time signature's write, the busiest there is: the certificates and
//! audit records of signatures finished at about the same time are written in one transaction.
//!
//! Every writing transaction appends to the audit chain, whose head admits one writer at a time
//! (SQLite's single writer; PostgreSQL's chain lock, held from the head read to the commit), so
//! signatures written one transaction each commit one after another, each paying a commit, and
//! on SQLite a hand-off to the blocking pool and the WAL pages it rewrites. Here one task per
//! store takes what is queued, up to [`MOST`] signatures, has the store write it in one
//! transaction and tells each caller the outcome; what arrives meanwhile waits for the next
//! transaction. Nothing changes for a caller: its certificate and its records commit together
//! or not at all, its records stay next to each other in the chain, it is answered only after
//! the commit, and an error reaches every caller whose write it stopped. A signature that spends
//! a payment id keeps a transaction of its own: the id's uniqueness may refuse that one alone.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::{AuditEvent, CertificateRow, StoreError};

/// The most signatures one transaction writes.
const MOST: usize = 64;

/// One signature's write.
pub(super) struct Publication {
    /// The one-time certificate.
    pub(super) certificate: CertificateRow,
    /// Its audit records, in order.
    pub(super) events: Vec<AuditEvent>,
}

/// A group's certificates and all its records, in the order the signatures arrived (moved out,
/// not copied).
pub(super) fn split(group: Vec<Publication>) -> (Vec<CertificateRow>, Vec<AuditEvent>) {
    let mut events = Vec::with_capacity(group.iter().map(|p| p.events.len()).sum());
    let certificates = group
        .into_iter()
        .map(|publication| {
            events.extend(publication.events);
            publication.certificate
        })
        .collect();
    (certificates, events)
}

/// How a store writes a group in one transaction.
pub(super) type WriteGroup =
    Box<dyn Fn(Vec<Publication>) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>> + Send + Sync>;

type Queued = (Publication, oneshot::Sender<Result<(), StoreError>>);

/// The queue to a store's publishing task, started with the first publication (on the runtime
/// that makes it: a store opened without one, as by `esignctl`, starts none until then).
pub(super) struct GroupCommit {
    write: std::sync::Mutex<Option<WriteGroup>>,
    queue: OnceLock<mpsc::Sender<Queued>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").field("started", &self.queue.get().is_some()).finish()
    }
}

impl GroupCommit {
    /// Groups that `write` will write.
    pub(super) fn new(write: WriteGroup) -> Self {
        Self { write: std::sync::Mutex::new(Some(write)), queue: OnceLock::new() }
    }

    /// Publish `certificate` with `events` in the next group's transaction.
    ///
    /// # Errors
    /// What stopped that transaction.
    pub(super) async fn publish(&self, certificate: &CertificateRow, events: &[AuditEvent]) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        let publication = Publication { certificate: certificate.clone(), events: events.to_vec() };
        let stopped = || StoreError::Unavailable("the store's publishing task has stopped; restart esignd".into());
        self.queue().send((publication, done)).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    /// The queue, the task started by the first caller (callers arriving meanwhile wait for it).
    fn queue(&self) -> &mpsc::Sender<Queued> {
        self.queue.get_or_init(|| {
            let write = self.write.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            let write = write.expect("the queue is made once, so its writer is still there");
            let (queue, waiting) = mpsc::channel(4 * MOST);
            tokio::spawn(run(write, waiting));
            queue
        })
    }
}

/// Write what is queued, one group at a time, until the store is gone.
async fn run(write: WriteGroup, mut waiting: mpsc::Receiver<Queued>) {
    let mut queued = Vec::with_capacity(MOST);
    while waiting.recv_many(&mut queued, MOST).await > 0 {
        let (group, callers): (Vec<Publication>, Vec<_>) = queued.drain(..).unzip();
        let count = group.len();
        let outcome = write(group).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, signatures = count, "publishing one-time certificates failed");
        }
        for done in callers {
            // A caller that went away (its client disconnected) needs no answer.
            let _ = done.send(outcome.as_ref().map(|_| ()).map_err(each));
        }
    }
}

/// The error one transaction met, for each caller it stopped.
fn each(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        StoreError::Postgres(why) => StoreError::Postgres(why.clone()),
        StoreError::Audit(why) => StoreError::Audit(why.clone()),
        StoreError::Failed(why) => StoreError::Failed(why.clone()),
        StoreError::Database(e) => StoreError::Failed(e.to_string()),
        other => StoreError::Failed(other.to_string()),
    }
}
