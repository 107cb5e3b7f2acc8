//! The audit trail as the service keeps it (`docs/audit.md`): checkpoints made when due
//! (`[audit] checkpoint_every` records or `checkpoint_secs`), refusals and the daemon's start
//! and stop recorded, old records pruned up to a checkpoint (`[audit] retention_days`), and the
//! trail read by auditors (`[[auditors]]`, all of it) and by citizens (their own records, found
//! by their subject hash) through `GET /v1/audit/log` and `GET /v1/audit/checkpoints`.

use std::time::SystemTime;

use serde_json::json;

use super::{ErrorKind, EsignService, ServiceError};
use crate::audit::AuditEvent;
use crate::audit::chain::Record;
use crate::audit::checkpoint::Checkpoint;
pub use crate::store::audit::AuditQuery;
use crate::vocabulary::rfc3339;

/// Most records or checkpoints one page carries.
pub const MAX_PAGE: usize = 1000;

/// Who reads the trail.
#[derive(Clone, Debug)]
pub enum Reader {
    /// An auditor's `apikey`.
    Auditor(String),
    /// A citizen's access token.
    Citizen(String),
}

/// A page of records and where the next one starts.
#[derive(Clone, Debug)]
pub struct AuditPage {
    /// The records, in sequence order.
    pub records: Vec<Record>,
    /// The cursor for the next page (`after`), when this one was full.
    pub next: Option<u64>,
}

impl EsignService {
    /// Make a checkpoint if one is due; the checkpoint made, if any.
    ///
    /// # Errors
    /// HSM, TSA and store failures.
    pub async fn checkpoint_if_due(&self) -> Result<Option<Checkpoint>, ServiceError> {
        let store = &self.core.store;
        let Some(head) = store.audit_head().await? else { return Ok(None) };
        let latest = store.latest_checkpoint().await?;
        let last = latest.as_ref();
        let covered = last.map_or(0, |c| c.seq);
        // The newest checkpoint's own note (`audit.checkpoint`) alone does not make a new one due.
        let new_records = head.seq.saturating_sub(covered + u64::from(last.is_some()));
        let due_by_count = new_records >= self.audit.checkpoint_every;
        let since = last.and_then(|c| crate::vocabulary::parse_rfc3339(&c.time)).unwrap_or(self.started_at);
        let due_by_time = new_records > 0
            && SystemTime::now().duration_since(since).unwrap_or_default() >= self.audit.checkpoint_interval;
        if !(due_by_count || due_by_time) {
            return Ok(None);
        }
        let time = rfc3339(SystemTime::now());
        let message = Checkpoint::message_of(head.seq, &head.hash, &time);
        let proof = self.core.engine.prove_checkpoint(message).await?;
        use base64::Engine as _;
        let base64 = base64::engine::general_purpose::STANDARD;
        let checkpoint = Checkpoint {
            seq: head.seq,
            head: head.hash,
            time,
            signature: base64.encode(&proof.signature),
            timestamp_token: base64.encode(&proof.timestamp_token),
        };
        if !store.add_checkpoint(&checkpoint).await? {
            return Ok(None); // another daemon checkpointed this head
        }
        tracing::info!(seq = checkpoint.seq, "audit checkpoint made");
        Ok(Some(checkpoint))
    }

    /// Prune records older than `[audit] retention_days`, up to a checkpoint.
    ///
    /// # Errors
    /// Store failures.
    pub async fn prune_audit(&self) -> Result<usize, ServiceError> {
        let Some(retention) = self.audit.retention else { return Ok(0) };
        let before = SystemTime::now().checked_sub(retention).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(self.core.store.prune_audit(before).await?)
    }

    /// Record the daemon's start: its version, the SHA-256 of its configuration file and its
    /// keys' fingerprints.
    ///
    /// # Errors
    /// Store failures.
    pub async fn record_start(&self, config_sha256: Option<String>) -> Result<(), ServiceError> {
        let keys: serde_json::Map<String, serde_json::Value> =
            self.key_summary().into_iter().map(|(label, key)| (label, key.into())).collect();
        let event = AuditEvent::new(
            "daemon.started",
            json!({ "version": env!("CARGO_PKG_VERSION"), "configSha256": config_sha256, "keys": keys }),
        );
        Ok(self.core.store.record(&[event]).await?)
    }

    /// Record the daemon's orderly stop.
    ///
    /// # Errors
    /// Store failures.
    pub async fn record_stop(&self) -> Result<(), ServiceError> {
        let event = AuditEvent::new("daemon.stopped", json!({ "version": env!("CARGO_PKG_VERSION") }));
        Ok(self.core.store.record(&[event]).await?)
    }

    /// Record that a call to `route` was refused with `error`, if it is a refusal worth an
    /// auditor's eye (401, 402, 403, 409, 422): its status and a reason code, never the input.
    pub async fn record_refusal(&self, route: &str, status: u16, error: &ServiceError) {
        let refusal = matches!(
            error.kind(),
            ErrorKind::Unauthorized
                | ErrorKind::PaymentRequired
                | ErrorKind::Forbidden
                | ErrorKind::Conflict
                | ErrorKind::Unprocessable
        );
        if !refusal {
            return;
        }
        let event = AuditEvent::new(
            "request.refused",
            json!({ "route": route, "status": status, "reason": error.reason_code() }),
        );
        if let Err(e) = self.core.store.record(&[event]).await {
            tracing::error!(error = %e, "a refusal could not be audited");
        }
    }

    /// A page of the trail for `reader`: an auditor sees every record, a citizen only those
    /// naming their subject hash.
    ///
    /// # Errors
    /// [`CallerError`](super::CallerError)s for a missing or unknown key or token; store and
    /// HSM failures.
    pub async fn audit_log(&self, reader: Reader, mut query: AuditQuery) -> Result<AuditPage, ServiceError> {
        match reader {
            Reader::Auditor(key) => {
                let auditor = self.callers.auditor(Some(&key))?;
                tracing::info!(auditor = %auditor.id, "audit log read");
            }
            Reader::Citizen(token) => {
                let identity = self.identity.identify(&token).await?;
                query.subject = Some(self.core.engine.subject_hash(identity.subject_id()).await?);
            }
        }
        query.limit = query.limit.clamp(1, MAX_PAGE);
        let records = self.core.store.audit_records(&query).await?;
        let next = (records.len() == query.limit).then(|| records.last().map(|r| r.seq)).flatten();
        Ok(AuditPage { records, next })
    }

    /// Signed checkpoints after record `after`, for anyone who reads the trail.
    ///
    /// # Errors
    /// As [`Self::audit_log`].
    pub async fn audit_checkpoints(
        &self,
        reader: Reader,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>, ServiceError> {
        match reader {
            Reader::Auditor(key) => drop(self.callers.auditor(Some(&key))?),
            Reader::Citizen(token) => drop(self.identity.identify(&token).await?),
        }
        Ok(self.core.store.checkpoints(after, limit.clamp(1, MAX_PAGE)).await?)
    }
}
