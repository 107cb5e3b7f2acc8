//! The outbox: what must leave the process reliably (today: the webhook that tells an eService
//! how its session ended). A delivery is queued in the transaction that ends the session, so an
//! outcome is never lost between the commit and the POST; any daemon on the store claims due
//! deliveries for a lease, so a delivery survives the daemon that was making it (at least
//! once: receivers drop duplicates by the delivery id). Delivered and abandoned deliveries are
//! deleted with their audit record.

use super::{AuditEvent, StoreError};

/// A delivery claimed for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Random, stable across attempts: the receiver's duplicate check.
    pub id: String,
    /// The session whose outcome it reports.
    pub session_id: String,
    /// Where it goes.
    pub url: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// What the first attempt sent (sealed then), sent again as it was by every retry.
    pub body: Option<String>,
}

/// What became of an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempted {
    /// Delivered: the delivery goes, `event` is recorded.
    Delivered(AuditEvent),
    /// Not yet: try again at `next_at_ms` (milliseconds since the epoch) with `body`.
    Retry {
        /// When.
        next_at_ms: i64,
        /// What was sent, to send again.
        body: String,
    },
    /// Given up: the delivery goes, `event` is recorded.
    Abandoned(AuditEvent),
}

/// The outbox's storage.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claim up to `limit` deliveries due at `now_ms` (those of session `session_id` only, when
    /// given, due or not) for `lease_ms`: nobody else claims them until the lease ends.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
        session_id: Option<&str>,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Record what became of an attempt at delivery `id`.
    async fn attempted(&self, id: &str, outcome: &Attempted) -> Result<(), StoreError>;

    /// How many deliveries wait, and since when the oldest (milliseconds since the epoch).
    async fn outbox_backlog(&self) -> Result<(u64, Option<i64>), StoreError>;
}
