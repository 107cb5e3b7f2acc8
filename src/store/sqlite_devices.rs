//! [`DeviceStore`] on SQLite: the `device_certificates` and `crl` tables.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::devices::{Binding, CrlRow, DeviceCertificateRow, DeviceStore, StateChange};
use super::sqlite::{SqliteStore, execute_cached, query_row_cached};
use super::{AuditEvent, StoreError, audit, epoch, from_epoch};
use crate::vocabulary::CertificateState;

const COLUMNS: &str = "certificate_id, owner, pseudonym, serial, der, state, state_message, changed_at, not_after, \
                       scd_type, scd_remote_id, scd_key_id, key_sha256";

fn device_row(row: &Row<'_>) -> rusqlite::Result<DeviceCertificateRow> {
    Ok(DeviceCertificateRow {
        certificate_id: row.get(0)?,
        owner: row.get(1)?,
        pseudonym: row.get(2)?,
        serial: row.get(3)?,
        der: row.get(4)?,
        state: row.get(5)?,
        state_message: row.get(6)?,
        changed_at: from_epoch(row.get(7)?),
        not_after: from_epoch(row.get(8)?),
        scd_type: row.get(9)?,
        scd_remote_id: row.get(10)?,
        scd_key_id: row.get(11)?,
        key_sha256: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
    })
}

fn select(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<DeviceCertificateRow>, StoreError> {
    let mut statement = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM device_certificates WHERE {filter}"))?;
    let rows = statement.query_map(args, device_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Install `crl` in `conn` if its number is above the installed one's.
fn install(conn: &Connection, crl: &CrlRow) -> rusqlite::Result<bool> {
    let changed = execute_cached(
        conn,
        "INSERT INTO crl (id, number, der, next_update) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET number = excluded.number, der = excluded.der, next_update = excluded.next_update
         WHERE excluded.number > crl.number",
        params![crl.number as i64, crl.der, epoch(crl.next_update)],
    )?;
    Ok(changed == 1)
}

/// Insert a device certificate and publish it under its serial.
fn insert(conn: &Connection, row: &DeviceCertificateRow) -> rusqlite::Result<()> {
    execute_cached(
        conn,
        &format!(
            "INSERT INTO device_certificates ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            row.certificate_id,
            row.owner,
            row.pseudonym,
            row.serial,
            row.der,
            row.state,
            row.state_message,
            epoch(row.changed_at),
            epoch(row.not_after),
            row.scd_type,
            row.scd_remote_id,
            row.scd_key_id,
            row.key_sha256
        ],
    )?;
    execute_cached(
        conn,
        "INSERT OR IGNORE INTO certificates (serial, der, not_after, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![row.serial, row.der, epoch(row.not_after), epoch(SystemTime::now())],
    )?;
    Ok(())
}

#[async_trait::async_trait]
impl DeviceStore for SqliteStore {
    async fn add_device_certificate(
        &self,
        row: &DeviceCertificateRow,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let (row, events) = (row.clone(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let taken: bool = query_row_cached(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM device_certificates WHERE pseudonym = ?1)",
                [&row.pseudonym],
                |r| r.get(0),
            )?;
            if taken {
                return Ok(false);
            }
            insert(&tx, &row)?;
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn device_certificate(&self, certificate_id: &str) -> Result<Option<DeviceCertificateRow>, StoreError> {
        let id = certificate_id.to_ascii_lowercase();
        self.with(move |conn| Ok(select(conn, "certificate_id = ?1", [id])?.pop())).await
    }

    async fn device_certificates(&self, owner: &str) -> Result<Vec<DeviceCertificateRow>, StoreError> {
        let owner = owner.to_owned();
        self.with(move |conn| select(conn, "owner = ?1 ORDER BY rowid", [owner])).await
    }

    async fn device_by_pseudonym(&self, pseudonym: &str) -> Result<Option<DeviceCertificateRow>, StoreError> {
        let pseudonym = pseudonym.to_owned();
        self.with(move |conn| {
            Ok(select(
                conn,
                "pseudonym = ?1 ORDER BY state != ?2, changed_at, rowid",
                params![pseudonym, CertificateState::Revoked],
            )?
            .pop())
        })
        .await
    }

    async fn withheld_certificates(&self, now: SystemTime) -> Result<Vec<DeviceCertificateRow>, StoreError> {
        self.with(move |conn| {
            let withheld = params![CertificateState::Suspended, CertificateState::Revoked, epoch(now)];
            select(conn, "state IN (?1, ?2) AND not_after >= ?3 ORDER BY rowid", withheld)
        })
        .await
    }

    async fn change_device_state(
        &self,
        certificate_id: &str,
        change: StateChange<'_>,
        crl: &CrlRow,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let events = events.to_vec();
        let (id, from, to, message, at, crl) = (
            certificate_id.to_owned(),
            change.from,
            change.to,
            change.message.map(str::to_owned),
            change.at,
            crl.clone(),
        );
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let changed = execute_cached(
                &tx,
                "UPDATE device_certificates SET state = ?2, state_message = ?3, changed_at = ?4
                 WHERE certificate_id = ?1 AND state = ?5",
                params![id, to, message, epoch(at), from],
            )?;
            if changed != 1 || !install(&tx, &crl)? {
                return Ok(false);
            }
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn install_crl(&self, crl: &CrlRow) -> Result<bool, StoreError> {
        let crl = crl.clone();
        self.with(move |conn| Ok(install(conn, &crl)?)).await
    }

    async fn crl(&self) -> Result<Option<CrlRow>, StoreError> {
        self.with(|conn| {
            Ok(query_row_cached(conn, "SELECT number, der, next_update FROM crl WHERE id = 1", [], |row| {
                Ok(CrlRow {
                    number: row.get::<_, i64>(0)?.max(0) as u64,
                    der: row.get(1)?,
                    next_update: from_epoch(row.get(2)?),
                })
            })
            .optional()?)
        })
        .await
    }

    async fn device_certificates_by_key(&self, key_sha256: &str) -> Result<Vec<DeviceCertificateRow>, StoreError> {
        let key = key_sha256.to_owned();
        self.with(move |conn| {
            select(conn, "key_sha256 = ?1 AND state != ?2 ORDER BY rowid", params![key, CertificateState::Revoked])
        })
        .await
    }

    async fn bind_device(&self, binding: &Binding, events: &[AuditEvent]) -> Result<bool, StoreError> {
        let (binding, events) = (binding.clone(), events.to_vec());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let others: bool = query_row_cached(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM device_certificates WHERE pseudonym = ?1 AND owner != ?2)",
                [&binding.row.pseudonym, &binding.row.owner],
                |r| r.get(0),
            )?;
            if others {
                return Ok(false);
            }
            for id in &binding.replaces {
                let changed = execute_cached(
                    &tx,
                    "UPDATE device_certificates SET state = ?3, state_message = 'replaced by a new wallet binding',
                     changed_at = ?2 WHERE certificate_id = ?1 AND state != ?3",
                    params![id, epoch(binding.at), CertificateState::Revoked],
                )?;
                if changed != 1 {
                    return Ok(false);
                }
            }
            if let Some(crl) = &binding.crl
                && !install(&tx, crl)?
            {
                return Ok(false);
            }
            insert(&tx, &binding.row)?;
            audit::append(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        let mut fresh = vec![0u8; 32];
        getrandom::fill(&mut fresh).expect("the operating system's random source failed");
        self.with(move |conn| {
            execute_cached(conn, "INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)", params![name, fresh])?;
            Ok(query_row_cached(conn, "SELECT value FROM secrets WHERE name = ?1", [name], |row| row.get(0))?)
        })
        .await
    }
}
