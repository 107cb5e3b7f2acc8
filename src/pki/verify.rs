//! Signature verification with public keys in software.
//!
//! Used to check what the HSM produced before it leaves (every one-time signature is verified
//! before it is returned) and what others hand us (imported chains, external timestamp tokens).
//!
//! Messages are verified with `ring` where it supports the combination (ECDSA P-256/P-384 with
//! SHA-256/384, RSA PKCS#1 v1.5 and PSS with 2048–8192-bit keys): on the development VM it
//! verifies a P-256 signature in about 60 µs where RustCrypto's `p256` takes about 350 µs, and the
//! one-time transaction verifies twice. Other combinations (ECDSA with SHA-512) and verification of
//! bare digests use RustCrypto (`p256`, `p384`, `rsa`).

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::Encode;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, PublicKey as RsaPublicKey, pss::Pss};
use signature::hazmat::PrehashVerifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

use crate::hsm::{HashAlgorithm, SignatureScheme};

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The signature algorithm is not one esignd knows.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(ObjectIdentifier),
    /// The public key is of a type or curve esignd does not support, or malformed.
    #[error("unsupported or malformed public key: {0}")]
    UnsupportedKey(&'static str),
    /// The algorithm does not fit the key (ECDSA with an RSA key...).
    #[error("a {scheme} signature cannot come from this kind of public key")]
    Mismatch {
        /// The announced scheme.
        scheme: SignatureScheme,
    },
    /// The signature is malformed or does not match.
    #[error("the signature does not verify")]
    Invalid,
    /// DER re-encoding of the signed data failed.
    #[error("cannot encode the signed data: {0}")]
    Der(#[from] der::Error),
}

/// Verify `signature` over `message` under the announced algorithm `algorithm`.
///
/// # Errors
/// [`VerifyError`] saying why it does not verify.
pub fn verify_message(
    key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let scheme = SignatureScheme::from_algorithm_identifier(algorithm)
        .ok_or(VerifyError::UnsupportedAlgorithm(algorithm.oid))?;
    if let Some(ring_algorithm) = ring_algorithm(key, scheme) {
        let public_key = key.subject_public_key.as_bytes().ok_or(VerifyError::UnsupportedKey("public key bits"))?;
        return ring::signature::UnparsedPublicKey::new(ring_algorithm, public_key)
            .verify(message, signature)
            .map_err(|_| VerifyError::Invalid);
    }
    verify_digest(key, scheme, &scheme.hash().digest(message), signature)
}

/// The `ring` algorithm for this key and scheme, when `ring` has one. `ring` takes the public
/// key as the contents of the SPKI's BIT STRING: the uncompressed EC point, or the DER
/// `RSAPublicKey`.
fn ring_algorithm(
    key: &SubjectPublicKeyInfoOwned,
    scheme: SignatureScheme,
) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use HashAlgorithm::{Sha256, Sha384, Sha512};
    use ring::signature as r;
    let curve = || key.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    Some(match (key.algorithm.oid, scheme) {
        (rfc5912::ID_EC_PUBLIC_KEY, SignatureScheme::Ecdsa(hash)) => match (curve()?, hash) {
            (rfc5912::SECP_256_R_1, Sha256) => &r::ECDSA_P256_SHA256_ASN1,
            (rfc5912::SECP_256_R_1, Sha384) => &r::ECDSA_P256_SHA384_ASN1,
            (rfc5912::SECP_384_R_1, Sha256) => &r::ECDSA_P384_SHA256_ASN1,
            (rfc5912::SECP_384_R_1, Sha384) => &r::ECDSA_P384_SHA384_ASN1,
            _ => return None,
        },
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPkcs1v15(Sha256)) => &r::RSA_PKCS1_2048_8192_SHA256,
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPkcs1v15(Sha384)) => &r::RSA_PKCS1_2048_8192_SHA384,
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPkcs1v15(Sha512)) => &r::RSA_PKCS1_2048_8192_SHA512,
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPss(Sha256)) => &r::RSA_PSS_2048_8192_SHA256,
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPss(Sha384)) => &r::RSA_PSS_2048_8192_SHA384,
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPss(Sha512)) => &r::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// Verify `signature` over a precomputed `digest`.
///
/// # Errors
/// [`VerifyError`] saying why it does not verify.
pub fn verify_digest(
    key: &SubjectPublicKeyInfoOwned,
    scheme: SignatureScheme,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    match (key.algorithm.oid, scheme) {
        (rfc5912::ID_EC_PUBLIC_KEY, SignatureScheme::Ecdsa(_)) => verify_ecdsa(key, digest, signature),
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPkcs1v15(hash)) => {
            let padding = match hash {
                HashAlgorithm::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlgorithm::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlgorithm::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            rsa_key(key)?.verify(padding, digest, signature).map_err(|_| VerifyError::Invalid)
        }
        (rfc5912::RSA_ENCRYPTION, SignatureScheme::RsaPss(hash)) => {
            let rsa = rsa_key(key)?;
            let verified = match hash {
                HashAlgorithm::Sha256 => rsa.verify(Pss::<sha2::Sha256>::new(), digest, signature),
                HashAlgorithm::Sha384 => rsa.verify(Pss::<sha2::Sha384>::new(), digest, signature),
                HashAlgorithm::Sha512 => rsa.verify(Pss::<sha2::Sha512>::new(), digest, signature),
            };
            verified.map_err(|_| VerifyError::Invalid)
        }
        (rfc5912::ID_EC_PUBLIC_KEY | rfc5912::RSA_ENCRYPTION, scheme) => Err(VerifyError::Mismatch { scheme }),
        _ => Err(VerifyError::UnsupportedKey("neither an EC nor an RSA key")),
    }
}

/// Verify that `issuer_key` signed `certificate`.
///
/// # Errors
/// [`VerifyError`] saying why it does not verify.
pub fn verify_certificate(
    certificate: &Certificate,
    issuer_key: &SubjectPublicKeyInfoOwned,
) -> Result<(), VerifyError> {
    let tbs = certificate.tbs_certificate().to_der()?;
    let signature = certificate.signature().as_bytes().ok_or(VerifyError::Invalid)?;
    verify_message(issuer_key, certificate.signature_algorithm(), &tbs, signature)
}

fn verify_ecdsa(key: &SubjectPublicKeyInfoOwned, digest: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
    let curve: ObjectIdentifier = key
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as().ok())
        .ok_or(VerifyError::UnsupportedKey("EC key without a named curve"))?;
    let point = key.subject_public_key.as_bytes().ok_or(VerifyError::UnsupportedKey("EC point"))?;
    let verified = match curve {
        rfc5912::SECP_256_R_1 => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| VerifyError::UnsupportedKey("P-256 point"))?;
            let sig = p256::ecdsa::DerSignature::try_from(signature).map_err(|_| VerifyError::Invalid)?;
            vk.verify_prehash(digest, &sig)
        }
        rfc5912::SECP_384_R_1 => {
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| VerifyError::UnsupportedKey("P-384 point"))?;
            let sig = p384::ecdsa::DerSignature::try_from(signature).map_err(|_| VerifyError::Invalid)?;
            vk.verify_prehash(digest, &sig)
        }
        _ => return Err(VerifyError::UnsupportedKey("curve other than P-256 or P-384")),
    };
    verified.map_err(|_| VerifyError::Invalid)
}

fn rsa_key(key: &SubjectPublicKeyInfoOwned) -> Result<RsaPublicKey, VerifyError> {
    RsaPublicKey::from_public_key_der(&key.to_der()?).map_err(|_| VerifyError::UnsupportedKey("RSA public key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_takes_the_combinations_it_supports() {
        let mut point = vec![4u8];
        point.extend([1u8; 64]);
        let p256 = crate::hsm::encoding::ec_spki(crate::hsm::KeyAlgorithm::P256, &point).unwrap();
        assert!(ring_algorithm(&p256, SignatureScheme::Ecdsa(HashAlgorithm::Sha256)).is_some());
        assert!(ring_algorithm(&p256, SignatureScheme::Ecdsa(HashAlgorithm::Sha512)).is_none(), "RustCrypto's case");
        assert!(ring_algorithm(&p256, SignatureScheme::RsaPss(HashAlgorithm::Sha256)).is_none());
    }
}
