//! The audit chain as the daemon writes it (issue 12, first events): every session created
//! through `POST /v1/sessions` leaves its `session.created` record, in the transaction that
//! creates the session; `esignctl audit verify` accepts the untouched chain and names the
//! record when the SQLite file is tampered with by Debian's `sqlite3` (a field changed, a
//! record deleted, two swapped, one forged); the audit table holds no displayed text.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::daemon::Daemon;
use common::eservices::{clients_toml, new_session};
use common::{TokenDir, http_with, text};

fn sqlite(db: &Path, sql: &str) -> Output {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("sqlite3 is installed (tests/run.sh)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
    out
}

/// `esignctl audit verify` on the store at `db`.
fn verify(token: &TokenDir, db: &Path) -> Output {
    token
        .command(env!("CARGO_BIN_EXE_esignctl"))
        .arg("--config")
        .arg(token.config())
        .env("ESIGND__STORE__PATH", db)
        .args(["audit", "verify"])
        .output()
        .unwrap()
}

#[test]
fn sessions_leave_a_chain_that_verifies_and_tampering_is_named() {
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap() + &clients_toml("http://127.0.0.1:9/webhook");
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    for n in 1..=4 {
        let body = new_session(&format!("audit-{n}"), serde_json::json!({})).to_string();
        let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
        let (status, answer) = http_with(addr, "POST", "/v1/sessions", &headers, body.as_bytes());
        assert_eq!(status, 201, "{}", text(&answer));
    }
    // A refused session (its correlation id taken) leaves no record.
    let again = new_session("audit-1", serde_json::json!({})).to_string();
    let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
    assert_eq!(http_with(addr, "POST", "/v1/sessions", &headers, again.as_bytes()).0, 409);
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));

    let db = token.path("esignd.db");
    let untouched = verify(&token, &db);
    assert!(untouched.status.success(), "{}", text(&untouched.stderr));
    assert!(text(&untouched.stdout).starts_with("audit OK: 4 records, head "), "{}", text(&untouched.stdout));
    let types = text(&sqlite(&db, "SELECT type FROM audit ORDER BY seq").stdout);
    assert_eq!(types.lines().collect::<Vec<_>>(), ["session.created"; 4]);
    // The text the citizen is shown stays out of the audit table (only its SHA-256 is there).
    let dump = text(&sqlite(&db, ".dump audit").stdout);
    assert!(dump.contains("audit-3") && !dump.contains("Building permit"), "{dump}");

    let tampered = |name: &str, sql: &str, named: &str| {
        let copy = token.path(name);
        std::fs::copy(&db, &copy).unwrap();
        sqlite(&copy, sql);
        let out = verify(&token, &copy);
        assert!(!out.status.success(), "{name}: tampering went unnoticed");
        assert!(text(&out.stderr).contains(named), "{name}: {}", text(&out.stderr));
    };
    tampered(
        "edited.db",
        "UPDATE audit SET fields = replace(fields, 'audit-2', 'forged') WHERE seq = 2",
        "record 2 was changed",
    );
    tampered("deleted.db", "DELETE FROM audit WHERE seq = 3", "record 4 stands where record 3 belongs");
    tampered(
        "swapped.db",
        "UPDATE audit SET seq = -seq WHERE seq IN (2, 3); UPDATE audit SET seq = 5 + seq WHERE seq < 0",
        "record 2 does not follow the record before it",
    );
    tampered(
        "forged.db",
        "INSERT INTO audit SELECT 5, time, type, fields, hash, 'ff' FROM audit WHERE seq = 4",
        "record 5 was changed",
    );
}
