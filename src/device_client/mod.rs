//! The reference device (`esign-device`): a small client that plays the citizen's own
//! signature creation device against esignd, with a software key or a PKCS#11 key
//! ([`key`]). It enrols its key (`POST /v1/cert/create` with a CSR, [`csr`]), binds it as a
//! wallet (`POST /binding/wallet-binding`), and serves signing requests through the device API:
//! it polls, shows what is to be signed with its digest's fingerprint, checks that the signed
//! attributes commit to that digest ([`request_check`]), asks for the PIN, signs and answers
//! ([`api`]). Every call
//! is authenticated by a fresh device JWT ([`jwt`]).

pub mod api;
pub mod cli;
pub mod csr;
pub mod jwt;
pub mod key;
pub mod request_check;

/// What went wrong on the device's side.
#[derive(Debug, thiserror::Error)]
pub enum DeviceClientError {
    /// The PIN did not unlock the key.
    #[error("the PIN does not unlock the key")]
    Pin,
    /// The key cannot be read, made or used.
    #[error("device key: {0}")]
    Key(String),
    /// The token failed.
    #[error(transparent)]
    Hsm(#[from] crate::hsm::Error),
    /// esignd could not be reached.
    #[error(transparent)]
    Http(#[from] crate::outbound::OutboundError),
    /// esignd refused.
    #[error("esignd answered {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{0}")]
    File(String),
}
