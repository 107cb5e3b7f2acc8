//! Device JWTs: a fresh one for every call, signed by the device key, naming its certificate
//! (`x5t#S256`), its pseudonym (`sub`) and esignd's device API (`aud`), valid one minute; and
//! the same form as the device's word for a change of its certificate (`aud` `/v1/cert`,
//! `action`).

use crate::hsm::HashAlgorithm;
use crate::jose::b64;
use crate::jose::jws::Header;
use crate::service::devices::binding::Possession;

use super::DeviceClientError;
use super::key::UnlockedKey;

/// A device JWT for `certificate_der`'s key and `pseudonym`, for esignd at `server`.
///
/// # Errors
/// Signing failures.
pub fn make(
    key: &UnlockedKey,
    certificate_der: &[u8],
    pseudonym: &str,
    server: &str,
) -> Result<String, DeviceClientError> {
    let audience = crate::service::devices::device_jwt::audience(server);
    signed(key, certificate_der, pseudonym, &audience, serde_json::json!({}))
}

/// The device's proof for `action` (`ACTIVATE`, `REVOKE`, `SUSPEND`) on its own certificate, at
/// esignd `server` (`deviceProof` in `PATCH /v1/cert/{certificateId}`).
///
/// # Errors
/// Signing failures.
pub fn change_proof(
    key: &UnlockedKey,
    certificate_der: &[u8],
    pseudonym: &str,
    server: &str,
    action: &str,
) -> Result<String, DeviceClientError> {
    let audience = crate::service::devices::device_jwt::change_audience(server);
    signed(key, certificate_der, pseudonym, &audience, serde_json::json!({ "action": action }))
}

/// The wallet's proof that it holds `key`, for a wallet binding that says `possession`
/// (`keyProof`).
///
/// # Errors
/// Signing failures.
pub fn key_proof(key: &UnlockedKey, possession: &Possession<'_>) -> Result<String, DeviceClientError> {
    let (alg, _) = key.jws();
    let header = Header { alg: alg.to_owned(), typ: Some("JWT".into()), ..Default::default() };
    compact(key, &header, &possession.claims())
}

fn compact(key: &UnlockedKey, header: &Header, claims: &serde_json::Value) -> Result<String, DeviceClientError> {
    let header = serde_json::to_vec(header).map_err(|e| DeviceClientError::Key(e.to_string()))?;
    let input = format!("{}.{}", b64(&header), b64(claims.to_string().as_bytes()));
    let signature = key.sign_jws(input.as_bytes())?;
    Ok(format!("{input}.{}", b64(&signature)))
}

fn signed(
    key: &UnlockedKey,
    certificate_der: &[u8],
    pseudonym: &str,
    audience: &str,
    extra: serde_json::Value,
) -> Result<String, DeviceClientError> {
    let (alg, _) = key.jws();
    let header = Header {
        alg: alg.to_owned(),
        typ: Some("JWT".into()),
        x5t_s256: Some(b64(&HashAlgorithm::Sha256.digest(certificate_der))),
        ..Default::default()
    };
    let now = crate::jose::claims::now();
    let mut claims = serde_json::json!({
        "sub": pseudonym,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": crate::ids::random_hex(16),
    });
    for (name, value) in extra.as_object().into_iter().flatten() {
        claims[name] = value.clone();
    }
    compact(key, &header, &claims)
}
