//! `esignctl audit verify`: walk the audit chain in the store (`docs/audit.md`) and name the
//! first record that was edited, deleted, inserted or moved, or say `audit OK: N records, head
//! <hash>`. It reads the SQLite file directly (no HSM, no PIN), while the daemon runs or not.

use clap::Subcommand;

use super::CtlError;
use crate::audit::chain;
use crate::config::Config;

/// `esignctl audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain.
    Verify,
}

pub(super) fn run(config: &Config, command: AuditCommand) -> Result<(), CtlError> {
    let AuditCommand::Verify = command;
    let path = &config.store.path;
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| {
            crate::store::StoreError::Open { path: path.clone(), reason: format!("{e}; is [store] path right?") }
        })?;
    let records = crate::store::audit::records(&conn)?;
    let verified = chain::verify(None, &records)?;
    println!("audit OK: {} records, head {}", verified.records, verified.head);
    Ok(())
}
