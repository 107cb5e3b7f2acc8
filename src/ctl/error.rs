//! `CtlError`: what went wrong in an `esignctl` command and which exit status it gets.

use std::path::PathBuf;

/// An `esignctl` failure.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// The HSM refused or failed.
    #[error(transparent)]
    Hsm(#[from] crate::hsm::Error),

    /// A CA operation failed.
    #[error(transparent)]
    Ca(#[from] crate::ca::Error),

    /// The signing transaction failed.
    #[error(transparent)]
    Engine(#[from] crate::service::engine::EngineError),

    /// A time-stamping step failed.
    #[error(transparent)]
    Tsa(crate::tsa::Error),

    /// `selftest` found one of its files wanting.
    #[error("selftest failed: {file} {problem}")]
    Selftest {
        /// The file that failed its check.
        file: &'static str,
        /// What is wrong with it.
        problem: String,
    },

    /// A file could not be read.
    #[error("cannot read {path:?}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A file could not be written.
    #[error("cannot write {path:?}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A PIN could not be obtained.
    #[error("cannot read the {what}: {reason}; pass {flag} FILE instead")]
    Pin {
        /// Which PIN.
        what: &'static str,
        /// Why.
        reason: String,
        /// The flag that supplies it from a file.
        flag: &'static str,
    },

    /// The command refuses to go on without an explicit confirmation or option.
    #[error("{0}")]
    Refused(&'static str),

    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    /// The audit trail is broken.
    #[error("audit BROKEN: {0}")]
    AuditBroken(#[from] crate::audit::trail::TrailError),

    /// A file given to the command is not what it should be.
    #[error("{path:?} is not {expected}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl CtlError {
    /// The process exit status: 64 (EX_USAGE) for configuration and usage problems, 1 for the
    /// rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Config(_) | CtlError::Refused(_) => 64,
            _ => 1,
        }
    }
}
