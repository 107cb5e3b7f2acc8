//! The SQLite store's outbox ([`OutboxStore`]).

use rusqlite::{Connection, params};

use super::StoreError;
use super::outbox::{Attempted, Delivery, OutboxStore};
use super::sqlite::{SqliteStore, execute_cached, query_row_cached};

/// Queue the delivery of session `session_id`'s outcome to `url`, due now, within the caller's
/// transaction.
pub(super) fn queue(conn: &Connection, session_id: &str, url: &str) -> rusqlite::Result<()> {
    let now = super::epoch_millis(std::time::SystemTime::now());
    execute_cached(
        conn,
        "INSERT INTO outbox (id, session_id, url, attempts, next_at, claimed_until, created_at) VALUES (?1, ?2, ?3, 0, ?4, 0, ?4)",
        params![crate::ids::random_hex(16), session_id, url, now],
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
        session_id: Option<&str>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let session_id = session_id.map(str::to_owned);
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let claimed = {
                let mut statement = tx.prepare_cached(
                    "UPDATE outbox SET claimed_until = ?1 WHERE id IN (
                         SELECT id FROM outbox WHERE claimed_until <= ?2
                         AND (?3 IS NULL AND next_at <= ?2 OR session_id = ?3)
                         ORDER BY next_at LIMIT ?4)
                     RETURNING id, session_id, url, attempts, body",
                )?;
                let rows = statement.query_map(
                    params![now_ms + lease_ms, now_ms, session_id, limit.min(i64::MAX as usize) as i64],
                    |row| {
                        Ok(Delivery {
                            id: row.get(0)?,
                            session_id: row.get(1)?,
                            url: row.get(2)?,
                            attempts: row.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
                            body: row.get(4)?,
                        })
                    },
                )?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn attempted(&self, id: &str, outcome: &Attempted) -> Result<(), StoreError> {
        let (id, outcome) = (id.to_owned(), outcome.clone());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            match &outcome {
                Attempted::Delivered(event) | Attempted::Abandoned(event) => {
                    if execute_cached(&tx, "DELETE FROM outbox WHERE id = ?1", [&id])? == 1 {
                        super::audit::append(&tx, std::slice::from_ref(event))?;
                    }
                }
                Attempted::Retry { next_at_ms, body } => {
                    execute_cached(
                        &tx,
                        "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, claimed_until = 0, body = ?3 WHERE id = ?1",
                        params![id, next_at_ms, body],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn outbox_backlog(&self) -> Result<(u64, Option<i64>), StoreError> {
        self.with(|conn| {
            Ok(query_row_cached(conn, "SELECT count(*), min(created_at) FROM outbox", [], |row| {
                Ok((row.get::<_, i64>(0)?.max(0) as u64, row.get::<_, Option<i64>>(1)?))
            })?)
        })
        .await
    }
}
