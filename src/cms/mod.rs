//! CMS SignedData for CAdES (ETSI EN 319 122-1) and for RFC 3161 tokens, on the RustCrypto
//! `cms` types.
//!
//! [`assemble`] builds detached CAdES signatures — content-type id-data, message-digest (the
//! caller's digest, never recomputed), signing-time (left out for PAdES), signing-certificate-v2
//! — identified by issuerAndSerialNumber, with the leaf and the CA chain, and adds the
//! signature-time-stamp that makes B-B into B-T. [`verify`] checks a SignedData the way a
//! relying party would, and is what every signature passes before it is returned.

pub mod assemble;
pub mod attributes;
pub mod ess;
pub mod verify;

use const_oid::ObjectIdentifier;

use crate::pki::verify::VerifyError;

/// A CMS failure: building one, or finding something wrong in one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DER encoding or decoding failed.
    #[error("DER: {0}")]
    Der(#[from] der::Error),
    /// The HSM failed to sign.
    #[error(transparent)]
    Hsm(#[from] crate::hsm::Error),
    /// The structure is not a SignedData ContentInfo.
    #[error("not a CMS SignedData (content type {0})")]
    NotSignedData(ObjectIdentifier),
    /// esignd expects exactly one SignerInfo.
    #[error("{0} SignerInfos; esignd makes and checks signatures with exactly one")]
    SignerCount(usize),
    /// An attribute is malformed or repeated.
    #[error("attribute {oid}: {problem}")]
    Attribute {
        /// The attribute type.
        oid: ObjectIdentifier,
        /// What is wrong.
        problem: &'static str,
    },
    /// A required attribute is missing.
    #[error("the signed attributes lack {0}")]
    MissingAttribute(&'static str),
    /// The content-type attribute disagrees with the encapsulated content type.
    #[error("the content-type attribute does not match the encapsulated content type")]
    ContentTypeMismatch,
    /// The message-digest attribute does not match the content (or the document digest).
    #[error("the message-digest attribute does not match the signed content")]
    DigestMismatch,
    /// A digest algorithm esignd does not support.
    #[error("unsupported digest algorithm {0}")]
    UnsupportedDigest(ObjectIdentifier),
    /// The signer's certificate is not in the SignedData nor among the given certificates.
    #[error("the signer's certificate is not in the signature")]
    SignerNotFound,
    /// The ESS signing-certificate attribute names another certificate.
    #[error("the signing-certificate attribute names another certificate than the signer's")]
    EssMismatch,
    /// The signature does not verify.
    #[error("the signature does not verify: {0}")]
    Signature(#[source] VerifyError),
}
