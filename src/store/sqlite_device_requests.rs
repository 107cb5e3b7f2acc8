//! [`DeviceRequestStore`] on SQLite: the `device_requests` table.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::device_requests::{DeviceRequestRow, DeviceRequestStore};
use super::sqlite::SqliteStore;
use super::sqlite::{insert_session, swap_session};
use super::{SessionRow, SignatureRow, StoreError, epoch, from_epoch};
use crate::vocabulary::{RequestState, SessionState};

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
    ) -> Result<bool, StoreError> {
        let (row, session) = (row.clone(), session.clone());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let moved = match from {
                Some(from) => swap_session(&tx, &session, from)?,
                None => insert_session(&tx, &session)?,
            };
            if !moved {
                return Ok(false);
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
            tx.commit()?;
            Ok(true)
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
        signature: Option<&SignatureRow>,
    ) -> Result<bool, StoreError> {
        let (row, session, signature) = (row.clone(), session.clone(), signature.cloned());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "UPDATE device_requests SET status = ?2, body = ?3 WHERE request_id = ?1 AND status = ?4",
                params![row.request_id, row.status, row.body, RequestState::Pending],
            )?;
            if changed != 1 || !swap_session(&tx, &session, SessionState::Device)? {
                return Ok(false);
            }
            if let Some(signature) = signature {
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
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}
