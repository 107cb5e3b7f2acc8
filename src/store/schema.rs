//! The SQLite schema and its migrations. `PRAGMA user_version` records how many migrations a
//! file has had; start-up applies the missing ones in one transaction, in order, and refuses a
//! file from a newer esignd.

use rusqlite::Connection;

use super::StoreError;

/// Migration `n` takes a file from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE certificates (
        serial     TEXT PRIMARY KEY,
        der        BLOB NOT NULL,
        not_after  INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE seen_once (
        kind  TEXT NOT NULL,
        id    TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX seen_once_until ON seen_once (until);
",
    "
    CREATE TABLE sessions (
        id             TEXT PRIMARY KEY,
        client_id      TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        status         TEXT NOT NULL,
        oidc_state     TEXT UNIQUE,
        expires_at     INTEGER NOT NULL,
        body           TEXT NOT NULL,
        UNIQUE (client_id, correlation_id)
    );
    CREATE INDEX sessions_expiry ON sessions (status, expires_at);
    CREATE TABLE signatures (
        signature_id TEXT PRIMARY KEY,
        client_id    TEXT NOT NULL,
        response     TEXT NOT NULL,
        expires_at   INTEGER NOT NULL
    );
    CREATE INDEX signatures_expiry ON signatures (expires_at);
",
    "
    CREATE TABLE device_certificates (
        certificate_id TEXT PRIMARY KEY,
        owner          TEXT NOT NULL,
        pseudonym      TEXT NOT NULL UNIQUE,
        serial         TEXT NOT NULL UNIQUE,
        der            BLOB NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED', 'REVOKED')),
        state_message  TEXT,
        changed_at     INTEGER NOT NULL,
        not_after      INTEGER NOT NULL,
        scd_type       TEXT NOT NULL,
        scd_remote_id  TEXT NOT NULL,
        scd_key_id     INTEGER NOT NULL
    );
    CREATE INDEX device_certificates_owner ON device_certificates (owner);
    CREATE TABLE crl (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        number      INTEGER NOT NULL,
        der         BLOB NOT NULL,
        next_update INTEGER NOT NULL
    );
",
];

/// Bring `conn` to the newest schema.
///
/// # Errors
/// [`StoreError::SchemaTooNew`]; database errors (the transaction is rolled back).
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::SchemaTooNew { found: version, supported });
    }
    let tx = conn.transaction()?;
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (n + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}
