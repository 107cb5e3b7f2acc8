//! The audit chain in the store (`docs/audit.md`): a record is appended in the same transaction
//! as the change it records, after the head read in that transaction, so a change never lands
//! without its record nor a record without its change. Appends are serialised by the
//! transaction (SQLite has one writer at a time).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::StoreError;
use crate::audit::chain::{self, Record};

/// What an audit record says: its type and fields (never personal data in clear).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// The event type, e.g. `session.created`.
    pub kind: &'static str,
    /// Its fields.
    pub fields: Map<String, Value>,
}

/// Append `event` after the chain's head, within the caller's transaction.
///
/// # Errors
/// Database errors; fields that cannot be canonical (a float).
pub(super) fn append(conn: &Connection, event: &AuditEvent) -> Result<Record, StoreError> {
    let head = conn
        .query_row("SELECT seq, time, type, fields, prev, hash FROM audit ORDER BY seq DESC LIMIT 1", [], record_row)
        .optional()?;
    let time = crate::vocabulary::rfc3339(std::time::SystemTime::now());
    let record = chain::next(head.as_ref(), time, event.kind, event.fields.clone())
        .map_err(|e| StoreError::Audit(e.to_string()))?;
    conn.execute(
        "INSERT INTO audit (seq, time, type, fields, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            record.seq as i64,
            record.time,
            record.kind,
            Value::Object(record.fields.clone()).to_string(),
            record.prev,
            record.hash
        ],
    )?;
    Ok(record)
}

/// Every record, in sequence order.
///
/// # Errors
/// Database errors; a stored record whose fields are not JSON.
pub fn records(conn: &Connection) -> Result<Vec<Record>, StoreError> {
    let mut statement = conn.prepare("SELECT seq, time, type, fields, prev, hash FROM audit ORDER BY rowid")?;
    let rows = statement.query_map([], record_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn record_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let fields: String = row.get(3)?;
    let fields = match serde_json::from_str::<Value>(&fields) {
        Ok(Value::Object(fields)) => fields,
        // Unreadable fields cannot give the stored hash: verification names the record.
        _ => Map::from_iter([("unreadable".to_owned(), Value::String(fields))]),
    };
    Ok(Record {
        seq: row.get::<_, i64>(0)?.max(0) as u64,
        time: row.get(1)?,
        kind: row.get(2)?,
        fields,
        prev: row.get(4)?,
        hash: row.get(5)?,
    })
}
