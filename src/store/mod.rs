//! The store: what esignd remembers between requests — published certificates, replay caches
//! (payment-token ids), and, with the session flow, signing sessions and signature records.
//!
//! One trait, two implementations by design: SQLite (the embedded default, [`sqlite`]) and
//! PostgreSQL for several daemons behind a load balancer. Each method is one atomic write or
//! read; a retention sweeper deletes what has expired ([`Store::sweep`]).

mod schema;
pub mod sqlite;

use std::future::Future;
use std::time::SystemTime;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("the store failed: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database file cannot be opened or prepared.
    #[error("cannot open the store at {path:?}: {reason}")]
    Open {
        /// The database file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer esignd.
    #[error("the store's schema version {found} is newer than this esignd understands ({supported}); upgrade esignd")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
}

/// Persistent state shared by every request.
pub trait Store: Send + Sync + 'static {
    /// Publish an issued certificate under its hex serial (`GET /v1/certs/{serial}`).
    fn publish_certificate(
        &self,
        serial: &str,
        der: &[u8],
        not_after: SystemTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A published certificate, by hex serial.
    fn certificate(&self, serial: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Remember `id` of `kind` until `until`; `false` when it was already remembered (a replay).
    fn remember_once(
        &self,
        kind: &str,
        id: &str,
        until: SystemTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Delete what is no longer needed at `now`; returns how many rows went.
    fn sweep(&self, now: SystemTime) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Check that the store answers (for `/readyz`).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Seconds since the epoch, the store's time unit.
pub(crate) fn epoch(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
