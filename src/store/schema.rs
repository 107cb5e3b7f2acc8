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
    // Wallet binding: a pseudonym (walletUserId) may name an owner's revoked certificates and
    // one live one; keys are found by digest (`duplicate_public_key`). Device signing requests.
    // Secrets such as the walletUserId salt.
    "
    CREATE TABLE device_certificates_v4 (
        certificate_id TEXT PRIMARY KEY,
        owner          TEXT NOT NULL,
        pseudonym      TEXT NOT NULL,
        serial         TEXT NOT NULL UNIQUE,
        der            BLOB NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED', 'REVOKED')),
        state_message  TEXT,
        changed_at     INTEGER NOT NULL,
        not_after      INTEGER NOT NULL,
        scd_type       TEXT NOT NULL,
        scd_remote_id  TEXT NOT NULL,
        scd_key_id     INTEGER NOT NULL,
        key_sha256     TEXT
    );
    INSERT INTO device_certificates_v4 SELECT *, NULL FROM device_certificates;
    DROP TABLE device_certificates;
    ALTER TABLE device_certificates_v4 RENAME TO device_certificates;
    CREATE INDEX device_certificates_owner ON device_certificates (owner);
    CREATE INDEX device_certificates_key ON device_certificates (key_sha256);
    CREATE UNIQUE INDEX device_certificates_live_pseudonym ON device_certificates (pseudonym)
        WHERE state != 'REVOKED';
    CREATE TABLE device_requests (
        request_id     TEXT PRIMARY KEY,
        signature_id   TEXT NOT NULL UNIQUE,
        client_id      TEXT NOT NULL,
        session_id     TEXT,
        certificate_id TEXT NOT NULL,
        status         TEXT NOT NULL,
        expires_at     INTEGER NOT NULL,
        body           TEXT NOT NULL
    );
    CREATE INDEX device_requests_device ON device_requests (certificate_id, status);
    CREATE INDEX device_requests_expiry ON device_requests (status, expires_at);
    CREATE TABLE secrets (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
",
    // The audit chain (docs/audit.md): appended in the transaction of the change it records.
    "
    CREATE TABLE audit (
        seq    INTEGER PRIMARY KEY,
        time   TEXT NOT NULL,
        type   TEXT NOT NULL,
        fields TEXT NOT NULL,
        prev   TEXT NOT NULL,
        hash   TEXT NOT NULL
    );
",
    // Signed, time-stamped heads of the audit chain; kept when records are pruned.
    "
    CREATE TABLE audit_checkpoints (
        seq             INTEGER PRIMARY KEY,
        head            TEXT NOT NULL,
        time            TEXT NOT NULL,
        signature       TEXT NOT NULL,
        timestamp_token TEXT NOT NULL
    );
    CREATE INDEX audit_by_type ON audit (type, seq);
",
    // Deliveries that must leave the process (webhooks), queued in the transaction of the
    // outcome they report; times in milliseconds since the epoch.
    "
    CREATE TABLE outbox (
        id            TEXT PRIMARY KEY,
        session_id    TEXT NOT NULL,
        url           TEXT NOT NULL,
        body          TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_at       INTEGER NOT NULL,
        claimed_until INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_at);
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
    // Migration 4 added the key digest column, which SQL cannot fill.
    if version < KEY_DIGESTS_SINCE {
        backfill_key_digests(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version from which every device certificate row carries its key digest.
const KEY_DIGESTS_SINCE: i64 = 4;

/// Device certificates stored before migration 4 get the SHA-256 of their public key, which
/// SQL cannot compute.
fn backfill_key_digests(conn: &Connection) -> Result<(), StoreError> {
    let mut statement = conn.prepare("SELECT certificate_id, der FROM device_certificates WHERE key_sha256 IS NULL")?;
    let missing: Vec<(String, Vec<u8>)> =
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
    for (id, der) in missing {
        let Some(digest) = super::devices::key_digest_of_certificate(&der) else { continue };
        conn.execute("UPDATE device_certificates SET key_sha256 = ?2 WHERE certificate_id = ?1", [id, digest])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl(args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("openssl").args(args).output().expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    #[test]
    fn a_version_3_store_is_migrated_and_its_device_keys_get_their_digests() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, spki) = (dir.path().join("cert.der"), dir.path().join("spki.der"));
        let key = dir.path().join("key.pem");
        let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=device",
            "-keyout",
            &path(&key),
            "-outform",
            "DER",
            "-out",
            &path(&cert),
        ]);
        openssl(&["pkey", "-in", &path(&key), "-pubout", "-outform", "DER", "-out", &path(&spki)]);
        let expected = hex::encode(crate::hsm::HashAlgorithm::Sha256.digest(&std::fs::read(&spki).unwrap()));

        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO device_certificates VALUES ('id-1', 'jane', 'jane-phone', '01', ?1, 'ACTIVE', NULL, 0, 9999999999, 'REMOTE_SCD_SIM', 'r', 0)",
            [std::fs::read(&cert).unwrap()],
        )
        .unwrap();

        migrate(&mut conn).unwrap();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let (pseudonym, digest): (String, String) = conn
            .query_row(
                "SELECT pseudonym, key_sha256 FROM device_certificates WHERE certificate_id = 'id-1'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((pseudonym.as_str(), digest), ("jane-phone", expected));
        // One live certificate per pseudonym.
        let second = conn.execute(
            "INSERT INTO device_certificates VALUES ('id-2', 'jane', 'jane-phone', '02', x'00', 'ACTIVE', NULL, 0, 0, 't', 'r', 0, NULL)",
            [],
        );
        assert!(second.is_err());
        conn.execute("UPDATE device_certificates SET state = 'REVOKED' WHERE certificate_id = 'id-1'", []).unwrap();
        conn.execute(
            "INSERT INTO device_certificates VALUES ('id-2', 'jane', 'jane-phone', '02', x'00', 'ACTIVE', NULL, 0, 0, 't', 'r', 0, NULL)",
            [],
        )
        .unwrap();
    }
}
