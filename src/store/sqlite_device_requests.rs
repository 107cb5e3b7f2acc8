//! [`DeviceRequestStore`] on SQLite: the `device_requests` table.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::device_requests::{DeviceRequestRow, DeviceRequestStore, DeviceSigned, Finish, Queued};
use super::sqlite::SqliteStore;
use super::sqlite::{insert_session, spend_once, swap_session};
use super::{AuditEvent, SessionRow, StoreError, audit, epoch, from_epoch};
use crate::vocabulary::{CertificateState, RequestState, SessionState};

const COLUMNS: &str = "request_id, signature_id, client_id, session_id, certificate_id, status, expires_at, body";

fn request_row(row: &Row<'_>) -> rusqlite::Result<DeviceRequestRow> {
    Ok(DeviceRequestRow {
        request_id: row.get(0)?,
        signature_id: row.get(1)?,
        client_id: row.get(2)?,
        session_id: row.get(3)?,
        certificate_id: row.get(4)?,
        status: row.get(5)?,
        expires_at: from_epoch(row.get(6)?),
        body: row.get(7)?,
    })
}

fn select(conn: &Connection, filter: &str, args: impl rusqlite::Params) -> Result<Vec<DeviceRequestRow>, StoreError> {
    let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM device_requests WHERE {filter}"))?;
    let rows = statement.query_map(args, request_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[async_trait::async_trait]
impl DeviceRequestStore for SqliteStore {
    async fn add_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        from: Option<SessionState>,
        max_pending: usize,
        events: &[AuditEvent],
    ) -> Result<Queued, StoreError> {
        let (row, session, events) = (row.clone(), session.clone(), events.to_vec());
        self.with(move |conn| {
            // IMMEDIATE: the count below holds until the commit (one writer at a time).
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let waiting: i64 = tx.query_row(
                "SELECT count(*) FROM device_requests WHERE certificate_id = ?1 AND status = ?2 AND expires_at >= ?3",
                params![row.certificate_id, RequestState::Pending, epoch(SystemTime::now())],
                |r| r.get(0),
            )?;
            if waiting >= max_pending as i64 {
                return Ok(Queued::DeviceBusy);
            }
            let moved = match from {
                Some(from) => swap_session(&tx, &session, from)?,
                None => insert_session(&tx, &session)?,
            };
            if !moved {
                return Ok(Queued::SessionMoved);
            }
            tx.execute(
                &format!("INSERT INTO device_requests ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    row.request_id,
                    row.signature_id,
                    row.client_id,
                    row.session_id,
                    row.certificate_id,
                    row.status,
                    epoch(row.expires_at),
                    row.body
                ],
            )?;
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(Queued::Done)
        })
        .await
    }

    async fn device_request(&self, request_id: &str) -> Result<Option<DeviceRequestRow>, StoreError> {
        let id = request_id.to_owned();
        self.with(move |conn| {
            Ok(conn
                .query_row(&format!("SELECT {COLUMNS} FROM device_requests WHERE request_id = ?1"), [id], request_row)
                .optional()?)
        })
        .await
    }

    async fn device_request_by_signature(
        &self,
        signature_id: &str,
        client_id: &str,
    ) -> Result<Option<DeviceRequestRow>, StoreError> {
        let (signature_id, client_id) = (signature_id.to_owned(), client_id.to_owned());
        self.with(
            move |conn| Ok(select(conn, "signature_id = ?1 AND client_id = ?2", [signature_id, client_id])?.pop()),
        )
        .await
    }

    async fn pending_device_requests(
        &self,
        certificate_id: &str,
        now: SystemTime,
    ) -> Result<Vec<DeviceRequestRow>, StoreError> {
        let id = certificate_id.to_owned();
        self.with(move |conn| {
            select(
                conn,
                "certificate_id = ?1 AND status = ?2 AND expires_at >= ?3 ORDER BY rowid",
                params![id, RequestState::Pending, epoch(now)],
            )
        })
        .await
    }

    async fn overdue_device_requests(&self, now: SystemTime) -> Result<Vec<DeviceRequestRow>, StoreError> {
        self.with(move |conn| {
            select(conn, "status = ?1 AND expires_at < ?2", params![RequestState::Pending, epoch(now)])
        })
        .await
    }

    async fn finish_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        signed: Option<&DeviceSigned>,
        events: &[AuditEvent],
    ) -> Result<Finish, StoreError> {
        let (row, session, signed, events) = (row.clone(), session.clone(), signed.cloned(), events.to_vec());
        self.with(move |conn| {
            // IMMEDIATE: the certificate's state read below cannot change before the commit.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE device_requests SET status = ?2, body = ?3 WHERE request_id = ?1 AND status = ?4",
                params![row.request_id, row.status, row.body, RequestState::Pending],
            )?;
            if changed != 1 || !swap_session(&tx, &session, SessionState::Device)? {
                return Ok(Finish::Moved);
            }
            if let Some(DeviceSigned { signature, stamped_at, spend }) = signed {
                let certificate: Option<(CertificateState, i64)> = tx
                    .query_row(
                        "SELECT state, changed_at FROM device_certificates WHERE certificate_id = ?1",
                        [&row.certificate_id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let still_active = certificate.is_some_and(|(state, changed_at)| {
                    state == CertificateState::Active && changed_at <= epoch(stamped_at)
                });
                if !still_active {
                    return Ok(Finish::CertificateWithdrawn);
                }
                if let Some(spend) = &spend {
                    spend_once(&tx, spend)?;
                }
                tx.execute(
                    "INSERT INTO signatures (signature_id, client_id, response, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        signature.signature_id,
                        signature.client_id,
                        signature.response,
                        epoch(signature.expires_at)
                    ],
                )?;
            }
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(Finish::Done)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::SignatureRow;
    use crate::store::devices::{DeviceCertificateRow, DeviceStore};
    use crate::vocabulary::CertificateState;

    const CERTIFICATE: &str = "c0ffee";

    async fn store_with_device(dir: &std::path::Path, changed_at: SystemTime) -> SqliteStore {
        let store = SqliteStore::open(&dir.join("esignd.db")).unwrap();
        let device = DeviceCertificateRow {
            certificate_id: CERTIFICATE.into(),
            owner: "jane".into(),
            pseudonym: "jane-phone".into(),
            serial: "01".into(),
            der: vec![0x30, 0x00],
            state: CertificateState::Active,
            state_message: None,
            changed_at,
            not_after: SystemTime::now() + Duration::from_secs(3600),
            scd_type: "REMOTE_SCD_SIM".into(),
            scd_remote_id: "r".into(),
            scd_key_id: 0,
            key_sha256: "k".into(),
        };
        assert!(store.add_device_certificate(&device, &[]).await.unwrap());
        store
    }

    fn request(n: usize) -> (DeviceRequestRow, SessionRow) {
        let expires_at = SystemTime::now() + Duration::from_secs(300);
        let request = DeviceRequestRow {
            request_id: format!("request-{n}"),
            signature_id: format!("signature-{n}"),
            client_id: "eservice-a".into(),
            session_id: format!("session-{n}"),
            certificate_id: CERTIFICATE.into(),
            status: RequestState::Pending,
            expires_at,
            body: "{}".into(),
        };
        let session = SessionRow {
            id: format!("session-{n}"),
            client_id: "eservice-a".into(),
            correlation_id: format!("correlation-{n}"),
            status: SessionState::Device,
            oidc_state: None,
            expires_at,
            body: "{}".into(),
            webhook_url: None,
        };
        (request, session)
    }

    fn signed(n: usize, stamped_at: SystemTime) -> DeviceSigned {
        let signature = SignatureRow {
            signature_id: format!("signature-{n}"),
            client_id: "eservice-a".into(),
            response: "{}".into(),
            expires_at: SystemTime::now() + Duration::from_secs(300),
        };
        DeviceSigned { signature, stamped_at, spend: None }
    }

    /// Finish request `n` as signed at `stamped_at`.
    async fn finish(store: &SqliteStore, n: usize, stamped_at: SystemTime) -> Finish {
        let (mut request, mut session) = request(n);
        request.status = RequestState::Signed;
        session.status = SessionState::Signed;
        store.finish_device_request(&request, &session, Some(&signed(n, stamped_at)), &[]).await.unwrap()
    }

    fn set_state(dir: &std::path::Path, state: CertificateState, changed_at: SystemTime) {
        let conn = Connection::open(dir.join("esignd.db")).unwrap();
        conn.execute(
            "UPDATE device_certificates SET state = ?1, changed_at = ?2 WHERE certificate_id = ?3",
            params![state, epoch(changed_at), CERTIFICATE],
        )
        .unwrap();
    }

    /// Signatures kept for redemption.
    fn kept(dir: &std::path::Path) -> i64 {
        let conn = Connection::open(dir.join("esignd.db")).unwrap();
        conn.query_row("SELECT count(*) FROM signatures", [], |r| r.get(0)).unwrap()
    }

    #[tokio::test]
    async fn a_signature_is_kept_only_while_its_certificate_stays_active() {
        let dir = tempfile::tempdir().unwrap();
        let issued = SystemTime::now() - Duration::from_secs(600);
        let store = store_with_device(dir.path(), issued).await;
        for n in 0..4 {
            let (request, session) = request(n);
            assert_eq!(store.add_device_request(&request, &session, None, 10, &[]).await.unwrap(), Queued::Done);
        }
        let now = SystemTime::now();
        // Suspended while the answer was being finished (its requests not yet withdrawn):
        // the signature is not kept, the request still waits to be ended.
        set_state(dir.path(), CertificateState::Suspended, now);
        assert_eq!(finish(&store, 0, now).await, Finish::CertificateWithdrawn);
        assert_eq!(kept(dir.path()), 0);
        assert_eq!(store.device_request("request-0").await.unwrap().unwrap().status, RequestState::Pending);
        // Suspended and reactivated after the time-stamp: the signature was made while it was
        // withheld, so it is refused too.
        set_state(dir.path(), CertificateState::Active, now + Duration::from_secs(5));
        assert_eq!(finish(&store, 1, now).await, Finish::CertificateWithdrawn);
        // Revoked: refused.
        set_state(dir.path(), CertificateState::Revoked, now);
        assert_eq!(finish(&store, 2, now + Duration::from_secs(10)).await, Finish::CertificateWithdrawn);
        // Active since before the stamp: kept, once.
        set_state(dir.path(), CertificateState::Active, issued);
        assert_eq!(finish(&store, 3, now).await, Finish::Done);
        assert_eq!(kept(dir.path()), 1);
        assert_eq!(finish(&store, 3, now).await, Finish::Moved);
    }

    #[tokio::test]
    async fn requests_queued_at_once_cannot_pass_the_cap_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(store_with_device(dir.path(), SystemTime::now()).await);
        let racing = (0..12).map(|n| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                let (request, session) = request(n);
                store.add_device_request(&request, &session, None, 10, &[]).await.unwrap()
            })
        });
        let mut outcomes = Vec::new();
        for task in racing.collect::<Vec<_>>() {
            outcomes.push(task.await.unwrap());
        }
        assert_eq!(outcomes.iter().filter(|&&q| q == Queued::Done).count(), 10, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|&&q| q == Queued::DeviceBusy).count(), 2, "{outcomes:?}");
        assert_eq!(store.pending_device_requests(CERTIFICATE, SystemTime::now()).await.unwrap().len(), 10);
    }
}
