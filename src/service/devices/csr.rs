//! What a device sends to be certified: a PKCS#10 CSR (PEM, or base64 DER) whose self-signature
//! proves possession of the key, and a key esignd accepts for qualified-grade signatures —
//! P-256, P-384 (a valid point) or RSA of 2048 to 8192 bits. The CSR's subject and attributes
//! are ignored: the certificate's subject comes from the ID provider, never from the device.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::{Decode, Encode};
use rsa::traits::PublicKeyParts as _;
use spki::{DecodePublicKey as _, SubjectPublicKeyInfoOwned};
use x509_cert::request::CertReq;

use crate::pki::verify::verify_message;

/// Why a CSR is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsrError {
    /// Not PEM or base64 of a DER CertificationRequest.
    #[error("CSR is not a PKCS#10 request in PEM or base64 DER: {0}")]
    Encoding(String),
    /// The self-signature does not verify with the enclosed key.
    #[error("the CSR's signature does not verify with its own public key ({0})")]
    Signature(String),
    /// A key type, curve or size esignd does not certify.
    #[error("the CSR's key is not accepted: {0}; use P-256, P-384 or RSA with 2048 to 8192 bits")]
    Key(String),
}

/// Read a CSR given as PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`, any line
/// endings) or as base64 of its DER.
///
/// # Errors
/// [`CsrError::Encoding`].
pub fn read_csr(text: &str) -> Result<CertReq, CsrError> {
    let text = text.trim();
    let der = if text.starts_with("-----BEGIN") {
        let unix = text.replace("\r\n", "\n");
        let (label, der) = der::pem::decode_vec(unix.as_bytes()).map_err(|e| CsrError::Encoding(e.to_string()))?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(CsrError::Encoding(format!("the PEM block is a {label}")));
        }
        der
    } else {
        let compact: String = text.split_whitespace().collect();
        STANDARD.decode(compact).map_err(|e| CsrError::Encoding(format!("bad base64: {e}")))?
    };
    CertReq::from_der(&der).map_err(|e| CsrError::Encoding(e.to_string()))
}

/// Check the CSR's key and self-signature; returns the key to certify.
///
/// # Errors
/// [`CsrError::Key`] or [`CsrError::Signature`].
pub fn check_csr(request: &CertReq) -> Result<SubjectPublicKeyInfoOwned, CsrError> {
    let key = request.info.public_key.clone();
    check_key(&key)?;
    let info = request.info.to_der().map_err(|e| CsrError::Encoding(e.to_string()))?;
    let signature = request.signature.as_bytes().ok_or_else(|| CsrError::Signature("unaligned bit string".into()))?;
    verify_message(&key, &request.algorithm, &info, signature).map_err(|e| CsrError::Signature(e.to_string()))?;
    Ok(key)
}

/// Whether esignd certifies `key`: a valid P-256 or P-384 point, or an RSA key of 2048 to 8192
/// bits.
///
/// # Errors
/// [`CsrError::Key`] saying what the key is.
pub fn check_key(key: &SubjectPublicKeyInfoOwned) -> Result<(), CsrError> {
    let der = key.to_der().map_err(|e| CsrError::Key(e.to_string()))?;
    match key.algorithm.oid {
        rfc5912::ID_EC_PUBLIC_KEY => {
            let curve = key.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            let valid = match curve {
                Some(rfc5912::SECP_256_R_1) => p256::PublicKey::from_public_key_der(&der).is_ok(),
                Some(rfc5912::SECP_384_R_1) => p384::PublicKey::from_public_key_der(&der).is_ok(),
                Some(other) => return Err(CsrError::Key(format!("an EC key on curve {other}"))),
                None => return Err(CsrError::Key("an EC key without a named curve".into())),
            };
            if valid { Ok(()) } else { Err(CsrError::Key("an EC point that is not on its curve".into())) }
        }
        rfc5912::RSA_ENCRYPTION => {
            let rsa =
                rsa::PublicKey::from_public_key_der(&der).map_err(|_| CsrError::Key("a malformed RSA key".into()))?;
            let bits = rsa.n().bit_width();
            if (2048..=8192).contains(&bits) {
                Ok(())
            } else {
                Err(CsrError::Key(format!("an RSA key of {bits} bits")))
            }
        }
        other => Err(CsrError::Key(format!("a key of algorithm {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_encoding_error() {
        assert!(matches!(read_csr("not base64 !"), Err(CsrError::Encoding(_))));
        assert!(matches!(read_csr("AAAA"), Err(CsrError::Encoding(_))));
        let cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(read_csr(cert_pem), Err(CsrError::Encoding(m)) if m.contains("CERTIFICATE")));
    }
}
