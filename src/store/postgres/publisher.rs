//! The one-time signatures' grouped write on PostgreSQL ([`crate::store::group_commit`]): the
//! group's certificates in one INSERT, then every record after the chain's head, in the order
//! the signatures arrived, in one transaction: one hold of the chain's lock and one commit.

use std::time::SystemTime;

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use super::{audit, execute, pool_reason, values};
use crate::store::group_commit::{Publication, WriteGroup, split};
use crate::store::{StoreError, epoch};

/// How the PostgreSQL store writes a group: on a connection from `pool`.
pub(super) fn write_group(pool: Pool) -> WriteGroup {
    Box::new(move |group| {
        let pool = pool.clone();
        Box::pin(async move { write(&pool, group).await })
    })
}

async fn write(pool: &Pool, group: Vec<Publication>) -> Result<(), StoreError> {
    let (certificates, events) = split(group);
    let mut client = pool.get().await.map_err(|e| StoreError::Unavailable(pool_reason(&e)))?;
    let tx = client.transaction().await?;
    let now = epoch(SystemTime::now());
    let not_after: Vec<i64> = certificates.iter().map(|c| epoch(c.not_after)).collect();
    let params: Vec<&(dyn ToSql + Sync)> = certificates
        .iter()
        .zip(&not_after)
        .flat_map(|(c, not_after)| [&c.serial as &(dyn ToSql + Sync), &c.der, not_after, &now])
        .collect();
    let sql = format!(
        "INSERT INTO certificates (serial, der, not_after, created_at) VALUES {} ON CONFLICT DO NOTHING",
        values(certificates.len(), 4)
    );
    execute(&tx, &sql, &params).await?;
    audit::append(&tx, &events).await?;
    tx.commit().await?;
    Ok(())
}
