//! How the vocabulary's states are written in SQL columns: by their names (`pending`,
//! `ACTIVE`), the spellings the schema's CHECK constraints, indexes and queries use. A name the
//! vocabulary does not know is a damaged (or newer) store, and reading it fails.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::vocabulary::{CertificateState, RequestState, SessionState};

macro_rules! text_column {
    ($($state:ty),+) => {$(
        impl ToSql for $state {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $state {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    )+};
}

text_column!(SessionState, RequestState, CertificateState);
