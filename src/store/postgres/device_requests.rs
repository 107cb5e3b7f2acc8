//! [`DeviceRequestStore`] on PostgreSQL: the `device_requests` table.
//!
//! The queue cap is counted under the advisory lock `esignd device <certificate>`, so requests
//! queued at once on several daemons cannot pass it together. A kept signature reads its
//! certificate `FOR SHARE`: a suspension or revocation committing meanwhile waits for it, or
//! has already landed and is seen. Queueing notifies the other daemons' long polls ([`super::listen`]).

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sessions::{insert_session, keep_signature, spend_once, swap_session};
use super::{PostgresStore, audit, execute, lock, query, query_opt, state};
use crate::store::device_requests::{DeviceRequestRow, DeviceRequestStore, DeviceSigned, DeviceWake, Finish, Queued};
use crate::store::{AuditEvent, SessionRow, StoreError, epoch, from_epoch};
use crate::vocabulary::{CertificateState, RequestState, SessionState};

const COLUMNS: &str = "request_id, signature_id, client_id, session_id, certificate_id, status, expires_at, body";

fn request_row(row: &Row) -> Result<DeviceRequestRow, StoreError> {
    Ok(DeviceRequestRow {
        request_id: row.try_get(0)?,
        signature_id: row.try_get(1)?,
        client_id: row.try_get(2)?,
        session_id: row.try_get(3)?,
        certificate_id: row.try_get(4)?,
        status: state(row.try_get(5)?, "device request status")?,
        expires_at: from_epoch(row.try_get(6)?),
        body: row.try_get(7)?,
    })
}

async fn select(
    client: &impl GenericClient,
    filter: &str,
    args: super::Params<'_>,
) -> Result<Vec<DeviceRequestRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM device_requests WHERE {filter}");
    query(client, &sql, args).await?.iter().map(request_row).collect()
}

/// Whether the certificate is active and has not changed state after `stamped_at`, holding it
/// (`FOR SHARE`) until the caller's transaction ends.
async fn still_active(
    client: &impl GenericClient,
    certificate_id: &str,
    stamped_at: SystemTime,
) -> Result<bool, StoreError> {
    let row = query_opt(
        client,
        "SELECT state, changed_at FROM device_certificates WHERE certificate_id = $1 FOR SHARE",
        &[&certificate_id],
    )
    .await?;
    let Some(row) = row else { return Ok(false) };
    let certificate_state: CertificateState = state(row.try_get(0)?, "certificate state")?;
    Ok(certificate_state == CertificateState::Active && row.try_get::<_, i64>(1)? <= epoch(stamped_at))
}

#[async_trait::async_trait]
impl DeviceRequestStore for PostgresStore {
    async fn add_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        from: Option<SessionState>,
        max_pending: usize,
        events: &[AuditEvent],
    ) -> Result<Queued, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, &format!("esignd device {}", row.certificate_id)).await?;
        let waiting: i64 = query_opt(
            &tx,
            "SELECT count(*) FROM device_requests WHERE certificate_id = $1 AND status = $2 AND expires_at >= $3",
            &[&row.certificate_id, &RequestState::Pending.as_str(), &epoch(SystemTime::now())],
        )
        .await?
        .map_or(Ok(0), |r| r.try_get(0))?;
        if waiting >= max_pending.min(i64::MAX as usize) as i64 {
            return Ok(Queued::DeviceBusy);
        }
        let moved = match from {
            Some(from) => swap_session(&tx, session, from).await?,
            None => insert_session(&tx, session).await?,
        };
        if !moved {
            return Ok(Queued::SessionMoved);
        }
        execute(
            &tx,
            &format!("INSERT INTO device_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                &row.request_id,
                &row.signature_id,
                &row.client_id,
                &row.session_id,
                &row.certificate_id,
                &row.status.as_str(),
                &epoch(row.expires_at),
                &row.body,
            ],
        )
        .await?;
        super::listen::announce(&tx, &row.certificate_id).await?;
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(Queued::Done)
    }

    fn watch_device_requests(&self, wake: DeviceWake) -> bool {
        super::listen::spawn(self.config.clone(), self.tls.clone(), wake);
        true
    }

    async fn device_request(&self, request_id: &str) -> Result<Option<DeviceRequestRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        Ok(select(&client, "request_id = $1", &[&request_id]).await?.pop())
    }

    async fn device_request_by_signature(
        &self,
        signature_id: &str,
        client_id: &str,
    ) -> Result<Option<DeviceRequestRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        Ok(select(&client, "signature_id = $1 AND client_id = $2", &[&signature_id, &client_id]).await?.pop())
    }

    async fn pending_device_requests(
        &self,
        certificate_id: &str,
        now: SystemTime,
    ) -> Result<Vec<DeviceRequestRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        let filter = "certificate_id = $1 AND status = $2 AND expires_at >= $3 ORDER BY position";
        select(&client, filter, &[&certificate_id, &RequestState::Pending.as_str(), &epoch(now)]).await
    }

    async fn overdue_device_requests(&self, now: SystemTime) -> Result<Vec<DeviceRequestRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        select(&client, "status = $1 AND expires_at < $2", &[&RequestState::Pending.as_str(), &epoch(now)]).await
    }

    async fn finish_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        signed: Option<&DeviceSigned>,
        events: &[AuditEvent],
    ) -> Result<Finish, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        let changed = execute(
            &tx,
            "UPDATE device_requests SET status = $2, body = $3 WHERE request_id = $1 AND status = $4",
            &[&row.request_id, &row.status.as_str(), &row.body, &RequestState::Pending.as_str()],
        )
        .await?;
        if changed != 1 || !swap_session(&tx, session, SessionState::Device).await? {
            return Ok(Finish::Moved);
        }
        if let Some(DeviceSigned { signature, stamped_at, spend }) = signed {
            if !still_active(&tx, &row.certificate_id, *stamped_at).await? {
                return Ok(Finish::CertificateWithdrawn);
            }
            if let Some(spend) = spend {
                spend_once(&tx, spend).await?;
            }
            keep_signature(&tx, signature).await?;
        }
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(Finish::Done)
    }
}
