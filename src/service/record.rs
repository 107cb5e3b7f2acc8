//! [`SignatureRecord`]: what a successful transaction returns.

use std::time::SystemTime;

use x509_cert::Certificate;

use crate::cms::Profile;
use crate::hsm::HashAlgorithm;

/// A finished, checked one-time signature.
#[derive(Clone, Debug)]
pub struct SignatureRecord {
    /// The CAdES signature: a DER ContentInfo (`.p7s`).
    pub cms: Vec<u8>,
    /// The one-time certificate.
    pub leaf: Certificate,
    /// The CA chain, CA certificate first.
    pub chain: Vec<Certificate>,
    /// The RFC 3161 TimeStampToken over the signature value (DER).
    pub timestamp_token: Vec<u8>,
    /// The signing-time attribute (`None` for PAdES).
    pub signing_time: Option<SystemTime>,
    /// The timestamp's genTime.
    pub gen_time: SystemTime,
    /// The certificate's notBefore.
    pub not_before: SystemTime,
    /// The certificate's notAfter.
    pub not_after: SystemTime,
    /// The certificate's serial number, hex.
    pub leaf_serial: String,
    /// The timestamp's serial number, hex.
    pub timestamp_serial: String,
    /// The profile signed under.
    pub profile: Profile,
    /// The document digest's algorithm.
    pub hash: HashAlgorithm,
}
