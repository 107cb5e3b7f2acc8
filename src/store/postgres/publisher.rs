//! The one-time signatures' grouped write on PostgreSQL ([`crate::store::group_commit`]): the
//! group's certificates in one INSERT, then every record after the chain's head, in the order
//! the signatures arrived, in one transaction: one hold of the chain's lock and one commit.

use std::time::SystemTime;

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use super::{audit, execute, pool_reason};
use crate::store::group_commit::{Publication, WriteGroup};
use crate::store::{AuditEvent, StoreError, epoch};

/// How the PostgreSQL store writes a group: on a connection from `pool`.
pub(super) fn write_group(pool: Pool) -> WriteGroup {
    Box::new(move |group| {
        let pool = pool.clone();
        Box::pin(async move { write(&pool, &group).await })
    })
}

async fn write(pool: &Pool, group: &[Publication]) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(|e| StoreError::Unavailable(pool_reason(&e)))?;
    let tx = client.transaction().await?;
    let now = epoch(SystemTime::now());
    let columns: Vec<(&str, &[u8], i64)> = group
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
    let events: Vec<AuditEvent> = group.iter().flat_map(|p| p.events.iter().cloned()).collect();
    audit::append(&tx, &events).await?;
    tx.commit().await?;
    Ok(())
}
