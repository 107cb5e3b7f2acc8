//! Wallet binding with MOSIP e-Signet's semantics (`POST /binding/wallet-binding`): a wallet
//! proves who its user is with an ID-provider token (challenge `IDT`, format `jwt`) and has its
//! public key (a JWK) certified by the HSM CA.
//!
//! - The `walletUserId` is derived, never stored as such: base64url(SHA-256(salt ‖ partner id ‖
//!   0x00 ‖ the ID provider's subject)), with a salt made once and kept in the store. The same
//!   person binding again through the same partner gets the same walletUserId; nobody can work
//!   back from it to the subject without the salt.
//! - The walletUserId is the bound device's pseudonym: the wallet signs through the device API
//!   like any enrolled device.
//! - Binding again replaces the previous certificate, which is revoked (and listed on the CRL)
//!   in the same store transaction. A key already certified for another person is refused
//!   (`duplicate_public_key`).
//!
//! - The wallet proves it holds the key: `request.keyProof` (esignd's extension) is a compact
//!   JWS by the key being bound whose claims are the request's `individualId`, the `partnerId`,
//!   the `requestTime` and a `nonce` — the IDT's `jti` (or, for an IDT without one, base64url
//!   SHA-256 of the IDT), so the proof belongs to this login. Without it a partner could have
//!   any key certified in the citizen's name (`key_binding_failed`).
//!
//! This module checks the envelope (request time, auth factor, challenge, key, proof of
//! possession) and names each refusal with e-Signet's error codes; [`super::wallet`] does the
//! rest.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use spki::SubjectPublicKeyInfoOwned;

use super::csr::check_key;
use crate::jose::b64;
use crate::jose::jwk::{Jwk, JwkSet};
use crate::jose::jws;

/// How far `requestTime` may be from now.
pub const REQUEST_TIME_SKEW: Duration = Duration::from_secs(120);

/// The MOSIP envelope.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// ISO 8601 UTC.
    pub request_time: Option<String>,
    /// The binding request.
    pub request: Option<BindingRequest>,
}

/// e-Signet's wallet-binding request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingRequest {
    /// The user's id (UIN/VID); must be the subject the ID-provider token names.
    pub individual_id: Option<String>,
    /// What the wallet will authenticate with: `WLA` (wallet local authentication).
    pub auth_factor_type: Option<String>,
    /// `jwt`.
    pub format: Option<String>,
    /// The proofs of identity.
    #[serde(default)]
    pub challenge_list: Vec<Challenge>,
    /// The key to bind, a public JWK.
    pub public_key: Option<serde_json::Value>,
    /// A JWS by that key over `individualId`, `partnerId`, `requestTime` and `nonce`.
    pub key_proof: Option<String>,
}

/// One proof of identity.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// `IDT`: an ID-provider token.
    pub auth_factor_type: Option<String>,
    /// The token.
    pub challenge: Option<String>,
    /// `jwt`.
    pub format: Option<String>,
}

/// The `errorCode`s of e-Signet's wallet-binding answer (its OpenAPI enumerates exactly these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingCode {
    /// The envelope is unusable (request time, missing parts), or the binding could not
    /// be stored.
    KeyBindingFailed,
    /// The key is not a usable public JWK.
    InvalidPublicKey,
    /// The challenge list, or the individual it proves, is not acceptable.
    InvalidAuthChallenge,
    /// The key is certified for another person.
    DuplicatePublicKey,
    /// `format` is not `jwt`.
    InvalidAuthFactorTypeFormat,
    /// `authFactorType` is not `WLA`.
    InvalidAuthFactorType,
    /// The ID-provider token was not accepted.
    InvalidChallenge,
    /// The challenge is empty or too long.
    InvalidChallengeLength,
    /// The challenge's format is not `jwt`.
    InvalidChallengeFormat,
}

impl BindingCode {
    /// Every code.
    pub const ALL: [BindingCode; 9] = [
        Self::KeyBindingFailed,
        Self::InvalidPublicKey,
        Self::InvalidAuthChallenge,
        Self::DuplicatePublicKey,
        Self::InvalidAuthFactorTypeFormat,
        Self::InvalidAuthFactorType,
        Self::InvalidChallenge,
        Self::InvalidChallengeLength,
        Self::InvalidChallengeFormat,
    ];

    /// The code as e-Signet writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyBindingFailed => "key_binding_failed",
            Self::InvalidPublicKey => "invalid_public_key",
            Self::InvalidAuthChallenge => "invalid_auth_challenge",
            Self::DuplicatePublicKey => "duplicate_public_key",
            Self::InvalidAuthFactorTypeFormat => "invalid_auth_factor_type_format",
            Self::InvalidAuthFactorType => "invalid_auth_factor_type",
            Self::InvalidChallenge => "invalid_challenge",
            Self::InvalidChallengeLength => "invalid_challenge_length",
            Self::InvalidChallengeFormat => "invalid_challenge_format",
        }
    }
}

/// A refusal, with e-Signet's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct BindingError {
    /// e-Signet's `errorCode`.
    pub code: BindingCode,
    /// What went wrong and what to do.
    pub message: String,
}

impl BindingError {
    /// A refusal with `code`.
    pub fn new(code: BindingCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// What a well-formed envelope yields: the individual, the ID-provider token to check, the key.
#[derive(Debug)]
pub struct Checked {
    /// `individualId`.
    pub individual_id: String,
    /// The `IDT` challenge.
    pub id_token: String,
    /// The key to certify.
    pub key: SubjectPublicKeyInfoOwned,
}

/// Check everything in the envelope that needs no one else: request time, auth factor, the
/// challenge's form, the key.
///
/// # Errors
/// The first [`BindingError`].
pub fn check_envelope(envelope: Envelope, partner_id: &str, now: SystemTime) -> Result<Checked, BindingError> {
    let invalid = |m: &str| BindingError::new(BindingCode::KeyBindingFailed, m);
    let time = envelope.request_time.ok_or_else(|| invalid("requestTime is required"))?;
    let at = parse_time(&time).ok_or_else(|| invalid("requestTime is not an ISO 8601 UTC time"))?;
    let skew = at.duration_since(now).or_else(|_| now.duration_since(at)).unwrap_or_default();
    if skew > REQUEST_TIME_SKEW {
        return Err(invalid("requestTime is more than two minutes from esignd's clock"));
    }
    let request = envelope.request.ok_or_else(|| invalid("request is required"))?;
    let individual_id = request
        .individual_id
        .filter(|id| !id.is_empty() && id.len() <= 256)
        .ok_or_else(|| BindingError::new(BindingCode::KeyBindingFailed, "individualId is required"))?;
    if request.auth_factor_type.as_deref() != Some("WLA") {
        return Err(BindingError::new(BindingCode::InvalidAuthFactorType, "authFactorType must be WLA"));
    }
    if request.format.as_deref() != Some("jwt") {
        return Err(BindingError::new(BindingCode::InvalidAuthFactorTypeFormat, "format must be jwt"));
    }
    let [challenge] = request.challenge_list.as_slice() else {
        return Err(BindingError::new(BindingCode::InvalidAuthChallenge, "send exactly one challenge, of type IDT"));
    };
    if challenge.auth_factor_type.as_deref() != Some("IDT") {
        return Err(BindingError::new(
            BindingCode::InvalidAuthChallenge,
            "the only supported challenge is IDT (an ID-provider token)",
        ));
    }
    if challenge.format.as_deref() != Some("jwt") {
        return Err(BindingError::new(BindingCode::InvalidChallengeFormat, "an IDT challenge has format jwt"));
    }
    let id_token = challenge.challenge.clone().unwrap_or_default();
    if id_token.is_empty() || id_token.len() > 16 * 1024 {
        return Err(BindingError::new(
            BindingCode::InvalidChallengeLength,
            "the challenge is empty or longer than 16 KiB",
        ));
    }
    let jwk =
        request.public_key.ok_or_else(|| BindingError::new(BindingCode::InvalidPublicKey, "publicKey is required"))?;
    let key = public_key(&jwk)?;
    let proven =
        Possession { individual_id: &individual_id, partner_id, request_time: &time, nonce: &nonce(&id_token) };
    proven.check(request.key_proof.as_deref(), &jwk)?;
    Ok(Checked { individual_id, id_token, key })
}

/// What the key's proof of possession must say.
#[derive(Debug, PartialEq, Eq)]
pub struct Possession<'a> {
    /// `individualId`.
    pub individual_id: &'a str,
    /// The partner binding it.
    pub partner_id: &'a str,
    /// `requestTime`, as sent.
    pub request_time: &'a str,
    /// The IDT's `jti`, or base64url SHA-256 of the IDT.
    pub nonce: &'a str,
}

impl Possession<'_> {
    /// The claims a proof carries.
    pub fn claims(&self) -> serde_json::Value {
        serde_json::json!({
            "individualId": self.individual_id, "partnerId": self.partner_id,
            "requestTime": self.request_time, "nonce": self.nonce,
        })
    }

    /// `proof` is a JWS by `jwk` saying exactly this.
    fn check(&self, proof: Option<&str>, jwk: &serde_json::Value) -> Result<(), BindingError> {
        let refuse = |m: String| BindingError::new(BindingCode::KeyBindingFailed, m);
        let proof = proof.ok_or_else(|| {
            refuse("keyProof is required: a JWS by the key being bound over individualId, partnerId, requestTime and nonce (the IDT's jti)".into())
        })?;
        let not_by_the_key =
            |e: crate::jose::Error| refuse(format!("keyProof is not a JWS by the key being bound: {e}"));
        let key: Jwk = serde_json::from_value(jwk.clone()).map_err(|e| refuse(e.to_string()))?;
        let unverified = jws::decode(proof).map_err(not_by_the_key)?;
        // The key is the one in this request, whatever key id either names.
        let keys = JwkSet { keys: vec![Jwk { kid: unverified.header.kid.clone(), ..key }] };
        let payload = unverified.verify(&keys).map_err(not_by_the_key)?;
        let said: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
        let expected = self.claims();
        let fields = ["individualId", "partnerId", "requestTime", "nonce"];
        if let Some(field) = fields.iter().find(|field| said.get(**field) != expected.get(**field)) {
            return Err(refuse(format!("keyProof's {field} is not this request's")));
        }
        Ok(())
    }
}

/// The nonce a key proof carries for the IDT `id_token`: its `jti`, or base64url SHA-256 of it.
pub fn nonce(id_token: &str) -> String {
    let jti = id_token
        .split('.')
        .nth(1)
        .and_then(|payload| crate::jose::unb64(payload, "IDT").ok())
        .and_then(|payload| serde_json::from_slice::<serde_json::Value>(&payload).ok())
        .and_then(|claims| claims.get("jti").and_then(|jti| jti.as_str()).map(str::to_owned));
    jti.unwrap_or_else(|| b64(&crate::hsm::HashAlgorithm::Sha256.digest(id_token.as_bytes())))
}

/// The SPKI of a public JWK esignd can certify.
fn public_key(jwk: &serde_json::Value) -> Result<SubjectPublicKeyInfoOwned, BindingError> {
    let refuse = |m: String| BindingError::new(BindingCode::InvalidPublicKey, m);
    if ["d", "p", "q", "dp", "dq", "qi"].iter().any(|private| jwk.get(private).is_some()) {
        return Err(refuse("publicKey carries private key members; send the public key only".into()));
    }
    let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|e| refuse(format!("publicKey is not a JWK: {e}")))?;
    let key = jwk.to_spki().map_err(|e| refuse(format!("publicKey: {e}; use EC P-256/P-384 or RSA ≥ 2048")))?;
    check_key(&key).map_err(|e| refuse(e.to_string()))?;
    Ok(key)
}

/// The walletUserId of `subject` bound through `partner_id`, under `salt`.
pub fn wallet_user_id(salt: &[u8], partner_id: &str, subject: &str) -> String {
    let mut input = salt.to_vec();
    input.extend_from_slice(partner_id.as_bytes());
    input.push(0);
    input.extend_from_slice(subject.as_bytes());
    b64(&crate::hsm::HashAlgorithm::Sha256.digest(&input))
}

/// An ISO 8601 UTC time (`2023-09-22T08:01:15.000Z`, fractions optional).
fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: der::DateTime = format!("{seconds}Z").parse().ok()?;
    let millis: u64 = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(3).collect();
        if !fraction.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        format!("{digits:0<3}").parse().ok()?
    };
    Some(whole.to_system_time() + Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(time: &str, challenge: serde_json::Value, key: serde_json::Value) -> Envelope {
        let nonce = nonce(challenge["challenge"].as_str().unwrap_or_default());
        let proof = key_proof(
            5,
            &Possession { individual_id: "jane", partner_id: "mimoto", request_time: time, nonce: &nonce },
        );
        with_proof(time, challenge, key, Some(&proof))
    }

    fn with_proof(time: &str, challenge: serde_json::Value, key: serde_json::Value, proof: Option<&str>) -> Envelope {
        serde_json::from_value(serde_json::json!({
            "requestTime": time,
            "request": {
                "individualId": "jane", "authFactorType": "WLA", "format": "jwt",
                "challengeList": [challenge], "publicKey": key, "keyProof": proof,
            }
        }))
        .unwrap()
    }

    /// A proof by the P-256 key whose scalar is `seed` repeated.
    fn key_proof(seed: u8, said: &Possession<'_>) -> String {
        use p256::ecdsa::signature::Signer as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let input = format!("{}.{}", b64(br#"{"alg":"ES256"}"#), b64(said.claims().to_string().as_bytes()));
        let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature.to_bytes()))
    }

    fn jwk() -> serde_json::Value {
        let key = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let spki = SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).unwrap();
        serde_json::to_value(Jwk::from_spki(&spki, "ES256").unwrap()).unwrap()
    }

    fn idt() -> serde_json::Value {
        serde_json::json!({ "authFactorType": "IDT", "challenge": "a.b.c", "format": "jwt" })
    }

    #[test]
    fn envelopes_are_checked_in_order_with_esignets_codes() {
        let now = parse_time("2026-11-23T10:00:00.000Z").unwrap();
        assert!(check_envelope(envelope("2026-11-23T10:01:59Z", idt(), jwk()), "mimoto", now).is_ok());
        let code = |e: Envelope| check_envelope(e, "mimoto", now).unwrap_err().code.as_str();
        assert_eq!(code(envelope("2026-11-23T10:02:01Z", idt(), jwk())), "key_binding_failed");
        assert_eq!(code(envelope("2026-11-23T09:57:59.5Z", idt(), jwk())), "key_binding_failed");
        assert_eq!(code(envelope("yesterday", idt(), jwk())), "key_binding_failed");
        let otp = serde_json::json!({ "authFactorType": "OTP", "challenge": "111111", "format": "alpha-numeric" });
        assert_eq!(code(envelope("2026-11-23T10:00:00Z", otp, jwk())), "invalid_auth_challenge");
        let wrong_format = serde_json::json!({ "authFactorType": "IDT", "challenge": "a.b.c", "format": "text" });
        assert_eq!(code(envelope("2026-11-23T10:00:00Z", wrong_format, jwk())), "invalid_challenge_format");
        let empty = serde_json::json!({ "authFactorType": "IDT", "challenge": "", "format": "jwt" });
        assert_eq!(code(envelope("2026-11-23T10:00:00Z", empty, jwk())), "invalid_challenge_length");
        let mut private = jwk();
        private["d"] = "secret".into();
        assert_eq!(code(envelope("2026-11-23T10:00:00Z", idt(), private)), "invalid_public_key");
        let mut off_curve = jwk();
        off_curve["y"] = b64(&[7u8; 32]).into();
        assert_eq!(code(envelope("2026-11-23T10:00:00Z", idt(), off_curve)), "invalid_public_key");
    }

    #[test]
    fn the_wallet_must_prove_it_holds_the_key_for_this_request() {
        let now = parse_time("2026-11-23T10:00:00.000Z").unwrap();
        let time = "2026-11-23T10:00:00Z";
        let refused = |proof: Option<&str>| {
            let error = check_envelope(with_proof(time, idt(), jwk(), proof), "mimoto", now).unwrap_err();
            (error.code.as_str(), error.message)
        };
        let login = nonce("a.b.c");
        let said = Possession { individual_id: "jane", partner_id: "mimoto", request_time: time, nonce: &login };
        assert!(check_envelope(with_proof(time, idt(), jwk(), Some(&key_proof(5, &said))), "mimoto", now).is_ok());
        let (code, message) = refused(None);
        assert_eq!((code, message.contains("keyProof is required")), ("key_binding_failed", true));
        let (code, message) = refused(Some(&key_proof(6, &said)));
        assert_eq!((code, message.contains("not a JWS by the key")), ("key_binding_failed", true), "{message}");
        for (field, other) in [
            ("individualId", Possession { individual_id: "john", ..said }),
            ("partnerId", Possession { partner_id: "other-partner", ..said }),
            ("requestTime", Possession { request_time: "2026-11-23T09:59:59Z", ..said }),
            ("nonce", Possession { nonce: "another-login", ..said }),
        ] {
            let (code, message) = refused(Some(&key_proof(5, &other)));
            assert_eq!(code, "key_binding_failed");
            assert!(message.contains(field), "{field}: {message}");
        }
        // The nonce is the IDT's jti when it has one.
        let with_jti = format!("x.{}.y", b64(br#"{"jti":"login-7"}"#));
        assert_eq!(nonce(&with_jti), "login-7");
    }

    #[test]
    fn wallet_user_ids_are_stable_per_person_and_partner() {
        let salt = [1u8; 32];
        let id = wallet_user_id(&salt, "partner-a", "jane");
        assert_eq!(id, wallet_user_id(&salt, "partner-a", "jane"));
        assert_ne!(id, wallet_user_id(&salt, "partner-b", "jane"));
        assert_ne!(id, wallet_user_id(&salt, "partner-a", "john"));
        assert_ne!(id, wallet_user_id(&[2u8; 32], "partner-a", "jane"));
        assert_eq!(id.len(), 43);
    }
}
