//! Group commit for the one-time signature's write on PostgreSQL: the certificates and audit
//! records of signatures finished at about the same time are written in one transaction, so
//! that they share one hold of the audit chain's lock and one commit.
//!
//! Every writing transaction holds the chain's advisory lock from its head read to its commit
//! ([`super::audit`]), so the signatures of all daemons commit one after another and the store's
//! ceiling is one commit per hold of the lock (docs/scaling.md). Here one task per daemon takes
//! what is queued, up to [`MOST`] signatures, writes it in one transaction and tells each caller
//! the outcome; what arrives meanwhile waits for the next transaction. Nothing changes for a
//! caller: its certificate and its records commit together or not at all, its records stay
//! next to each other in the chain, and an error is reported to every caller whose write it
//! stopped. A signature that spends a payment id keeps a transaction of its own
//! ([`super::PostgresStore`]'s `publish_certificate`): the id's uniqueness may refuse that
//! signature alone.

use std::time::SystemTime;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::{audit, execute, pool_reason};
use crate::store::{AuditEvent, CertificateRow, StoreError, epoch};

/// The most signatures one transaction writes.
const MOST: usize = 64;

/// One signature's write, and where its outcome goes.
struct Publication {
    certificate: CertificateRow,
    events: Vec<AuditEvent>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue to this daemon's publishing task.
#[derive(Clone, Debug)]
pub(super) struct Publisher {
    queue: mpsc::Sender<Publication>,
}

impl Publisher {
    /// Start the publishing task on the current tokio runtime; it ends when the last
    /// `Publisher` is dropped.
    pub(super) fn start(pool: Pool) -> Self {
        let (queue, waiting) = mpsc::channel(4 * MOST);
        tokio::spawn(run(pool, waiting));
        Self { queue }
    }

    /// Publish `certificate` with `events`, in the next transaction the task writes.
    ///
    /// # Errors
    /// What stopped that transaction, as [`StoreError`].
    pub(super) async fn publish(&self, certificate: &CertificateRow, events: &[AuditEvent]) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        let publication = Publication { certificate: certificate.clone(), events: events.to_vec(), done };
        let stopped = || StoreError::Unavailable("the store's publishing task has stopped; restart esignd".into());
        self.queue.send(publication).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Write what is queued, one transaction at a time, until every `Publisher` is gone.
async fn run(pool: Pool, mut waiting: mpsc::Receiver<Publication>) {
    let mut batch = Vec::with_capacity(MOST);
    while waiting.recv_many(&mut batch, MOST).await > 0 {
        let outcome = write(&pool, &batch).await;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, signatures = batch.len(), "publishing one-time certificates failed");
        }
        for publication in batch.drain(..) {
            // A caller that went away (its client disconnected) needs no answer.
            let _ = publication.done.send(outcome.as_ref().map(|_| ()).map_err(each));
        }
    }
}

/// One transaction: the certificates in one INSERT, then every record, in the order the
/// signatures arrived, after the chain's head.
async fn write(pool: &Pool, batch: &[Publication]) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(|e| StoreError::Unavailable(pool_reason(&e)))?;
    let tx = client.transaction().await?;
    let now = epoch(SystemTime::now());
    let columns: Vec<(&str, &[u8], i64)> = batch
        .iter()
        .map(|p| (p.certificate.serial.as_str(), p.certificate.der.as_slice(), epoch(p.certificate.not_after)))
        .collect();
    let rows: Vec<String> = (0..columns.len())
        .map(|n| format!("(${}, ${}, ${}, ${})", 4 * n + 1, 4 * n + 2, 4 * n + 3, 4 * n + 4))
        .collect();
    let params: Vec<&(dyn ToSql + Sync)> = columns
        .iter()
        .flat_map(|(serial, der, not_after)| {
            [serial as &(dyn ToSql + Sync), der as &(dyn ToSql + Sync), not_after as &(dyn ToSql + Sync), &now]
        })
        .collect();
    let sql = format!(
        "INSERT INTO certificates (serial, der, not_after, created_at) VALUES {} ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    execute(&tx, &sql, &params).await?;
    let events: Vec<AuditEvent> = batch.iter().flat_map(|p| p.events.iter().cloned()).collect();
    audit::append(&tx, &events).await?;
    tx.commit().await?;
    Ok(())
}

/// The error one transaction met, for each caller it stopped.
fn each(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        StoreError::Postgres(why) => StoreError::Postgres(why.clone()),
        StoreError::Audit(why) => StoreError::Audit(why.clone()),
        other => StoreError::Postgres(other.to_string()),
    }
}
