//! The SQLite store's audit trail: [`AuditStore`] over the `audit` and `audit_checkpoints`
//! tables (the statements are in [`super::audit`]).

use std::time::SystemTime;

use super::StoreError;
use super::audit::{self, AuditEvent, AuditQuery, AuditStore};
use super::sqlite::SqliteStore;
use crate::audit::chain::Record;
use crate::audit::checkpoint::Checkpoint;

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let events = events.to_vec();
        self.with(move |conn| audit::append_alone(conn, &events)).await
    }

    async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<Record>, StoreError> {
        let query = query.clone();
        self.with(move |conn| audit::query(conn, &query)).await
    }

    async fn audit_head(&self) -> Result<Option<Record>, StoreError> {
        self.with(|conn| audit::head(conn)).await
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        let checkpoint = checkpoint.clone();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let added = audit::add_checkpoint(&tx, &checkpoint)?;
            tx.commit()?;
            Ok(added)
        })
        .await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.with(|conn| audit::latest_checkpoint(conn)).await
    }

    async fn checkpoints(&self, after: u64, limit: usize) -> Result<Vec<Checkpoint>, StoreError> {
        self.with(move |conn| audit::checkpoints(conn, after, limit)).await
    }

    async fn prune_audit(&self, before: SystemTime) -> Result<usize, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let pruned = audit::prune(&tx, before)?;
            tx.commit()?;
            Ok(pruned)
        })
        .await
    }
}
