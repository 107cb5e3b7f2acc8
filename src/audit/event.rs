//! [`AuditEvent`]: what one audit record says before the store numbers and links it. Events are
//! built where the fact is known (the service) and appended by the store in the transaction of
//! the change they record. Fields never hold personal data in clear: a citizen is their subject
//! hash, a text its SHA-256, a signature value its SHA-256.

use serde_json::{Map, Value};

/// An audit record's type and fields.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// The event type, e.g. `session.created`.
    pub kind: &'static str,
    /// Its fields.
    pub fields: Map<String, Value>,
}

impl AuditEvent {
    /// An event of `kind` with the members of `fields` (a JSON object; anything else gives no
    /// fields).
    pub fn new(kind: &'static str, fields: Value) -> Self {
        let fields = match fields {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        Self { kind, fields }
    }

    /// The same event with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }
}
