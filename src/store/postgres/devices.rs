//! [`DeviceStore`] on PostgreSQL: the `device_certificates` and `crl` tables.
//!
//! A pseudonym's certificates are written under the advisory lock `esignd pseudonym <name>`:
//! "is this pseudonym taken, and by whom?" is a question about rows that may not exist yet, so
//! there is no row to lock; the lock makes the check and the insert one step across daemons.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::sessions::publish;
use super::{PostgresStore, audit, execute, lock, query, query_opt, state};
use crate::store::devices::{Binding, CrlRow, DeviceCertificateRow, DeviceStore, StateChange};
use crate::store::{AuditEvent, StoreError, epoch, from_epoch};
use crate::vocabulary::CertificateState;

const COLUMNS: &str = "certificate_id, owner, pseudonym, serial, der, state, state_message, changed_at, not_after, \
                       scd_type, scd_remote_id, scd_key_id, key_sha256";

fn device_row(row: &Row) -> Result<DeviceCertificateRow, StoreError> {
    Ok(DeviceCertificateRow {
        certificate_id: row.try_get(0)?,
        owner: row.try_get(1)?,
        pseudonym: row.try_get(2)?,
        serial: row.try_get(3)?,
        der: row.try_get(4)?,
        state: state(row.try_get(5)?, "certificate state")?,
        state_message: row.try_get(6)?,
        changed_at: from_epoch(row.try_get(7)?),
        not_after: from_epoch(row.try_get(8)?),
        scd_type: row.try_get(9)?,
        scd_remote_id: row.try_get(10)?,
        scd_key_id: row.try_get(11)?,
        key_sha256: row.try_get(12)?,
    })
}

async fn select(
    client: &impl GenericClient,
    filter: &str,
    args: super::Params<'_>,
) -> Result<Vec<DeviceCertificateRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM device_certificates WHERE {filter}");
    query(client, &sql, args).await?.iter().map(device_row).collect()
}

/// Install `crl` unless one numbered at least as high is installed (the row lock of the upsert
/// orders two installers; the later one finds the higher number).
async fn install(client: &impl GenericClient, crl: &CrlRow) -> Result<bool, StoreError> {
    let changed = execute(
        client,
        "INSERT INTO crl (id, number, der, next_update) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET number = excluded.number, der = excluded.der, next_update = excluded.next_update
         WHERE crl.number < excluded.number",
        &[&(crl.number.min(i64::MAX as u64) as i64), &crl.der, &epoch(crl.next_update)],
    )
    .await?;
    Ok(changed == 1)
}

async fn insert(client: &impl GenericClient, row: &DeviceCertificateRow) -> Result<(), StoreError> {
    execute(
        client,
        &format!(
            "INSERT INTO device_certificates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        &[
            &row.certificate_id,
            &row.owner,
            &row.pseudonym,
            &row.serial,
            &row.der,
            &row.state.as_str(),
            &row.state_message,
            &epoch(row.changed_at),
            &epoch(row.not_after),
            &row.scd_type,
            &row.scd_remote_id,
            &row.scd_key_id,
            &row.key_sha256,
        ],
    )
    .await?;
    publish(client, &row.serial, &row.der, row.not_after).await
}

async fn pseudonym_lock(client: &impl GenericClient, pseudonym: &str) -> Result<(), StoreError> {
    lock(client, &format!("esignd pseudonym {pseudonym}")).await
}

#[async_trait::async_trait]
impl DeviceStore for PostgresStore {
    async fn add_device_certificate(
        &self,
        row: &DeviceCertificateRow,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        pseudonym_lock(&tx, &row.pseudonym).await?;
        let taken = query_opt(&tx, "SELECT 1 FROM device_certificates WHERE pseudonym = $1 LIMIT 1", &[&row.pseudonym])
            .await?
            .is_some();
        if taken {
            return Ok(false);
        }
        insert(&tx, row).await?;
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn device_certificate(&self, certificate_id: &str) -> Result<Option<DeviceCertificateRow>, StoreError> {
        let id = certificate_id.to_ascii_lowercase();
        let (client, _timer) = self.client().await?;
        Ok(select(&client, "certificate_id = $1", &[&id]).await?.pop())
    }

    async fn device_certificates(&self, owner: &str) -> Result<Vec<DeviceCertificateRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        select(&client, "owner = $1 ORDER BY position", &[&owner]).await
    }

    async fn device_by_pseudonym(&self, pseudonym: &str) -> Result<Option<DeviceCertificateRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        let revoked = CertificateState::Revoked.as_str();
        let filter = "pseudonym = $1 ORDER BY state != $2, changed_at, position";
        Ok(select(&client, filter, &[&pseudonym, &revoked]).await?.pop())
    }

    async fn withheld_certificates(&self, now: SystemTime) -> Result<Vec<DeviceCertificateRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        let (suspended, revoked) = (CertificateState::Suspended.as_str(), CertificateState::Revoked.as_str());
        select(&client, "state IN ($1, $2) AND not_after >= $3 ORDER BY position", &[&suspended, &revoked, &epoch(now)])
            .await
    }

    async fn change_device_state(
        &self,
        certificate_id: &str,
        change: StateChange<'_>,
        crl: &CrlRow,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        let changed = execute(
            &tx,
            "UPDATE device_certificates SET state = $2, state_message = $3, changed_at = $4
             WHERE certificate_id = $1 AND state = $5",
            &[&certificate_id, &change.to.as_str(), &change.message, &epoch(change.at), &change.from.as_str()],
        )
        .await?;
        if changed != 1 || !install(&tx, crl).await? {
            return Ok(false);
        }
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn install_crl(&self, crl: &CrlRow) -> Result<bool, StoreError> {
        let (client, _timer) = self.client().await?;
        install(&client, crl).await
    }

    async fn crl(&self) -> Result<Option<CrlRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        let row = query_opt(&client, "SELECT number, der, next_update FROM crl WHERE id = 1", &[]).await?;
        row.map(|row| {
            Ok(CrlRow {
                number: row.try_get::<_, i64>(0)?.max(0) as u64,
                der: row.try_get(1)?,
                next_update: from_epoch(row.try_get(2)?),
            })
        })
        .transpose()
    }

    async fn device_certificates_by_key(&self, key_sha256: &str) -> Result<Vec<DeviceCertificateRow>, StoreError> {
        let (client, _timer) = self.client().await?;
        let revoked = CertificateState::Revoked.as_str();
        select(&client, "key_sha256 = $1 AND state != $2 ORDER BY position", &[&key_sha256, &revoked]).await
    }

    async fn bind_device(&self, binding: &Binding, events: &[AuditEvent]) -> Result<bool, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        pseudonym_lock(&tx, &binding.row.pseudonym).await?;
        let others = query_opt(
            &tx,
            "SELECT 1 FROM device_certificates WHERE pseudonym = $1 AND owner != $2 LIMIT 1",
            &[&binding.row.pseudonym, &binding.row.owner],
        )
        .await?
        .is_some();
        if others {
            return Ok(false);
        }
        let revoked = CertificateState::Revoked.as_str();
        for id in &binding.replaces {
            let changed = execute(
                &tx,
                "UPDATE device_certificates SET state = $3, state_message = 'replaced by a new wallet binding',
                 changed_at = $2 WHERE certificate_id = $1 AND state != $3",
                &[id, &epoch(binding.at), &revoked],
            )
            .await?;
            if changed != 1 {
                return Ok(false);
            }
        }
        if let Some(crl) = &binding.crl
            && !install(&tx, crl).await?
        {
            return Ok(false);
        }
        insert(&tx, &binding.row).await?;
        audit::append(&tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut fresh = vec![0u8; 32];
        getrandom::fill(&mut fresh).expect("the operating system's random source failed");
        let (client, _timer) = self.client().await?;
        execute(&client, "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&name, &fresh])
            .await?;
        let row = query_opt(&client, "SELECT value FROM secrets WHERE name = $1", &[&name]).await?;
        row.ok_or_else(|| StoreError::Postgres(format!("the secret {name} vanished after it was stored")))?
            .try_get(0)
            .map_err(StoreError::from)
    }
}
