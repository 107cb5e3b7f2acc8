//! [`SignatureRecord`]: what a successful transaction returns.

use std::time::{Duration, SystemTime};

use x509_cert::Certificate;

use crate::vocabulary::Format;

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
    /// The format signed in.
    pub format: Format,
    /// SHA-256 of the signer's signature value, hex (what the audit keeps of it).
    pub signature_sha256: String,
    /// The one-time key's algorithm (`None`: the user's own device key, not made here).
    pub key: Option<crate::hsm::KeyAlgorithm>,
    /// The signer's subject id as the audit shows it (one-time signatures; `None` for device
    /// signatures, whose certificate's owner is known to the caller).
    pub subject_hash: Option<String>,
    /// The TSA that time-stamped it: `built-in`, or the external TSA's URL.
    pub tsa: String,
    /// How long each step took (for the operator's metrics).
    pub steps: StepTimes,
}

/// How long the steps of a signature took; zero for a step a signature did not take (a device
/// signature has no key generation, certificate, signature in the HSM or destruction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepTimes {
    /// The one-time key's generation.
    pub keygen: Duration,
    /// Issuing its certificate (the CA key's signature).
    pub certificate: Duration,
    /// The signature with the one-time key.
    pub signature: Duration,
    /// Destroying the key.
    pub destroy: Duration,
    /// The time-stamp (the built-in TSA's signature, or the external TSA's round trip).
    pub timestamp: Duration,
    /// The checks before returning.
    pub checks: Duration,
}

impl StepTimes {
    /// Each step with its name, as metrics label it.
    pub fn named(&self) -> [(&'static str, Duration); 6] {
        [
            ("keygen", self.keygen),
            ("certificate", self.certificate),
            ("signature", self.signature),
            ("destroy", self.destroy),
            ("timestamp", self.timestamp),
            ("checks", self.checks),
        ]
    }
}

impl SignatureRecord {
    /// The GovStack `SignResponse`: the CMS and the token in base64, the certificate in PEM.
    pub fn sign_response(&self) -> serde_json::Value {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD;
        use der::EncodePem;
        let pem = self.leaf.to_pem(der::pem::LineEnding::LF).expect("an issued certificate encodes");
        serde_json::json!({
            "signature": STANDARD.encode(&self.cms),
            "certificate": pem,
            "signatureTimestamp": STANDARD.encode(&self.timestamp_token),
            "responseTimestamp": crate::vocabulary::rfc3339(SystemTime::now()),
            "status": { "code": "OK", "message": "Signature generated successfully" },
        })
    }
}
