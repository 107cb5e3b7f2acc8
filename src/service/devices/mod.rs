//! Signing with the user's own device (DESIGN §7, GovStack's SCD model): the device's key is
//! certified once by the HSM CA ([`csr`]), the certificate lives through the GovStack states
//! ([`lifecycle`]) and is withdrawn by a CRL signed in the HSM; [`service::DeviceService`] ties
//! the store, the CA and the identity together.

pub mod binding;
pub mod csr;
pub mod device_jwt;
pub mod lifecycle;
pub mod pseudonym_token;
pub mod service;

use crate::service::engine::EngineError;
use crate::store::StoreError;

/// Why a device operation did not happen. Nothing is stored when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The CSR is unusable.
    #[error(transparent)]
    Csr(#[from] csr::CsrError),
    /// A field is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The pseudonym belongs to someone else's device.
    #[error("the pseudonym {0:?} is taken; choose another or leave it out to get one")]
    PseudonymTaken(String),
    /// The key is certified for another person already.
    #[error("this public key is already bound to another person; generate a new key on the device")]
    DuplicateKey,
    /// No such certificate for this user.
    #[error("no device certificate with this certificateId for this user")]
    NotFound,
    /// The state change is not one the spec allows.
    #[error(transparent)]
    Transition(#[from] lifecycle::TransitionError),
    /// Another request changed the certificate first.
    #[error("the certificate changed while this request ran; read it again and retry")]
    Raced,
    /// The HSM or the CA failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
