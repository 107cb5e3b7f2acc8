//! The certificate authority: certificates issued by the CA key inside the HSM.
//!
//! Everything is built with `x509-cert`'s `CertificateBuilder`, signing through the
//! [`crate::hsm::signer::HsmSigner`] adapter, and every certificate is verified in software
//! before it is handed out: a signature the HSM produced but nobody can verify is a bug caught
//! here, not at a relying party.
//!
//! - [`root`]: the self-signed CA certificate (`esignctl ca create-root`).
//! - [`csr`]: a CSR for a CA key to be certified elsewhere (`esignctl ca csr`).
//! - [`chain`]: the CA chain stored on the token beside the CA key (`esignctl ca import|show`).
//! - [`tsa`]: the built-in TSA's certificate.
//! - [`Ca`]: one-time certificates for signers (DESIGN §3) and device certificates (§7).
//! - [`crl`]: the CRL for device certificates.

mod authority;
pub mod chain;
pub mod crl;
pub mod csr;
pub mod extensions;
mod issue;
pub mod root;
mod serial;
pub mod subject;
pub mod tsa;

use crate::pki::checks::CertProblem;
use crate::pki::verify::VerifyError;

pub use authority::{Ca, IssuancePolicy};
pub use serial::random_serial;

/// A CA operation failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key store failed.
    #[error(transparent)]
    Hsm(#[from] crate::hsm::Error),

    /// The certificate builder refused its input.
    #[error("building the certificate failed: {0}")]
    Build(#[from] x509_cert::builder::Error),

    /// DER encoding or decoding failed.
    #[error("DER encoding failed: {0}")]
    Der(#[from] der::Error),

    /// The subject is not an RFC 4514 distinguished name esignd accepts.
    #[error("subject {subject:?} is not usable: {reason}; write it like \"CN=Example Root CA,O=Example Agency,C=EE\"")]
    Subject {
        /// The subject as given.
        subject: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A validity period out of range.
    #[error("a validity of {days} days is not possible; use 1 to 36500")]
    Days {
        /// The days asked for.
        days: u32,
    },

    /// A certificate is not fit for its job.
    #[error(transparent)]
    Unfit(#[from] CertProblem),

    /// A certificate esignd just made does not verify: the HSM or the encoding is broken.
    #[error("the certificate just issued does not verify with the issuer key ({0}); nothing was stored")]
    SelfCheck(VerifyError),

    /// A persistent key that was, or could be, outside the HSM.
    #[error(
        "the key '{label}' is not protected by the HSM ({missing} is false): a key that was ever readable or \
         exportable cannot be trusted to stay secret; generate a new one on the token (`esignctl provision --dev` \
         in development, `esignctl key generate` and a new certificate in production) and destroy this one"
    )]
    KeyExposed {
        /// Label of the key.
        label: String,
        /// The attribute that is not true.
        missing: &'static str,
    },

    /// The demo profile on a CA that was not made for demonstrations.
    #[error(
        "the demo profile (identity.mode = \"mock\") hands out tokens for any name, so it signs only under a \
         development CA made by `esignctl provision --dev`; the CA '{label}' on this token is not one. Use a \
         development token (softhsm/make-token) or set identity.mode = \"oidc\""
    )]
    NotDemoCa {
        /// Label of the CA key.
        label: String,
    },

    /// The CA has no certificate yet.
    #[error(
        "the CA key '{label}' has no certificate on the token; run `esignctl ca create-root` or `esignctl ca csr` and `esignctl ca import`"
    )]
    NoCaCertificate {
        /// Label of the CA key.
        label: String,
    },

    /// An audit key is missing (the daemon records nothing without both).
    #[error(
        "the audit key '{label}' is not on the token; run `esignctl audit keys` (production) or `esignctl provision --dev` (development)"
    )]
    NoAuditKey {
        /// The missing label.
        label: String,
    },

    /// A key that needs a certificate has none.
    #[error(
        "the key '{label}' has no certificate on the token; run `esignctl provision --dev` (development) or `esignctl tsa provision` (production)"
    )]
    MissingCertificate {
        /// Label of the key.
        label: String,
    },

    /// An imported chain does not link up.
    #[error("the chain does not link: '{child}' is not signed by '{parent}' ({reason})")]
    ChainBroken {
        /// Subject of the certificate whose signature fails.
        child: String,
        /// Subject of the certificate expected to have signed it.
        parent: String,
        /// Why.
        reason: VerifyError,
    },

    /// No certificate in an imported chain certifies the CA key.
    #[error(
        "no certificate in the chain certifies the CA key '{label}'; import the certificate issued for the CSR from `esignctl ca csr`"
    )]
    ChainWithoutKey {
        /// Label of the CA key.
        label: String,
    },
}

/// Result of a CA operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
