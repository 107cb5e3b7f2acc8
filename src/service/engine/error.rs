//! `EngineError`: why a transaction produced no signature.

use super::BrokenRule;

/// A signing transaction failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The key store failed.
    #[error(transparent)]
    Hsm(#[from] crate::hsm::Error),
    /// Certificate issuance failed, or the token's objects are unfit.
    #[error(transparent)]
    Ca(#[from] crate::ca::Error),
    /// CMS assembly failed.
    #[error(transparent)]
    Cms(#[from] crate::cms::Error),
    /// No timestamp could be obtained.
    #[error(transparent)]
    Tsa(#[from] crate::tsa::Error),
    /// A device's signature does not verify with its certificate.
    #[error("the device's signature does not verify with its certificate: {0}")]
    DeviceSignature(#[source] crate::pki::verify::VerifyError),
    /// A finished signature failed a check and was not returned.
    #[error("the signature was not returned: {0}")]
    Check(#[from] BrokenRule),
}

impl EngineError {
    /// Whether the token reported a key or object handle that is no longer valid, so the
    /// persistent keys should be looked up again.
    pub fn is_stale_handle(&self) -> bool {
        match self {
            EngineError::Hsm(e)
            | EngineError::Ca(crate::ca::Error::Hsm(e))
            | EngineError::Cms(crate::cms::Error::Hsm(e))
            | EngineError::Tsa(crate::tsa::Error::Hsm(e)) => e.is_stale_handle(),
            _ => false,
        }
    }
}
