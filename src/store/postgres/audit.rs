//! The audit trail on PostgreSQL ([`AuditStore`]): the same chain as SQLite's (`docs/audit.md`),
//! appended in the transaction of the change it records.
//!
//! SQLite has one writer at a time; PostgreSQL has many, from several daemons. Every append
//! first takes one transaction-scoped advisory lock, `esignd audit chain`, and only then reads
//! the head: the next record's `prev` is the head's hash, so appends must follow one another,
//! which a sequence alone (numbers without order of commit) cannot give. The lock is held to the
//! commit, so a transaction that rolls back leaves no gap. It is taken last in each write (after
//! the rows it changes), which keeps it held only for the few inserts and the commit.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::{PostgresStore, execute, lock, query, query_opt, values};
use crate::audit::chain::{self, Record};
use crate::audit::checkpoint::Checkpoint;
use crate::store::StoreError;
use crate::store::audit::{AuditEvent, AuditQuery, AuditStore, checkpoint_noted, record_from_columns};

/// The advisory lock every append holds.
const CHAIN_LOCK: &str = "esignd audit chain";

const RECORD_COLUMNS: &str = "seq, time, type, fields, prev, hash";
const CHECKPOINT_COLUMNS: &str = "seq, head, time, signature, timestamp_token";

fn record_row(row: &tokio_postgres::Row) -> Result<Record, StoreError> {
    Ok(record_from_columns(
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
    ))
}

fn checkpoint_row(row: &tokio_postgres::Row) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        seq: row.try_get::<_, i64>(0)?.max(0) as u64,
        head: row.try_get(1)?,
        time: row.try_get(2)?,
        signature: row.try_get(3)?,
        timestamp_token: row.try_get(4)?,
    })
}

/// Append `events`, in order, after the chain's head, within the caller's transaction.
pub(super) async fn append(client: &impl GenericClient, events: &[AuditEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    // Sent together (one round trip while the lock is held): both prepared first, so that the
    // lock's execution is sent before the read's; PostgreSQL runs them in order, and at READ
    // COMMITTED the head read takes its snapshot only once the lock is held.
    let lock_statement = client.prepare_cached(super::LOCK_SQL).await?;
    let head_statement =
        client.prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1")).await?;
    let (locked, head) =
        tokio::join!(client.execute(&lock_statement, &[&CHAIN_LOCK]), client.query_opt(&head_statement, &[]));
    locked?;
    let mut head = head?.as_ref().map(record_row).transpose()?;
    let time = crate::vocabulary::rfc3339(SystemTime::now());
    let mut columns: Vec<(i64, String, &str, String, String, String)> = Vec::with_capacity(events.len());
    for event in events {
        let record = chain::next(head.as_ref(), time.clone(), event.kind, event.fields.clone())
            .map_err(|e| StoreError::Audit(e.to_string()))?;
        columns.push((
            record.seq as i64,
            record.time.clone(),
            event.kind,
            Value::Object(record.fields.clone()).to_string(),
            record.prev.clone(),
            record.hash.clone(),
        ));
        head = Some(record);
    }
    // One INSERT for the transaction's records.
    let sql = format!("INSERT INTO audit (seq, time, type, fields, prev, hash) VALUES {}", values(columns.len(), 6));
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = columns
        .iter()
        .flat_map(|(seq, time, kind, fields, prev, hash)| {
            [
                seq as &(dyn tokio_postgres::types::ToSql + Sync),
                time as &(dyn tokio_postgres::types::ToSql + Sync),
                kind as &(dyn tokio_postgres::types::ToSql + Sync),
                fields as &(dyn tokio_postgres::types::ToSql + Sync),
                prev as &(dyn tokio_postgres::types::ToSql + Sync),
                hash as &(dyn tokio_postgres::types::ToSql + Sync),
            ]
        })
        .collect();
    execute(client, &sql, &params).await?;
    Ok(())
}

async fn head(client: &impl GenericClient) -> Result<Option<Record>, StoreError> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1");
    query_opt(client, &sql, &[]).await?.as_ref().map(record_row).transpose()
}

/// The SQL and its arguments for `query` (JSON fields compared as text).
fn filtered(query: &AuditQuery) -> (String, Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>) {
    let mut sql = format!("SELECT {RECORD_COLUMNS} FROM audit WHERE seq > $1");
    let mut args: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> =
        vec![Box::new(query.after.min(i64::MAX as u64) as i64)];
    let filters = [
        ("time >=", &query.from),
        ("time <=", &query.to),
        ("type =", &query.kind),
        ("(fields::jsonb ->> 'correlationId') =", &query.correlation_id),
        ("(fields::jsonb ->> 'serial') =", &query.serial),
        ("(fields::jsonb ->> 'subject') =", &query.subject),
    ];
    for (clause, value) in filters {
        if let Some(value) = value {
            args.push(Box::new(value.clone()));
            sql.push_str(&format!(" AND {clause} ${}", args.len()));
        }
    }
    args.push(Box::new(query.limit.min(i64::MAX as usize) as i64));
    sql.push_str(&format!(" ORDER BY seq LIMIT ${}", args.len()));
    (sql, args)
}

#[async_trait::async_trait]
impl AuditStore for PostgresStore {
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        append(&tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_records(&self, audit_query: &AuditQuery) -> Result<Vec<Record>, StoreError> {
        let (sql, args) = filtered(audit_query);
        let args: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            args.iter().map(|a| a.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
        let (client, _timer) = self.client().await?;
        query(&client, &sql, &args).await?.iter().map(record_row).collect()
    }

    async fn audit_head(&self) -> Result<Option<Record>, StoreError> {
        let (client, _timer) = self.client().await?;
        head(&client).await
    }

    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = execute(
            &tx,
            &format!("INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"),
            &[
                &(checkpoint.seq as i64),
                &checkpoint.head,
                &checkpoint.time,
                &checkpoint.signature,
                &checkpoint.timestamp_token,
            ],
        )
        .await?;
        if inserted == 0 {
            return Ok(false);
        }
        append(&tx, &[checkpoint_noted(checkpoint)]).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let (client, _timer) = self.client().await?;
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq DESC LIMIT 1");
        query_opt(&client, &sql, &[]).await?.as_ref().map(checkpoint_row).transpose()
    }

    async fn checkpoints(&self, after: u64, limit: usize) -> Result<Vec<Checkpoint>, StoreError> {
        let (client, _timer) = self.client().await?;
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2");
        let (after, limit) = (after.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64);
        query(&client, &sql, &[&after, &limit]).await?.iter().map(checkpoint_row).collect()
    }

    async fn prune_audit(&self, before: SystemTime) -> Result<usize, StoreError> {
        let cutoff = crate::vocabulary::rfc3339(before);
        let (mut client, _timer) = self.client().await?;
        let tx = client.transaction().await?;
        lock(&tx, CHAIN_LOCK).await?;
        let covered: Option<i64> = query_opt(&tx, "SELECT MAX(seq) FROM audit_checkpoints WHERE time < $1", &[&cutoff])
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .flatten();
        let pruned = match covered {
            Some(seq) => execute(&tx, "DELETE FROM audit WHERE seq <= $1", &[&seq]).await?,
            None => 0,
        };
        tx.commit().await?;
        Ok(pruned as usize)
    }
}
