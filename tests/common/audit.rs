//! Reading the audit table the way an auditor with Debian's `sqlite3` would: the event types in
//! order, and a check that no personal datum is anywhere in it.

use std::path::Path;
use std::process::{Command, Output};

use super::text;

/// Run `sql` on the database at `db` with `sqlite3`.
pub fn sqlite(db: &Path, sql: &str) -> Output {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().expect("sqlite3 is installed (tests/run.sh)");
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
    out
}

/// The audit's event types in sequence order, without those in `skip`.
pub fn types(db: &Path, skip: &[&str]) -> Vec<String> {
    text(&sqlite(db, "SELECT type FROM audit ORDER BY seq").stdout)
        .lines()
        .filter(|t| !skip.contains(t))
        .map(str::to_owned)
        .collect()
}

/// The event types that come and go with the daemon and the callers' mistakes, not with a
/// signature: what a sequence check leaves out.
pub const AROUND: &[&str] = &[
    "daemon.started",
    "daemon.stopped",
    "request.refused",
    "audit.checkpoint",
    "webhook.delivered",
    "webhook.abandoned",
];

/// What a device's signature leaves, from its answer to the eService's redemption.
#[allow(dead_code)] // not every test binary signs with a device
pub const DEVICE_SIGNED: [&str; 5] =
    ["device.request.answered", "signature.produced", "timestamp.issued", "signature.kept", "signature.redeemed"];

/// `before`, then `after`: an expected sequence of event types.
#[allow(dead_code)] // not every test binary checks sequences
pub fn sequence(before: &[&'static str], after: &[&'static str]) -> Vec<&'static str> {
    before.iter().chain(after).copied().collect()
}

/// Assert that none of `needles` (names, subject ids, tokens) is anywhere in the audit tables.
pub fn assert_no_personal_data(db: &Path, needles: &[&str]) {
    let dump = text(&sqlite(db, ".dump audit").stdout) + &text(&sqlite(db, ".dump audit_checkpoints").stdout);
    assert!(dump.contains("INSERT INTO audit"), "the audit table has records");
    for needle in needles {
        assert!(!dump.contains(needle), "{needle:?} is in the audit table");
    }
}
