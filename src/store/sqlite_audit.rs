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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use serde_json::json;

    use super::*;

    fn checkpoint_of(head: &Record, time: &str) -> Checkpoint {
        Checkpoint {
            seq: head.seq,
            head: head.hash.clone(),
            time: time.to_owned(),
            signature: "c2lnbmF0dXJl".into(),
            timestamp_token: String::new(),
        }
    }

    #[tokio::test]
    async fn records_are_queried_by_field_and_pruned_only_up_to_an_old_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("audit.db")).unwrap();
        for n in 1..=5 {
            let event =
                AuditEvent::new("session.created", json!({ "correlationId": format!("c-{n}"), "serial": "0a" }));
            store.record(&[event]).await.unwrap();
        }
        // A checkpoint a year old covers records 1 to 5; one made now covers 1 to 7.
        let old = store.audit_head().await.unwrap().unwrap();
        assert!(store.add_checkpoint(&checkpoint_of(&old, "2025-11-01T00:00:00Z")).await.unwrap());
        assert!(!store.add_checkpoint(&checkpoint_of(&old, "2025-11-01T00:00:00Z")).await.unwrap(), "once per record");
        store.record(&[AuditEvent::new("session.created", json!({ "correlationId": "c-6" }))]).await.unwrap();
        let recent = store.audit_head().await.unwrap().unwrap();
        assert!(
            store
                .add_checkpoint(&checkpoint_of(&recent, &crate::vocabulary::rfc3339(SystemTime::now())))
                .await
                .unwrap()
        );

        assert_eq!(store.latest_checkpoint().await.unwrap().map(|c| c.seq), Some(recent.seq));
        let query = AuditQuery { correlation_id: Some("c-3".into()), limit: 10, ..AuditQuery::default() };
        assert_eq!(store.audit_records(&query).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
        let query = AuditQuery { kind: Some("audit.checkpoint".into()), limit: 10, ..AuditQuery::default() };
        assert_eq!(store.audit_records(&query).await.unwrap().len(), 2, "each checkpoint is noted in the chain");
        let query = AuditQuery { after: 2, limit: 2, ..AuditQuery::default() };
        assert_eq!(store.audit_records(&query).await.unwrap().iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);

        // Retention of 30 days: only what the year-old checkpoint covers goes.
        let pruned = store.prune_audit(SystemTime::now() - Duration::from_secs(30 * 86_400)).await.unwrap();
        assert_eq!(pruned, 5);
        let rest = store.audit_records(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(rest.first().map(|r| (r.seq, r.prev.clone())), Some((6, old.hash.clone())));
        let checkpoints = store.checkpoints(0, 10).await.unwrap();
        assert_eq!(checkpoints.len(), 2, "checkpoints are never pruned");
        let summary = crate::audit::trail::verify_trail_with(&rest, &checkpoints, None, |_| Ok(())).unwrap();
        assert_eq!(summary.records, rest.len() as u64);
        // Nothing older than now minus a day is covered by the recent checkpoint: nothing more goes.
        assert_eq!(store.prune_audit(SystemTime::now() - Duration::from_secs(86_400)).await.unwrap(), 0);
    }
}
