//! The audit trail in the store (`docs/audit.md`): records are appended in the same transaction
//! as the change they record, after the head read in that transaction, so a change never lands
//! without its record nor a record without its change. Appends are serialised by the
//! transaction (SQLite has one writer at a time; `BEGIN IMMEDIATE` takes the write lock before
//! the head is read). The sweeper never deletes records; [`AuditStore::prune_audit`] removes
//! only what a signed checkpoint covers.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::StoreError;
use super::sqlite::{execute_cached, query_row_cached};
pub use crate::audit::AuditEvent;
use crate::audit::chain::{self, Record};
use crate::audit::checkpoint::{CHECKPOINT_EVENT, Checkpoint};

/// Which records to read: those after sequence number `after`, at most `limit`, filtered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records with a higher sequence number (the cursor).
    pub after: u64,
    /// At most this many.
    pub limit: usize,
    /// Only records at or after this time (RFC 3339 UTC, as records carry it).
    pub from: Option<String>,
    /// Only records at or before this time.
    pub to: Option<String>,
    /// Only records of this type.
    pub kind: Option<String>,
    /// Only records with this `correlationId` field.
    pub correlation_id: Option<String>,
    /// Only records with this `serial` field.
    pub serial: Option<String>,
    /// Only records with this `subject` field (a subject hash).
    pub subject: Option<String>,
}

/// The audit trail's storage.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Append `events` in one transaction (facts that change nothing else: refusals, daemon
    /// start and stop, webhook outcomes).
    async fn record(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// Records matching `query`, in sequence order.
    async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<Record>, StoreError>;

    /// The newest record.
    async fn audit_head(&self) -> Result<Option<Record>, StoreError>;

    /// Store `checkpoint` and note it in the chain (`audit.checkpoint`) in one transaction;
    /// `false` when a checkpoint of that record exists already (another daemon made it).
    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError>;

    /// The newest checkpoint.
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;

    /// Checkpoints covering records after `after`, oldest first, at most `limit`.
    async fn checkpoints(&self, after: u64, limit: usize) -> Result<Vec<Checkpoint>, StoreError>;

    /// Delete the records covered by the newest checkpoint made before `before`; how many went.
    async fn prune_audit(&self, before: SystemTime) -> Result<usize, StoreError>;
}

/// Append `events`, in order, after the chain's head, within the caller's transaction.
///
/// # Errors
/// Database errors; fields that cannot be canonical (a float).
pub(super) fn append(conn: &Connection, events: &[AuditEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut head = head(conn)?;
    let time = crate::vocabulary::rfc3339(SystemTime::now());
    let mut insert =
        conn.prepare_cached("INSERT INTO audit (seq, time, type, fields, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    for event in events {
        let record = chain::next(head.as_ref(), time.clone(), event.kind, event.fields.clone())
            .map_err(|e| StoreError::Audit(e.to_string()))?;
        insert.execute(params![
            record.seq as i64,
            record.time,
            record.kind,
            Value::Object(record.fields.clone()).to_string(),
            record.prev,
            record.hash
        ])?;
        head = Some(record);
    }
    Ok(())
}

/// The newest record.
pub(super) fn head(conn: &Connection) -> Result<Option<Record>, StoreError> {
    Ok(query_row_cached(
        conn,
        "SELECT seq, time, type, fields, prev, hash FROM audit ORDER BY seq DESC LIMIT 1",
        [],
        record_row,
    )
    .optional()?)
}

/// Every record, in stored order (for `esignctl audit verify`, which must see reorderings).
///
/// # Errors
/// Database errors.
pub fn records(conn: &Connection) -> Result<Vec<Record>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT seq, time, type, fields, prev, hash FROM audit ORDER BY rowid")?;
    let rows = statement.query_map([], record_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Records matching `query`.
pub(super) fn query(conn: &Connection, query: &AuditQuery) -> Result<Vec<Record>, StoreError> {
    let mut sql = "SELECT seq, time, type, fields, prev, hash FROM audit WHERE seq > ?".to_owned();
    let mut args: Vec<rusqlite::types::Value> = vec![(query.after.min(i64::MAX as u64) as i64).into()];
    let mut filter = |clause: &str, value: &Option<String>| {
        if let Some(value) = value {
            sql.push_str(clause);
            args.push(value.clone().into());
        }
    };
    filter(" AND time >= ?", &query.from);
    filter(" AND time <= ?", &query.to);
    filter(" AND type = ?", &query.kind);
    filter(" AND json_extract(fields, '$.correlationId') = ?", &query.correlation_id);
    filter(" AND json_extract(fields, '$.serial') = ?", &query.serial);
    filter(" AND json_extract(fields, '$.subject') = ?", &query.subject);
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push((query.limit.min(i64::MAX as usize) as i64).into());
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(args), record_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Store a checkpoint and note it in the chain, within the caller's transaction.
pub(super) fn add_checkpoint(conn: &Connection, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
    let inserted = execute_cached(
        conn,
        "INSERT OR IGNORE INTO audit_checkpoints (seq, head, time, signature, timestamp_token) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            checkpoint.seq as i64,
            checkpoint.head,
            checkpoint.time,
            checkpoint.signature,
            checkpoint.timestamp_token
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    append(conn, &[checkpoint_noted(checkpoint)])?;
    Ok(true)
}

/// Checkpoints after `after`.
///
/// # Errors
/// Database errors.
pub fn checkpoints(conn: &Connection, after: u64, limit: usize) -> Result<Vec<Checkpoint>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, head, time, signature, timestamp_token FROM audit_checkpoints WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = statement
        .query_map(params![after.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64], checkpoint_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The newest checkpoint.
pub(super) fn latest_checkpoint(conn: &Connection) -> Result<Option<Checkpoint>, StoreError> {
    Ok(query_row_cached(
        conn,
        "SELECT seq, head, time, signature, timestamp_token FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
        [],
        checkpoint_row,
    )
    .optional()?)
}

fn checkpoint_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        seq: row.get::<_, i64>(0)?.max(0) as u64,
        head: row.get(1)?,
        time: row.get(2)?,
        signature: row.get(3)?,
        timestamp_token: row.get(4)?,
    })
}

/// Append `events` in a write transaction of their own.
pub(super) fn append_alone(conn: &mut Connection, events: &[AuditEvent]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    append(&tx, events)?;
    tx.commit()?;
    Ok(())
}

/// Delete what the newest checkpoint older than `before` covers.
pub(super) fn prune(conn: &Connection, before: SystemTime) -> Result<usize, StoreError> {
    let cutoff = crate::vocabulary::rfc3339(before);
    let covered: Option<i64> =
        query_row_cached(conn, "SELECT MAX(seq) FROM audit_checkpoints WHERE time < ?1", [cutoff], |row| row.get(0))
            .optional()?
            .flatten();
    match covered {
        Some(seq) => Ok(execute_cached(conn, "DELETE FROM audit WHERE seq <= ?1", [seq])?),
        None => Ok(0),
    }
}

fn record_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(record_from_columns(row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

/// A record from its stored columns, in the order `seq, time, type, fields, prev, hash` (the
/// fields as JSON text), for every engine.
pub(super) fn record_from_columns(
    seq: i64,
    time: String,
    kind: String,
    fields: String,
    prev: String,
    hash: String,
) -> Record {
    let fields = match serde_json::from_str::<Value>(&fields) {
        Ok(Value::Object(fields)) => fields,
        // Unreadable fields cannot give the stored hash: verification names the record.
        _ => Map::from_iter([("unreadable".to_owned(), Value::String(fields))]),
    };
    Record { seq: seq.max(0) as u64, time, kind, fields, prev, hash }
}

/// The audit event that notes `checkpoint` in the chain.
pub(super) fn checkpoint_noted(checkpoint: &Checkpoint) -> AuditEvent {
    AuditEvent::new(
        CHECKPOINT_EVENT,
        serde_json::json!({ "covers": checkpoint.seq, "head": checkpoint.head, "signatureSha256": checkpoint.signature_sha256() }),
    )
}
