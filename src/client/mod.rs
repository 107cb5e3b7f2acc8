//! `esign`, the integrator's client: what an eService needs around esignd's API — prepare a
//! PDF and the digest to sign, embed the signature esignd returns ([`pdf`]), and make it PAdES
//! B-LTA with the validation data and a document time-stamp ([`timestamp`]).
//!
//! It lives in this package (not a workspace member) while its API settles: it shares the
//! `der`/`cms` stack, the outbound HTTP client and the test harness with the daemon, and one
//! lock file; splitting it out later is a move, not a rewrite.

pub mod cli;
pub mod pdf;
pub mod timestamp;
pub mod verify;

use std::path::PathBuf;

/// Why the client stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The PDF.
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    /// A file.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// esignd answered with an error, or not at all.
    #[error("esignd: {0}")]
    Server(String),
    /// The time-stamping authority.
    #[error("the TSA: {0}")]
    Tsa(String),
    /// `esign verify` found a check that failed.
    #[error("the signature does not verify (see the FAIL lines)")]
    Invalid,
}
