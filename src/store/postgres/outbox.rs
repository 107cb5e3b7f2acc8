//! [`OutboxStore`] on PostgreSQL. Daemons claim due deliveries with `FOR UPDATE SKIP LOCKED`:
//! rows another daemon is claiming are passed over instead of waited for, and a claim that
//! commits first moves `claimed_until` so that the others' re-check excludes them.

use deadpool_postgres::GenericClient;

use super::{PostgresStore, audit, execute, query, query_opt};
use crate::store::StoreError;
use crate::store::outbox::{Attempted, Delivery, OutboxStore};

/// Queue the delivery of session `session_id`'s outcome to `url`, due now, within the caller's
/// transaction.
pub(super) async fn queue(client: &impl GenericClient, session_id: &str, url: &str) -> Result<(), StoreError> {
    let now = crate::store::epoch_millis(std::time::SystemTime::now());
    execute(
        client,
        "INSERT INTO outbox (id, session_id, url, attempts, next_at, claimed_until, created_at) VALUES ($1, $2, $3, 0, $4, 0, $4)",
        &[&crate::ids::random_hex(16), &session_id, &url, &now],
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl OutboxStore for PostgresStore {
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
        session_id: Option<&str>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (client, _timer) = self.client().await?;
        let rows = query(
            &client,
            "UPDATE outbox SET claimed_until = $1 WHERE id IN (
                 SELECT id FROM outbox WHERE claimed_until <= $2
                 AND ($3::TEXT IS NULL AND next_at <= $2 OR session_id = $3)
                 ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING id, session_id, url, attempts, body",
            &[&(now_ms + lease_ms), &now_ms, &session_id, &(limit.min(i64::MAX as usize) as i64)],
        )
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Delivery {
                    id: row.try_get(0)?,
                    session_id: row.try_get(1)?,
                    url: row.try_get(2)?,
                    attempts: row.try_get::<_, i32>(3)?.max(0) as u32,
                    body: row.try_get(4)?,
                })
            })
            .collect()
    }

    async fn attempted(&self, id: &str, outcome: &Attempted) -> Result<(), StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        match outcome {
            Attempted::Delivered(event) | Attempted::Abandoned(event) => {
                if execute(&tx, "DELETE FROM outbox WHERE id = $1", &[&id]).await? == 1 {
                    audit::append(&tx, std::slice::from_ref(event)).await?;
                }
            }
            Attempted::Retry { next_at_ms, body } => {
                execute(
                    &tx,
                    "UPDATE outbox SET attempts = attempts + 1, next_at = $2, claimed_until = 0, body = $3 WHERE id = $1",
                    &[&id, next_at_ms, body],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<(u64, Option<i64>), StoreError> {
        let (client, _timer) = self.client().await?;
        let row = query_opt(&client, "SELECT count(*), min(created_at) FROM outbox", &[]).await?;
        match row {
            Some(row) => Ok((row.try_get::<_, i64>(0)?.max(0) as u64, row.try_get(1)?)),
            None => Ok((0, None)),
        }
    }
}
