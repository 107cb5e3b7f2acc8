//! Compact JWS (RFC 7515): verifying tokens from ID providers and payment providers with
//! `ring`, and making ES256 tokens with the HSM service key.

use serde::{Deserialize, Serialize};

use super::jwk::JwkSet;
use super::{Error, b64, unb64};
use crate::hsm::{HashAlgorithm, KeyPair, KeySession, SignatureScheme};

/// The protected header members esignd reads and writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The algorithm.
    pub alg: String,
    /// The key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The media type of the whole token (`JWT`, `at+jwt`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// SHA-256 thumbprint of the signer's certificate (device JWTs name their certificate so).
    #[serde(rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// Critical extensions: esignd understands none, so any present makes the token invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<Vec<String>>,
}

/// A compact JWS split into its parts, not yet verified.
pub struct Unverified<'a> {
    /// The decoded protected header.
    pub header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Split and decode a compact JWS without verifying it.
///
/// # Errors
/// [`Error::Malformed`] for anything but `header.payload.signature` with a JSON header.
pub fn decode(token: &str) -> Result<Unverified<'_>, Error> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("JWS"));
    };
    let header: Header =
        serde_json::from_slice(&unb64(header, "JWS header")?).map_err(|_| Error::Malformed("JWS header"))?;
    Ok(Unverified {
        header,
        signing_input: &token[..token.len() - signature.len() - 1],
        payload: unb64(payload, "JWS payload")?,
        signature: unb64(signature, "JWS signature")?,
    })
}

/// The `ring` algorithm for a JWS `alg` (JWS ECDSA signatures are the fixed `r‖s` form).
fn algorithm(alg: &str) -> Result<&'static dyn ring::signature::VerificationAlgorithm, Error> {
    use ring::signature as r;
    Ok(match alg {
        "RS256" => &r::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &r::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &r::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &r::RSA_PSS_2048_8192_SHA256,
        "PS384" => &r::RSA_PSS_2048_8192_SHA384,
        "PS512" => &r::RSA_PSS_2048_8192_SHA512,
        "ES256" => &r::ECDSA_P256_SHA256_FIXED,
        "ES384" => &r::ECDSA_P384_SHA384_FIXED,
        other => return Err(Error::UnsupportedAlgorithm(other.to_owned())),
    })
}

impl Unverified<'_> {
    /// Verify against the keys of `keys` that fit the header, and return the payload.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`], [`Error::UnknownKey`], [`Error::BadSignature`].
    pub fn verify(self, keys: &JwkSet) -> Result<Vec<u8>, Error> {
        if self.header.crit.is_some() {
            return Err(Error::UnsupportedAlgorithm("crit".into()));
        }
        let algorithm = algorithm(&self.header.alg)?;
        let mut candidates = keys.candidates(self.header.kid.as_deref(), &self.header.alg).peekable();
        if candidates.peek().is_none() {
            return Err(Error::UnknownKey(self.header.kid.clone()));
        }
        for key in candidates {
            let public = key.ring_public_key()?;
            let verified = ring::signature::UnparsedPublicKey::new(algorithm, &public)
                .verify(self.signing_input.as_bytes(), &self.signature);
            if verified.is_ok() {
                return Ok(self.payload);
            }
        }
        Err(Error::BadSignature)
    }
}

/// Make an ES256 compact JWS over `payload` with a P-256 key in the HSM.
///
/// # Errors
/// [`Error::Signing`] when the HSM fails or the key is not P-256.
pub fn sign_es256<S: KeySession>(
    session: &S,
    key: &KeyPair<S::Handle>,
    header: &Header,
    payload: &[u8],
) -> Result<String, Error> {
    let header_json = serde_json::to_vec(header).map_err(|e| Error::Signing(e.to_string()))?;
    let signing_input = format!("{}.{}", b64(&header_json), b64(payload));
    let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
    let der = session
        .sign_digest(key, scheme, &HashAlgorithm::Sha256.digest(signing_input.as_bytes()))
        .map_err(|e| Error::Signing(e.to_string()))?;
    let signature = p256::ecdsa::Signature::from_der(&der).map_err(|e| Error::Signing(e.to_string()))?;
    Ok(format!("{signing_input}.{}", b64(&signature.to_bytes())))
}
