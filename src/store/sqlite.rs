//! The embedded store: one SQLite file (`[store] path`) in WAL mode. Calls run on tokio's
//! blocking pool against one connection; SQLite serialises writers anyway, and one connection
//! keeps every write's transaction simple. The one-time signatures' writes, the busiest, are
//! grouped: those finished together share one transaction ([`super::group_commit`]).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::group_commit::{GroupCommit, WriteGroup, split};
use super::{AuditEvent, CertificateRow, SessionRow, SignatureRow, Spend, Store, StoreError, audit, epoch, schema};
use crate::vocabulary::{RequestState, SessionState};

const SESSION_COLUMNS: &str = "id, client_id, correlation_id, status, oidc_state, expires_at, body";

/// `Connection::execute`, with the statement prepared once per connection and kept (rusqlite's
/// statement cache): preparing cost more than running the statement on the signing path.
pub(super) fn execute_cached(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `Connection::query_row`, with the statement kept as [`execute_cached`] keeps it.
pub(super) fn query_row_cached<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, row)
}

fn session_row(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: row.get(0)?,
        client_id: row.get(1)?,
        correlation_id: row.get(2)?,
        status: row.get(3)?,
        oidc_state: row.get(4)?,
        expires_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(row.get::<_, i64>(5)?.max(0) as u64),
        body: row.get(6)?,
        webhook_url: None,
    })
}

fn one_session(conn: &Connection, filter: &str, args: impl rusqlite::Params) -> Result<Option<SessionRow>, StoreError> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE {filter}");
    Ok(query_row_cached(conn, &sql, args, session_row).optional()?)
}

/// `INSERT` a session; false when its client already has its correlation id.
pub(super) fn insert_session(conn: &Connection, row: &SessionRow) -> rusqlite::Result<bool> {
    let inserted = execute_cached(
        conn,
        "INSERT OR IGNORE INTO sessions (id, client_id, correlation_id, status, oidc_state, expires_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![row.id, row.client_id, row.correlation_id, row.status, row.oidc_state, epoch(row.expires_at), row.body],
    )?;
    Ok(inserted == 1)
}

/// Remember `spend` in the replay cache within the caller's transaction; [`StoreError::AlreadySpent`]
/// (the caller's transaction then rolls back) when it was there.
pub(super) fn spend_once(conn: &Connection, spend: &Spend) -> Result<(), StoreError> {
    if remember(conn, spend.kind, &spend.id, spend.until)? { Ok(()) } else { Err(StoreError::AlreadySpent(spend.kind)) }
}

/// Remember `id` of `kind` until `until` in the replay cache; false when it was there.
fn remember(conn: &Connection, kind: &str, id: &str, until: SystemTime) -> rusqlite::Result<bool> {
    let inserted = execute_cached(
        conn,
        "INSERT OR IGNORE INTO seen_once (kind, id, until) VALUES (?1, ?2, ?3)",
        params![kind, id, epoch(until)],
    )?;
    Ok(inserted == 1)
}

/// `INSERT` a signature awaiting redemption.
pub(super) fn insert_signature(conn: &Connection, signature: &SignatureRow) -> rusqlite::Result<()> {
    execute_cached(
        conn,
        "INSERT INTO signatures (signature_id, client_id, response, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![signature.signature_id, signature.client_id, signature.response, epoch(signature.expires_at)],
    )?;
    Ok(())
}

/// How the SQLite store writes a group of one-time signatures: one transaction on the blocking
/// pool, the certificates and then every record, in the order the signatures arrived.
fn write_group(conn: Arc<Mutex<Connection>>) -> WriteGroup {
    Box::new(move |group| {
        let conn = Arc::clone(&conn);
        Box::pin(async move {
            let written = tokio::task::spawn_blocking(move || {
                let (certificates, events) = split(group);
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for certificate in &certificates {
                    insert_certificate(&tx, certificate)?;
                }
                audit::append(&tx, &events)?;
                tx.commit()?;
                Ok(())
            })
            .await;
            // A panic fails this group, not the publishing task.
            written.unwrap_or_else(|join| Err(StoreError::Failed(format!("the grouped write panicked: {join}"))))
        })
    })
}

/// `INSERT` a published certificate (once: publishing it again changes nothing).
fn insert_certificate(conn: &Connection, certificate: &CertificateRow) -> rusqlite::Result<()> {
    execute_cached(
        conn,
        "INSERT OR IGNORE INTO certificates (serial, der, not_after, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![certificate.serial, certificate.der, epoch(certificate.not_after), epoch(SystemTime::now())],
    )?;
    Ok(())
}

/// `UPDATE` a session if its status is still `from`; true when it was. A session that ends
/// here (signed or failed) with a webhook gets its delivery queued in the same transaction.
pub(super) fn swap_session(conn: &Connection, row: &SessionRow, from: SessionState) -> rusqlite::Result<bool> {
    let changed = execute_cached(
        conn,
        "UPDATE sessions SET status = ?2, oidc_state = ?3, expires_at = ?4, body = ?5 WHERE id = ?1 AND status = ?6",
        params![row.id, row.status, row.oidc_state, epoch(row.expires_at), row.body, from],
    )?;
    let ends = matches!(row.status, SessionState::Signed | SessionState::Failed) && from != row.status;
    if changed == 1
        && ends
        && let Some(url) = &row.webhook_url
    {
        super::sqlite_outbox::queue(conn, &row.id, url)?;
    }
    Ok(changed == 1)
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// The one-time signatures' writes, grouped into shared transactions.
    publisher: Arc<GroupCommit>,
    /// Each call's time, waiting for the connection included (the operator's metrics).
    latency: Option<prometheus_client::metrics::histogram::Histogram>,
}

impl SqliteStore {
    /// Open (or create) the database at `path`, owner-only, WAL, schema migrated.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::SchemaTooNew`], database errors.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open { path: path.to_owned(), reason };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        // The store holds certificates, which name people: owner-only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| open_error(e.to_string()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every statement is prepared once and kept (`execute_cached`, `prepare_cached`): room
        // for all of them.
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn)?;
        let conn = Arc::new(Mutex::new(conn));
        let publisher = Arc::new(GroupCommit::new(write_group(Arc::clone(&conn))));
        Ok(Self { conn, publisher, latency: None })
    }

    /// The same store, timing each call into `latency`.
    #[must_use]
    pub fn timed(mut self, latency: prometheus_client::metrics::histogram::Histogram) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Append `events` now, from a caller without a runtime (`esignctl`).
    ///
    /// # Errors
    /// Database errors.
    pub fn record_now(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        audit::append_alone(&mut self.conn.lock().unwrap_or_else(PoisonError::into_inner), events)
    }

    /// Run `work` with the connection on the blocking pool.
    pub(super) async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let started = std::time::Instant::now();
        let result =
            tokio::task::spawn_blocking(move || work(&mut conn.lock().unwrap_or_else(PoisonError::into_inner)))
                .await
                .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        self.observe(started);
        result
    }

    /// Observe a call's time, from `started`, into the latency histogram.
    fn observe(&self, started: std::time::Instant) {
        if let Some(latency) = &self.latency {
            latency.observe(started.elapsed().as_secs_f64());
        }
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_session(&self, row: &SessionRow, events: &[AuditEvent]) -> Result<bool, StoreError> {
        let (row, events) = (row.clone(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !insert_session(&tx, &row)? {
                return Ok(false);
            }
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| one_session(conn, "id = ?1", [id])).await
    }

    async fn session_by_correlation(
        &self,
        client_id: &str,
        correlation_id: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        let (client_id, correlation_id) = (client_id.to_owned(), correlation_id.to_owned());
        self.with(move |conn| one_session(conn, "client_id = ?1 AND correlation_id = ?2", [client_id, correlation_id]))
            .await
    }

    async fn session_by_oidc_state(&self, state: &str) -> Result<Option<SessionRow>, StoreError> {
        let state = state.to_owned();
        self.with(move |conn| one_session(conn, "oidc_state = ?1", [state])).await
    }

    async fn update_session(
        &self,
        row: &SessionRow,
        from: SessionState,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let (row, events) = (row.clone(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !swap_session(&tx, &row, from)? {
                return Ok(false);
            }
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn finish_session(
        &self,
        row: &SessionRow,
        from: SessionState,
        signature: &SignatureRow,
        certificate: &CertificateRow,
        spend: Option<&Spend>,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let (row, signature, certificate, spend, events) =
            (row.clone(), signature.clone(), certificate.clone(), spend.cloned(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !swap_session(&tx, &row, from)? {
                return Ok(false);
            }
            if let Some(spend) = &spend {
                spend_once(&tx, spend)?;
            }
            insert_signature(&tx, &signature)?;
            insert_certificate(&tx, &certificate)?;
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn expired_sessions(
        &self,
        now: SystemTime,
        statuses: &[SessionState],
    ) -> Result<Vec<SessionRow>, StoreError> {
        let statuses: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        self.with(move |conn| {
            let placeholders = vec!["?"; statuses.len()].join(", ");
            let sql =
                format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE expires_at < ? AND status IN ({placeholders})");
            let mut args: Vec<rusqlite::types::Value> = vec![epoch(now).into()];
            args.extend(statuses.into_iter().map(rusqlite::types::Value::from));
            let mut statement = conn.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(args), session_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn redeem_signature(
        &self,
        signature_id: &str,
        client_id: &str,
        now: SystemTime,
        events: &[AuditEvent],
    ) -> Result<Option<String>, StoreError> {
        let (signature_id, client_id, events) = (signature_id.to_owned(), client_id.to_owned(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let response: Option<String> = query_row_cached(
                &tx,
                "DELETE FROM signatures WHERE signature_id = ?1 AND client_id = ?2 AND expires_at >= ?3 RETURNING response",
                params![signature_id, client_id, epoch(now)],
                |row| row.get(0),
            )
            .optional()?;
            if response.is_some() {
                audit::append(&tx, &events)?;
                tx.commit()?;
            }
            Ok(response)
        })
        .await
    }

    async fn publish_certificate(
        &self,
        certificate: &CertificateRow,
        spend: Option<&Spend>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let Some(spend) = spend.cloned() else {
            // The common case shares a transaction with the signatures finished meanwhile
            // (group commit).
            let started = std::time::Instant::now();
            let published = self.publisher.publish(certificate, events).await;
            self.observe(started);
            return published;
        };
        let (certificate, events) = (certificate.clone(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            spend_once(&tx, &spend)?;
            insert_certificate(&tx, &certificate)?;
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn certificate(&self, serial: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let serial = serial.to_ascii_lowercase();
        self.with(move |conn| {
            Ok(query_row_cached(conn, "SELECT der FROM certificates WHERE serial = ?1", [serial], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    async fn remember_once(&self, kind: &str, id: &str, until: SystemTime) -> Result<bool, StoreError> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.with(move |conn| Ok(remember(conn, &kind, &id, until)?)).await
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, StoreError> {
        self.with(move |conn| {
            let now = epoch(now);
            let tx = conn.transaction()?;
            let mut removed = execute_cached(&tx, "DELETE FROM seen_once WHERE until < ?1", [now])?;
            removed += execute_cached(&tx, "DELETE FROM signatures WHERE expires_at < ?1", [now])?;
            // Answered device requests stay a day so eServices can still learn how they ended.
            removed += execute_cached(
                &tx,
                "DELETE FROM device_requests WHERE expires_at < ?1 AND status != ?2",
                params![now - 86_400, RequestState::Pending],
            )?;
            // Finished sessions stay a day past their expiry so eServices can still poll them.
            removed += execute_cached(
                &tx,
                "DELETE FROM sessions WHERE expires_at < ?1 AND status IN (?2, ?3)",
                params![now - 86_400, SessionState::Signed, SessionState::Failed],
            )?;
            tx.commit()?;
            Ok(removed)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| Ok(query_row_cached(conn, "SELECT 1", [], |_| Ok(()))?)).await
    }
}
