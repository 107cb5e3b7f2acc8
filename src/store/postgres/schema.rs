//! The PostgreSQL schema and its migrations. Table `esignd_schema` records how many migrations
//! the database has had; start-up applies the missing ones in one transaction, under an
//! advisory lock so that daemons starting together migrate once, and refuses a database from a
//! newer esignd.
//!
//! The tables mirror SQLite's (`store::schema`): times in seconds since the epoch (the outbox in
//! milliseconds), states as the vocabulary's names. Where SQLite orders by `rowid`, these tables
//! have an identity column `position`.

use deadpool_postgres::GenericClient;

use super::{execute, lock, query_opt};
use crate::store::StoreError;

/// Migration `n` takes a database from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE certificates (
        serial     TEXT PRIMARY KEY,
        der        BYTEA NOT NULL,
        not_after  BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE seen_once (
        kind  TEXT NOT NULL,
        id    TEXT NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE INDEX seen_once_until ON seen_once (until);
    CREATE TABLE sessions (
        id             TEXT PRIMARY KEY,
        client_id      TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        status         TEXT NOT NULL,
        oidc_state     TEXT UNIQUE,
        expires_at     BIGINT NOT NULL,
        body           TEXT NOT NULL,
        UNIQUE (client_id, correlation_id)
    );
    CREATE INDEX sessions_expiry ON sessions (status, expires_at);
    CREATE TABLE signatures (
        signature_id TEXT PRIMARY KEY,
        client_id    TEXT NOT NULL,
        response     TEXT NOT NULL,
        expires_at   BIGINT NOT NULL
    );
    CREATE INDEX signatures_expiry ON signatures (expires_at);
    CREATE TABLE device_certificates (
        position       BIGINT GENERATED ALWAYS AS IDENTITY,
        certificate_id TEXT PRIMARY KEY,
        owner          TEXT NOT NULL,
        pseudonym      TEXT NOT NULL,
        serial         TEXT NOT NULL UNIQUE,
        der            BYTEA NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED', 'REVOKED')),
        state_message  TEXT,
        changed_at     BIGINT NOT NULL,
        not_after      BIGINT NOT NULL,
        scd_type       TEXT NOT NULL,
        scd_remote_id  TEXT NOT NULL,
        scd_key_id     BIGINT NOT NULL,
        key_sha256     TEXT NOT NULL
    );
    CREATE INDEX device_certificates_owner ON device_certificates (owner, position);
    CREATE INDEX device_certificates_key ON device_certificates (key_sha256);
    CREATE UNIQUE INDEX device_certificates_live_pseudonym ON device_certificates (pseudonym)
        WHERE state != 'REVOKED';
    CREATE TABLE crl (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        number      BIGINT NOT NULL,
        der         BYTEA NOT NULL,
        next_update BIGINT NOT NULL
    );
    CREATE TABLE device_requests (
        position       BIGINT GENERATED ALWAYS AS IDENTITY,
        request_id     TEXT PRIMARY KEY,
        signature_id   TEXT NOT NULL UNIQUE,
        client_id      TEXT NOT NULL,
        session_id     TEXT,
        certificate_id TEXT NOT NULL,
        status         TEXT NOT NULL,
        expires_at     BIGINT NOT NULL,
        body           TEXT NOT NULL
    );
    CREATE INDEX device_requests_device ON device_requests (certificate_id, status);
    CREATE INDEX device_requests_expiry ON device_requests (status, expires_at);
    CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    CREATE TABLE audit (
        seq    BIGINT PRIMARY KEY,
        time   TEXT NOT NULL,
        type   TEXT NOT NULL,
        fields TEXT NOT NULL,
        prev   TEXT NOT NULL,
        hash   TEXT NOT NULL
    );
    CREATE INDEX audit_by_type ON audit (type, seq);
    CREATE TABLE audit_checkpoints (
        seq             BIGINT PRIMARY KEY,
        head            TEXT NOT NULL,
        time            TEXT NOT NULL,
        signature       TEXT NOT NULL,
        timestamp_token TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id            TEXT PRIMARY KEY,
        session_id    TEXT NOT NULL,
        url           TEXT NOT NULL,
        body          TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_at       BIGINT NOT NULL,
        claimed_until BIGINT NOT NULL DEFAULT 0,
        created_at    BIGINT NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_at);
"];

/// Bring the database to the newest schema.
///
/// # Errors
/// [`StoreError::SchemaTooNew`]; database errors (the transaction is rolled back).
pub(super) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    lock(&tx, "esignd schema").await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS esignd_schema (version INTEGER NOT NULL)").await?;
    let version: i64 = match query_opt(&tx, "SELECT version FROM esignd_schema", &[]).await? {
        Some(row) => i64::from(row.try_get::<_, i32>(0)?),
        None => {
            execute(&tx, "INSERT INTO esignd_schema (version) VALUES (0)", &[]).await?;
            0
        }
    };
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::SchemaTooNew { found: version, supported });
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).await?;
        let next = (n + 1) as i32;
        execute(&tx, "UPDATE esignd_schema SET version = $1", &[&next]).await?;
    }
    tx.commit().await?;
    Ok(())
}
