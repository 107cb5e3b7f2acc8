//! JOSE: the JSON Web Keys, signatures and claims esignd reads and writes (RFC 7515–7519).
//!
//! Verification uses `ring`; signing goes through the HSM (the service key signs session
//! tokens and webhooks as ES256). Only the algorithms ID providers and esignd use are accepted:
//! RS256, PS256, ES256, ES384 — never `none`, never HMAC with a public key.

pub mod claims;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod remote;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A JOSE failure: the token, key or claims are not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Not a well-formed compact JWS, JWK or claims set.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// An algorithm esignd does not accept.
    #[error("unsupported JOSE algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// No key in the key set has the token's `kid` (and fits its algorithm).
    #[error("no key found for the token (kid {0:?})")]
    UnknownKey(Option<String>),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the expected issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not name us.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// A required claim is missing.
    #[error("the token lacks the {0} claim")]
    MissingClaim(&'static str),
    /// The HSM could not sign.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Base64url without padding (RFC 7515 §2).
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url without padding.
///
/// # Errors
/// [`Error::Malformed`] naming `what`.
pub fn unb64(text: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| Error::Malformed(what))
}
