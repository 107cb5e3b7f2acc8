//! Signatures made by a user's own device (DESIGN §7), finished here exactly as one-time
//! signatures are: the device signs the CAdES signed attributes esignd prepared for its
//! certificate; esignd verifies that signature with the certificate, assembles the SignedData
//! (device certificate + CA chain), timestamps it and runs the same checks before anything is
//! returned ([`super::checks`]).

use std::sync::Arc;
use std::time::SystemTime;

use const_oid::db::rfc5911;
use der::Decode;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attributes;

use super::stamp::Signed;
use super::{EngineError, SignatureRecord, SigningEngine, Timestamper};
use crate::cms::assemble::{SignedMessage, Signer, cades_signed_attributes, to_be_signed};
use crate::hsm::{HashAlgorithm, KeyStore, SignatureScheme};
use crate::pki::verify::{VerifyError, verify_message};
use crate::vocabulary::{Digest, Format};

/// The signature scheme a device key signs with for documents hashed with `hash`: ECDSA or
/// RSASSA-PKCS1-v1_5 with the same hash, as for one-time keys.
///
/// # Errors
/// [`VerifyError::UnsupportedKey`] for keys that are neither EC nor RSA.
pub fn device_scheme(certificate: &Certificate, hash: HashAlgorithm) -> Result<SignatureScheme, VerifyError> {
    use const_oid::db::rfc5912;
    match certificate.tbs_certificate().subject_public_key_info().algorithm.oid {
        rfc5912::ID_EC_PUBLIC_KEY => Ok(SignatureScheme::Ecdsa(hash)),
        rfc5912::RSA_ENCRYPTION => Ok(SignatureScheme::RsaPkcs1v15(hash)),
        _ => Err(VerifyError::UnsupportedKey("neither an EC nor an RSA key")),
    }
}

/// The DER signed attributes a device signs (after hashing them with the digest's algorithm)
/// for a document whose digest is `digest`.
///
/// # Errors
/// Encoding errors only.
pub fn device_signed_attributes(
    format: Format,
    digest: &Digest,
    certificate: &Certificate,
    signing_time: SystemTime,
) -> Result<Vec<u8>, EngineError> {
    Ok(to_be_signed(&cades_signed_attributes(format, digest.bytes(), certificate, signing_time)?)?)
}

/// A device's answer to a prepared request, with what the request was.
#[derive(Clone, Debug)]
pub struct DeviceSignature {
    /// The device certificate (ACTIVE, checked by the caller).
    pub certificate: Certificate,
    /// The document digest; its algorithm is also the signed attributes' digest algorithm.
    pub digest: Digest,
    /// CAdES or PAdES.
    pub format: Format,
    /// The DER signed attributes the device was given.
    pub signed_attributes: Vec<u8>,
    /// The device's signature over them: DER for ECDSA (the fixed `r‖s` form is accepted
    /// too), the PKCS#1 v1.5 block for RSA.
    pub signature: Vec<u8>,
}

impl<K: KeyStore> SigningEngine<K> {
    /// Verify a device's signature, assemble CAdES B-T around it, timestamp and check it.
    ///
    /// # Errors
    /// [`EngineError::DeviceSignature`] when the signature does not verify with the device
    /// certificate (nothing else is attempted then); TSA, HSM and CMS errors; a
    /// [`EngineError::Check`] naming the rule a finished signature broke.
    pub async fn finish_device_signature(
        self: &Arc<Self>,
        answer: DeviceSignature,
    ) -> Result<SignatureRecord, EngineError> {
        let hash = answer.digest.hash();
        let scheme = device_scheme(&answer.certificate, hash).map_err(EngineError::DeviceSignature)?;
        let algorithm: AlgorithmIdentifierOwned =
            scheme.algorithm_identifier().map_err(|e| EngineError::Cms(crate::cms::Error::from(e)))?;
        let key = answer.certificate.tbs_certificate().subject_public_key_info();
        let signature = normalise_ecdsa(scheme, key, answer.signature.clone());
        verify_message(key, &algorithm, &answer.signed_attributes, &signature).map_err(EngineError::DeviceSignature)?;

        let signed_attributes = Attributes::from_der(&answer.signed_attributes).map_err(crate::cms::Error::from)?;
        let chain: Vec<&Certificate> = std::iter::once(&answer.certificate).chain(self.ca.chain()).collect();
        let message = SignedMessage::new(
            rfc5911::ID_DATA,
            None,
            Signer {
                certificate: &answer.certificate,
                hash,
                signed_attributes,
                signature_algorithm: algorithm,
                signature,
            },
            &chain,
        )?;
        let signed = Signed {
            message,
            leaf: answer.certificate.clone(),
            digest: answer.digest,
            format: answer.format,
            key: None,
            subject_hash: None,
            steps: super::StepTimes::default(),
        };
        match &self.timestamper {
            Timestamper::Builtin(_) => {
                let service = Arc::clone(self);
                self.blocking(move |session| service.stamp_in_session(session, &service.inventory(), signed)).await
            }
            Timestamper::External(client) => self.stamp_externally(client, signed).await,
        }
    }
}

/// An ECDSA signature in the fixed `r‖s` form (what WebCrypto and JOSE produce) as the DER
/// CMS wants; anything else is returned unchanged for verification to judge.
fn normalise_ecdsa(scheme: SignatureScheme, key: &spki::SubjectPublicKeyInfoOwned, signature: Vec<u8>) -> Vec<u8> {
    if !matches!(scheme, SignatureScheme::Ecdsa(_)) || signature.first() == Some(&0x30) {
        return signature;
    }
    let point_len = key.subject_public_key.as_bytes().map_or(0, <[u8]>::len);
    let der = match (point_len, signature.len()) {
        (65, 64) => p256::ecdsa::Signature::from_slice(&signature).ok().map(|s| s.to_der().to_bytes().to_vec()),
        (97, 96) => p384::ecdsa::Signature::from_slice(&signature).ok().map(|s| s.to_der().to_bytes().to_vec()),
        _ => None,
    };
    der.unwrap_or(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_form_ecdsa_signatures_become_der() {
        use p256::ecdsa::signature::Signer as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).unwrap();
        let signature: p256::ecdsa::Signature = key.sign(b"attributes");
        let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
        let der = normalise_ecdsa(scheme, &spki, signature.to_bytes().to_vec());
        assert_eq!(der, signature.to_der().to_bytes().to_vec());
        // DER stays DER; garbage stays garbage (and fails verification later).
        assert_eq!(normalise_ecdsa(scheme, &spki, der.clone()), der);
        assert_eq!(normalise_ecdsa(scheme, &spki, vec![1, 2, 3]), vec![1, 2, 3]);
    }
}
