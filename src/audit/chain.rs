//! The audit chain's format (`docs/audit.md`). A record is `{seq, time, type, fields, prev}`:
//! a sequence number from 1 without gaps, the time (RFC 3339, UTC, milliseconds), the event
//! type, its fields (strings, integers, booleans, nested objects and arrays of those; never a
//! float), and `prev`, the previous record's hash in hex (64 zeros before the first). Its hash
//! is SHA-256 of its canonical JSON (RFC 8785: keys sorted, no whitespace, minimal string
//! escapes — for this value space, what `json.dumps(sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)` writes too). So editing, deleting, inserting or reordering a record
//! breaks the chain at that record, and [`verify`] names it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hsm::HashAlgorithm;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record as stored and exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3… without gaps.
    pub seq: u64,
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The event type (`session.created`, `signature.produced`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's fields.
    pub fields: Map<String, Value>,
    /// The previous record's hash, hex.
    pub prev: String,
    /// This record's hash, hex: SHA-256 of the canonical JSON of the members above.
    pub hash: String,
}

/// Why a value cannot be in a record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// Floats have no single canonical form across languages; audit fields never carry one.
    #[error("audit fields hold no floating-point numbers ({0})")]
    Float(String),
}

/// The record after `previous` (`None`: the first) with these contents, its hash computed.
///
/// # Errors
/// [`FormatError::Float`].
pub fn next(
    previous: Option<&Record>,
    time: String,
    kind: &str,
    fields: Map<String, Value>,
) -> Result<Record, FormatError> {
    check(&Value::Object(fields.clone()))?;
    let (seq, prev) = previous.map_or((1, GENESIS.to_owned()), |p| (p.seq + 1, p.hash.clone()));
    let mut record = Record { seq, time, kind: kind.to_owned(), fields, prev, hash: String::new() };
    record.hash = hash_of(&record);
    Ok(record)
}

/// The canonical JSON (RFC 8785) of a record's hashed members.
pub fn canonical(record: &Record) -> Vec<u8> {
    // serde_json's Map is ordered by key (its `preserve_order` feature is off): sorted output.
    let hashed = serde_json::json!({
        "seq": record.seq, "time": record.time, "type": record.kind, "fields": record.fields, "prev": record.prev,
    });
    serde_json::to_vec(&hashed).expect("JSON values serialise")
}

/// A record's hash, hex.
pub fn hash_of(record: &Record) -> String {
    hex::encode(HashAlgorithm::Sha256.digest(&canonical(record)))
}

fn check(value: &Value) -> Result<(), FormatError> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => Err(FormatError::Float(n.to_string())),
        Value::Array(items) => items.iter().try_for_each(check),
        Value::Object(members) => members.values().try_for_each(check),
        _ => Ok(()),
    }
}

/// What is wrong with a chain, at the first record where it shows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Broken {
    /// A record's contents do not give its hash: it was edited.
    #[error("record {seq} was changed: its contents do not give its hash")]
    Edited {
        /// The record.
        seq: u64,
    },
    /// A sequence number is missing or out of place: a record was deleted, inserted or moved.
    #[error("record {found} stands where record {expected} belongs: records were deleted, inserted or reordered")]
    Sequence {
        /// The number expected here.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// A record does not name the previous record's hash.
    #[error("record {seq} does not follow the record before it (prev {prev} is not its hash)")]
    Unlinked {
        /// The record.
        seq: u64,
        /// Its `prev`.
        prev: String,
    },
}

/// What a verified chain comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// How many records.
    pub records: u64,
    /// The last record's hash (the head), [`GENESIS`] for none.
    pub head: String,
}

/// Walk `records` (in stored order) from `start` — the record before them (`None`: they begin
/// the chain) — checking numbering, links and hashes.
///
/// # Errors
/// The first [`Broken`] link.
pub fn verify<'a>(start: Option<&Record>, records: impl IntoIterator<Item = &'a Record>) -> Result<Verified, Broken> {
    let (mut expected, mut head) = start.map_or((1, GENESIS.to_owned()), |r| (r.seq + 1, r.hash.clone()));
    let mut count = 0;
    for record in records {
        if record.seq != expected {
            return Err(Broken::Sequence { expected, found: record.seq });
        }
        if record.prev != head {
            return Err(Broken::Unlinked { seq: record.seq, prev: record.prev.clone() });
        }
        if hash_of(record) != record.hash {
            return Err(Broken::Edited { seq: record.seq });
        }
        head = record.hash.clone();
        expected += 1;
        count += 1;
    }
    Ok(Verified { records: count, head })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(n: u64) -> Vec<Record> {
        let mut records: Vec<Record> = Vec::new();
        for i in 1..=n {
            let fields = json!({ "correlationId": format!("c-{i}"), "digest": "ab".repeat(32), "n": i, "ok": true });
            let time = format!("2026-12-01T18:00:{:02}.000Z", i % 60);
            records.push(next(records.last(), time, "session.created", fields.as_object().unwrap().clone()).unwrap());
        }
        records
    }

    #[test]
    fn an_untouched_chain_verifies_and_every_tampering_is_named() {
        let records = chain(5);
        let verified = verify(None, &records).unwrap();
        assert_eq!((verified.records, verified.head.as_str()), (5, records[4].hash.as_str()));
        // From a cut: the rest verifies from the record before it.
        assert_eq!(verify(Some(&records[1]), &records[2..]).unwrap().records, 3);

        let mut edited = records.clone();
        edited[2].fields.insert("correlationId".into(), json!("forged"));
        assert_eq!(verify(None, &edited), Err(Broken::Edited { seq: 3 }));

        let mut deleted = records.clone();
        deleted.remove(1);
        assert_eq!(verify(None, &deleted), Err(Broken::Sequence { expected: 2, found: 3 }));

        let mut swapped = records.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(None, &swapped), Err(Broken::Sequence { expected: 2, found: 3 }));

        // A forged record with a correct hash of its own, renumbering what follows: the link breaks.
        let mut inserted = records.clone();
        let forged = next(Some(&records[0]), "2026-12-01T18:00:01.500Z".into(), "session.created", Map::new()).unwrap();
        inserted.insert(1, forged);
        for (i, record) in inserted.iter_mut().enumerate().skip(2) {
            record.seq = i as u64 + 1;
            record.hash = hash_of(record);
        }
        assert_eq!(verify(None, &inserted), Err(Broken::Unlinked { seq: 3, prev: records[0].hash.clone() }));
    }

    #[test]
    fn canonical_json_is_sorted_compact_and_refuses_floats() {
        let fields = json!({ "b": "é\n", "a": [1, {"z": true, "y": null}] });
        let record = next(None, "2026-12-01T18:00:00.000Z".into(), "t", fields.as_object().unwrap().clone()).unwrap();
        assert_eq!(
            String::from_utf8(canonical(&record)).unwrap(),
            r#"{"fields":{"a":[1,{"y":null,"z":true}],"b":"é\n"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"time":"2026-12-01T18:00:00.000Z","type":"t"}"#
        );
        let float = json!({ "x": 1.5 });
        assert!(matches!(
            next(None, String::new(), "t", float.as_object().unwrap().clone()),
            Err(FormatError::Float(_))
        ));
    }
}
