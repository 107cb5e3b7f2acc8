//! RFC 3161 time-stamping, both sides.
//!
//! - [`builtin`]: esignd's own TSA, signing with the TSA key in the HSM; it answers `POST /tsa`
//!   and stamps one-time signatures when `[tsa] mode = "builtin"`.
//! - [`client`]: asks external TSAs (`[tsa] mode = "external"`), one URL after the other.
//! - [`verify`]: what every token must pass: granted, nonce echoed, imprint matching, signed
//!   by a certificate with the timeStamping EKU that chains to the configured trust.

pub mod asn1;
pub mod builtin;
pub mod client;
pub mod verify;

use const_oid::ObjectIdentifier;

use crate::pki::checks::CertProblem;
use crate::pki::path::PathError;

/// A time-stamping failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DER encoding or decoding failed.
    #[error("malformed time-stamp data: {0}")]
    Der(#[from] der::Error),
    /// The HSM failed (built-in TSA).
    #[error(transparent)]
    Hsm(#[from] crate::hsm::Error),
    /// The token's CMS structure is wrong or its signature does not verify.
    #[error("the time-stamp token's signature is not valid: {0}")]
    Cms(#[from] crate::cms::Error),
    /// The TSA did not grant the request.
    #[error("the TSA answered {status}{}{}", fail_info.map(|f| format!(" ({f})")).unwrap_or_default(), text.as_ref().map(|t| format!(": {t}")).unwrap_or_default())]
    Refused {
        /// The PKIStatus name.
        status: &'static str,
        /// The failure bit's name.
        fail_info: Option<&'static str>,
        /// The TSA's free text.
        text: Option<String>,
    },
    /// A granted response without a token.
    #[error("the TSA granted the request but sent no token")]
    NoToken,
    /// The token does not encapsulate a TSTInfo.
    #[error("the token's content is {0}, not a TSTInfo")]
    NotTstInfo(ObjectIdentifier),
    /// RFC 3161 §2.4.1 requires an ESS signing-certificate attribute.
    #[error("the token has no ESS signing-certificate attribute (RFC 3161 §2.4.1)")]
    NoEssBinding,
    /// The token's imprint is not the hash of what was sent.
    #[error("the token's message imprint does not match the data that was time-stamped")]
    ImprintMismatch,
    /// The token does not echo the request's nonce.
    #[error("the token's nonce does not match the request's (replayed or misdirected response)")]
    NonceMismatch,
    /// Unsupported TSTInfo version or imprint algorithm.
    #[error("unsupported time-stamp token: {0}")]
    Unsupported(&'static str),
    /// The TSA certificate may not sign timestamps.
    #[error(transparent)]
    NotTsa(#[from] CertProblem),
    /// The TSA certificate does not chain to the configured trust.
    #[error("the TSA certificate is not trusted: {0}")]
    Untrusted(#[from] PathError),
    /// Every configured TSA failed.
    #[error("no TSA gave a valid time-stamp: {}", .0.iter().map(|(url, e)| format!("{url}: {e}")).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<(String, Box<Error>)>),
    /// The HTTP exchange with a TSA failed.
    #[error("{0}")]
    Transport(#[from] client::TransportError),
}
