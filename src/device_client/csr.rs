//! A PKCS#10 request for the device key. Its subject is a placeholder: esignd takes the
//! certificate's subject from the ID provider, never from the CSR.

use der::Encode;
use der::asn1::BitString;
use x509_cert::request::{CertReq, CertReqInfo, Version};

use super::DeviceClientError;
use super::key::UnlockedKey;
use crate::hsm::SignatureScheme;

/// A CSR signed by `key`, as PEM.
///
/// # Errors
/// Key and encoding failures.
pub fn make(key: &UnlockedKey) -> Result<String, DeviceClientError> {
    let encoding = |e: der::Error| DeviceClientError::Key(e.to_string());
    let info = CertReqInfo {
        version: Version::V1,
        subject: "CN=esign-device".parse().map_err(encoding)?,
        public_key: key.public_key()?,
        attributes: Default::default(),
    };
    let (_, hash) = key.jws();
    let algorithm = SignatureScheme::Ecdsa(hash).algorithm_identifier().map_err(encoding)?;
    let signature = key.sign_der(hash, &info.to_der().map_err(encoding)?)?;
    let request = CertReq { info, algorithm, signature: BitString::from_bytes(&signature).map_err(encoding)? };
    der::EncodePem::to_pem(&request, der::pem::LineEnding::LF).map_err(encoding)
}
