//! The store as `esignctl` reaches it, while the daemons run or not: SQLite opened directly
//! (read-only when reading), PostgreSQL through the store's own queries on a one-thread runtime.

use crate::audit::AuditEvent;
use crate::audit::chain::Record;
use crate::audit::checkpoint::Checkpoint;
use crate::config::{Config, PasswordSource, StoreEngine};
use crate::store::StoreError;
use crate::store::audit::{AuditQuery, AuditStore};
use crate::store::postgres::PostgresStore;

/// Records read from PostgreSQL per query.
const PAGE: usize = 10_000;

/// Connections `esignctl` opens to PostgreSQL.
const CONNECTIONS: usize = 1;

fn runtime() -> Result<tokio::runtime::Runtime, StoreError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Unavailable(format!("cannot start a runtime to reach PostgreSQL: {e}")))
}

async fn postgres(config: &Config, pg: &crate::config::PostgresConfig) -> Result<PostgresStore, super::CtlError> {
    let password = pg.password.as_ref().map(PasswordSource::read).transpose()?;
    let trust = crate::outbound::tls_config(config.outbound.system_roots, &config.outbound.anchors);
    Ok(PostgresStore::connect(&pg.url, password.as_ref(), CONNECTIONS, trust).await?)
}

/// Every audit record in stored order (SQLite's row order, which shows records swapped in
/// place; PostgreSQL's sequence order) and every checkpoint.
pub(super) fn audit_trail(config: &Config) -> Result<(Vec<Record>, Vec<Checkpoint>), super::CtlError> {
    match &config.store.engine {
        StoreEngine::Sqlite(path) => {
            let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| StoreError::Open { path: path.clone(), reason: format!("{e}; is [store] path right?") })?;
            let records = crate::store::audit::records(&conn)?;
            Ok((records, crate::store::audit::checkpoints(&conn, 0, usize::MAX)?))
        }
        StoreEngine::Postgres(pg) => runtime()?.block_on(async {
            let store = postgres(config, pg).await?;
            let mut records = Vec::new();
            loop {
                let after = records.last().map_or(0, |r: &Record| r.seq);
                let page = store.audit_records(&AuditQuery { after, limit: PAGE, ..AuditQuery::default() }).await?;
                let done = page.len() < PAGE;
                records.extend(page);
                if done {
                    break;
                }
            }
            let checkpoints = store.checkpoints(0, usize::MAX).await?;
            Ok((records, checkpoints))
        }),
    }
}

/// Append `events` to the audit trail now.
pub(super) fn record(config: &Config, events: &[AuditEvent]) -> Result<(), super::CtlError> {
    match &config.store.engine {
        StoreEngine::Sqlite(path) => Ok(crate::store::sqlite::SqliteStore::open(path)?.record_now(events)?),
        StoreEngine::Postgres(pg) => {
            runtime()?.block_on(async { Ok(postgres(config, pg).await?.record(events).await?) })
        }
    }
}
