//! [`DeviceRequestStore`] on SQLite: the `device_requests` table.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::device_requests::{DeviceRequestRow, DeviceRequestStore, DeviceSigned, Finish, Queued};
use super::sqlite::{SqliteStore, execute_cached, insert_session, query_row_cached, spend_once, swap_session};
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
    let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM device_requests WHERE {filter}"))?;
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
            let waiting: i64 = query_row_cached(
                &tx,
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
            execute_cached(
                &tx,
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
            Ok(query_row_cached(
                conn,
                &format!("SELECT {COLUMNS} FROM device_requests WHERE request_id = ?1"),
                [id],
                request_row,
            )
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
            let changed = execute_cached(
                &tx,
                "UPDATE device_requests SET status = ?2, body = ?3 WHERE request_id = ?1 AND status = ?4",
                params![row.request_id, row.status, row.body, RequestState::Pending],
            )?;
            if changed != 1 || !swap_session(&tx, &session, SessionState::Device)? {
                return Ok(Finish::Moved);
            }
            if let Some(DeviceSigned { signature, stamped_at, spend }) = signed {
                let certificate: Option<(CertificateState, i64)> = query_row_cached(
                    &tx,
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
                super::sqlite::insert_signature(&tx, &signature)?;
            }
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(Finish::Done)
        })
        .await
    }
}
