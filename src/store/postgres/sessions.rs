//! [`Store`] on PostgreSQL: sessions, signatures kept for redemption, published certificates,
//! the replay cache, the sweeper.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PostgresStore, audit, execute, query, query_opt, state};
use crate::store::{AuditEvent, CertificateRow, SessionRow, SignatureRow, Spend, Store, StoreError, epoch, from_epoch};
use crate::vocabulary::{RequestState, SessionState};

const SESSION_COLUMNS: &str = "id, client_id, correlation_id, status, oidc_state, expires_at, body";

fn session_row(row: &Row) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: row.try_get(0)?,
        client_id: row.try_get(1)?,
        correlation_id: row.try_get(2)?,
        status: state(row.try_get(3)?, "session status")?,
        oidc_state: row.try_get(4)?,
        expires_at: from_epoch(row.try_get(5)?),
        body: row.try_get(6)?,
        webhook_url: None,
    })
}

async fn one_session(
    client: &impl GenericClient,
    filter: &str,
    args: super::Params<'_>,
) -> Result<Option<SessionRow>, StoreError> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE {filter}");
    query_opt(client, &sql, args).await?.as_ref().map(session_row).transpose()
}

/// `INSERT` a session; false when its id, its client's correlation id or its OpenID state is taken.
pub(super) async fn insert_session(client: &impl GenericClient, row: &SessionRow) -> Result<bool, StoreError> {
    let inserted = execute(
        client,
        "INSERT INTO sessions (id, client_id, correlation_id, status, oidc_state, expires_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        &[
            &row.id,
            &row.client_id,
            &row.correlation_id,
            &row.status.as_str(),
            &row.oidc_state,
            &epoch(row.expires_at),
            &row.body,
        ],
    )
    .await?;
    Ok(inserted == 1)
}

/// Remember `spend` within the caller's transaction; [`StoreError::AlreadySpent`] (the caller's
/// transaction is then dropped, which rolls it back) when it was there. A concurrent spender
/// waits on the unique index and then finds it taken.
pub(super) async fn spend_once(client: &impl GenericClient, spend: &Spend) -> Result<(), StoreError> {
    if remember(client, spend.kind, &spend.id, spend.until).await? {
        Ok(())
    } else {
        Err(StoreError::AlreadySpent(spend.kind))
    }
}

/// Remember `id` of `kind` until `until` in the replay cache; false when it was there.
async fn remember(client: &impl GenericClient, kind: &str, id: &str, until: SystemTime) -> Result<bool, StoreError> {
    let inserted = execute(
        client,
        "INSERT INTO seen_once (kind, id, until) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        &[&kind, &id, &epoch(until)],
    )
    .await?;
    Ok(inserted == 1)
}

/// `UPDATE` a session if its status is still `from` (the row lock makes a concurrent mover wait
/// and then miss); true when it was. A session that ends here with a webhook gets its delivery
/// queued in the same transaction.
pub(super) async fn swap_session(
    client: &impl GenericClient,
    row: &SessionRow,
    from: SessionState,
) -> Result<bool, StoreError> {
    let changed = execute(
        client,
        "UPDATE sessions SET status = $2, oidc_state = $3, expires_at = $4, body = $5 WHERE id = $1 AND status = $6",
        &[&row.id, &row.status.as_str(), &row.oidc_state, &epoch(row.expires_at), &row.body, &from.as_str()],
    )
    .await?;
    let ends = matches!(row.status, SessionState::Signed | SessionState::Failed) && from != row.status;
    if changed == 1
        && ends
        && let Some(url) = &row.webhook_url
    {
        super::outbox::queue(client, &row.id, url).await?;
    }
    Ok(changed == 1)
}

/// Keep a finished signature for redemption, within the caller's transaction.
pub(super) async fn keep_signature(client: &impl GenericClient, signature: &SignatureRow) -> Result<(), StoreError> {
    execute(
        client,
        "INSERT INTO signatures (signature_id, client_id, response, expires_at) VALUES ($1, $2, $3, $4)",
        &[&signature.signature_id, &signature.client_id, &signature.response, &epoch(signature.expires_at)],
    )
    .await?;
    Ok(())
}

/// Publish a certificate under its serial (once), within the caller's transaction.
pub(super) async fn publish(
    client: &impl GenericClient,
    serial: &str,
    der: &[u8],
    not_after: SystemTime,
) -> Result<(), StoreError> {
    execute(
        client,
        "INSERT INTO certificates (serial, der, not_after, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&serial, &der, &epoch(not_after), &epoch(SystemTime::now())],
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn create_session(&self, row: &SessionRow, events: &[AuditEvent]) -> Result<bool, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        if !insert_session(&tx, row).await? {
            return Ok(false);
        }
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        one_session(&client, "id = $1", &[&id]).await
    }

    async fn session_by_correlation(
        &self,
        client_id: &str,
        correlation_id: &str,
    ) -> Result<Option<SessionRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        one_session(&client, "client_id = $1 AND correlation_id = $2", &[&client_id, &correlation_id]).await
    }

    async fn session_by_oidc_state(&self, oidc_state: &str) -> Result<Option<SessionRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        one_session(&client, "oidc_state = $1", &[&oidc_state]).await
    }

    async fn update_session(
        &self,
        row: &SessionRow,
        from: SessionState,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        if !swap_session(&tx, row, from).await? {
            return Ok(false);
        }
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(true)
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
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        if !swap_session(&tx, row, from).await? {
            return Ok(false);
        }
        if let Some(spend) = spend {
            spend_once(&tx, spend).await?;
        }
        keep_signature(&tx, signature).await?;
        publish(&tx, &certificate.serial, &certificate.der, certificate.not_after).await?;
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn expired_sessions(
        &self,
        now: SystemTime,
        statuses: &[SessionState],
    ) -> Result<Vec<SessionRow>, StoreError> {
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let (client, _timer) = self.client().await?;
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE expires_at < $1 AND status = ANY($2)");
        query(&client, &sql, &[&epoch(now), &statuses]).await?.iter().map(session_row).collect()
    }

    async fn redeem_signature(
        &self,
        signature_id: &str,
        client_id: &str,
        now: SystemTime,
        events: &[AuditEvent],
    ) -> Result<Option<String>, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        // Two redeemers at once: the second's DELETE waits for the first's row lock, then finds
        // the row gone.
        let taken = query_opt(
            &tx,
            "DELETE FROM signatures WHERE signature_id = $1 AND client_id = $2 AND expires_at >= $3 RETURNING response",
            &[&signature_id, &client_id, &epoch(now)],
        )
        .await?;
        let Some(row) = taken else { return Ok(None) };
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(Some(row.try_get(0)?))
    }

    async fn publish_certificate(
        &self,
        certificate: &CertificateRow,
        spend: Option<&Spend>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let Some(spend) = spend else {
            // The common case shares a transaction with the signatures finished meanwhile
            // (group commit).
            let _timer = self.timer();
            return self.publisher.publish(certificate, events).await;
        };
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        spend_once(&tx, spend).await?;
        publish(&tx, &certificate.serial, &certificate.der, certificate.not_after).await?;
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn certificate(&self, serial: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let serial = serial.to_ascii_lowercase();
        let (client, _timer) = self.client().await?;
        let row = query_opt(&client, "SELECT der FROM certificates WHERE serial = $1", &[&serial]).await?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    async fn remember_once(&self, kind: &str, id: &str, until: SystemTime) -> Result<bool, StoreError> {
        let (client, _timer) = self.client().await?;
        remember(&client, kind, id, until).await
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, StoreError> {
        let now = epoch(now);
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        let mut removed = execute(&tx, "DELETE FROM seen_once WHERE until < $1", &[&now]).await?;
        removed += execute(&tx, "DELETE FROM signatures WHERE expires_at < $1", &[&now]).await?;
        // Answered device requests stay a day so eServices can still learn how they ended.
        removed += execute(
            &tx,
            "DELETE FROM device_requests WHERE expires_at < $1 AND status != $2",
            &[&(now - 86_400), &RequestState::Pending.as_str()],
        )
        .await?;
        // Finished sessions stay a day past their expiry so eServices can still poll them.
        removed += execute(
            &tx,
            "DELETE FROM sessions WHERE expires_at < $1 AND status IN ($2, $3)",
            &[&(now - 86_400), &SessionState::Signed.as_str(), &SessionState::Failed.as_str()],
        )
        .await?;
        tx.commit().await?;
        Ok(removed as usize)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let (client, _timer) = self.client().await?;
        execute(&client, "SELECT 1", &[]).await?;
        Ok(())
    }
}
