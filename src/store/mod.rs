//! The store: what esignd remembers between requests — signing sessions, finished signatures
//! waiting to be redeemed, published certificates, replay caches (payment-token and device-JWT
//! ids), the device model's certificates and CRL ([`devices`]), the signing requests queued
//! for devices ([`device_requests`]), and the audit trail ([`audit`]).
//!
//! One trait, two implementations: SQLite (the embedded default, [`sqlite`]) and PostgreSQL
//! for several daemons behind a load balancer ([`postgres`]), chosen by `[store]`. Each method is one atomic write or
//! read; every write takes the audit events of its change and appends them in its own
//! transaction. A retention sweeper deletes what has expired ([`Store::sweep`]), never audit
//! records ([`audit::AuditStore::prune_audit`] removes only what a checkpoint covers).

pub mod audit;
pub mod device_requests;
pub mod devices;
mod encoding;
mod group_commit;
pub mod outbox;
pub mod postgres;
mod schema;
pub mod sqlite;
mod sqlite_audit;
mod sqlite_device_requests;
mod sqlite_devices;
mod sqlite_outbox;

use std::time::SystemTime;

pub use audit::AuditEvent;

use crate::vocabulary::SessionState;

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
    /// The store cannot be reached: the server is down, the connection was lost, or no
    /// connection came within the wait.
    #[error("the store cannot be reached: {0}")]
    Unavailable(String),
    /// PostgreSQL refused or failed.
    #[error("the PostgreSQL store failed: {0}")]
    Postgres(String),
    /// A grouped write ([`group_commit`]) failed: its error, as text, for every signature in
    /// the group.
    #[error("the store failed: {0}")]
    Failed(String),
    /// A stored value this esignd does not know.
    #[error("the store holds {what} {value:?}, which this esignd does not know (is a newer esignd writing to it?)")]
    Unreadable {
        /// Which column.
        what: &'static str,
        /// What it holds.
        value: String,
    },
    /// An audit record could not be made.
    #[error("the audit record could not be made: {0}")]
    Audit(String),
    /// A single-use id (a payment token's `jti`) given with a write was used before; nothing
    /// was written.
    #[error("the {0} has already been used")]
    AlreadySpent(&'static str),
    /// The database was written by a newer esignd.
    #[error("the store's schema version {found} is newer than this esignd understands ({supported}); upgrade esignd")]
    SchemaTooNew {
        /// The version in the file.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
}

/// A signing session as stored: the columns the store searches by, and the service's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// Random session id.
    pub id: String,
    /// The eService that created it.
    pub client_id: String,
    /// The eService's id for it, unique per client.
    pub correlation_id: String,
    /// Where the session is in its life.
    pub status: SessionState,
    /// The OpenID `state` while the user is at the ID provider.
    pub oidc_state: Option<String>,
    /// When it expires.
    pub expires_at: SystemTime,
    /// Everything else, as the service serialised it.
    pub body: String,
    /// Where the session's outcome is delivered: moving it to signed or failed queues a
    /// delivery to this URL in the same transaction ([`outbox`]). Not stored with the row.
    pub webhook_url: Option<String>,
}

/// A single-use id spent in the same transaction as the write it pays for: the write fails
/// with [`StoreError::AlreadySpent`], and nothing is written, when it was spent before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spend {
    /// What kind of id (the replay cache's namespace, and the error's words).
    pub kind: &'static str,
    /// The id.
    pub id: String,
    /// Until when it must be remembered.
    pub until: SystemTime,
}

/// A finished signature waiting to be redeemed once by the eService that asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRow {
    /// Random 256-bit id, hex.
    pub signature_id: String,
    /// The client allowed to redeem it.
    pub client_id: String,
    /// The GovStack SignResponse, as JSON.
    pub response: String,
    /// When it can no longer be redeemed.
    pub expires_at: SystemTime,
}

/// A certificate to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRow {
    /// Hex serial.
    pub serial: String,
    /// DER.
    pub der: Vec<u8>,
    /// notAfter.
    pub not_after: SystemTime,
}

/// Persistent state shared by every request.
#[async_trait::async_trait]
pub trait Store:
    devices::DeviceStore
    + device_requests::DeviceRequestStore
    + audit::AuditStore
    + outbox::OutboxStore
    + Send
    + Sync
    + 'static
{
    /// Create a session and append `events` (its audit records) in one transaction; `false`,
    /// with nothing written, when the client already has one with this correlation id.
    async fn create_session(&self, row: &SessionRow, events: &[AuditEvent]) -> Result<bool, StoreError>;

    /// A session by id.
    async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;

    /// A session by its client and correlation id.
    async fn session_by_correlation(
        &self,
        client_id: &str,
        correlation_id: &str,
    ) -> Result<Option<SessionRow>, StoreError>;

    /// The session whose user is at the ID provider with OpenID `state`.
    async fn session_by_oidc_state(&self, state: &str) -> Result<Option<SessionRow>, StoreError>;

    /// Replace a session if it is still in status `from` (compare and set), appending `events`
    /// with it; `false` (and nothing written) when another request moved it first.
    async fn update_session(
        &self,
        row: &SessionRow,
        from: SessionState,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError>;

    /// In one transaction: move the session from `from` to `row`, keep `signature` for
    /// redemption, publish `certificate`, `spend` what paid for it and append `events`. `false`
    /// (and nothing written) when the session had moved on.
    async fn finish_session(
        &self,
        row: &SessionRow,
        from: SessionState,
        signature: &SignatureRow,
        certificate: &CertificateRow,
        spend: Option<&Spend>,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError>;

    /// Sessions past their expiry that are still in one of `statuses`.
    async fn expired_sessions(&self, now: SystemTime, statuses: &[SessionState])
    -> Result<Vec<SessionRow>, StoreError>;

    /// Take a signature for `client_id`: returns its SignResponse and deletes it, so it can be
    /// redeemed once, appending `events` with it; `None` (and nothing written) when unknown,
    /// taken, expired or another client's.
    async fn redeem_signature(
        &self,
        signature_id: &str,
        client_id: &str,
        now: SystemTime,
        events: &[AuditEvent],
    ) -> Result<Option<String>, StoreError>;

    /// Publish an issued certificate under its hex serial (`GET /v1/certs/{serial}`), `spend`
    /// what paid for it and append `events`, in one transaction.
    async fn publish_certificate(
        &self,
        certificate: &CertificateRow,
        spend: Option<&Spend>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// A published certificate, by hex serial.
    async fn certificate(&self, serial: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Remember `id` of `kind` until `until`; `false` when it was already remembered (a replay).
    async fn remember_once(&self, kind: &str, id: &str, until: SystemTime) -> Result<bool, StoreError>;

    /// Delete what is no longer needed at `now`; returns how many rows went.
    async fn sweep(&self, now: SystemTime) -> Result<usize, StoreError>;

    /// Check that the store answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Seconds since the epoch, the store's time unit.
pub(crate) fn epoch(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Milliseconds since the epoch (the outbox's time unit).
pub(crate) fn epoch_millis(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The time `secs` seconds after the epoch (negative values are the epoch).
pub(crate) fn from_epoch(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64)
}
