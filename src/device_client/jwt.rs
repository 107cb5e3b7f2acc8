//! Device JWTs: a fresh one for every call, signed by the device key, naming its certificate
//! (`x5t#S256`), its pseudonym (`sub`) and esignd's device API (`aud`), valid one minute.

use crate::hsm::HashAlgorithm;
use crate::jose::b64;
use crate::jose::jws::Header;

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
    let (alg, _) = key.jws();
    let header = Header {
        alg: alg.to_owned(),
        typ: Some("JWT".into()),
        x5t_s256: Some(b64(&HashAlgorithm::Sha256.digest(certificate_der))),
        ..Default::default()
    };
    let now = crate::jose::claims::now();
    let claims = serde_json::json!({
        "sub": pseudonym,
        "aud": crate::service::devices::device_jwt::audience(server),
        "iat": now,
        "exp": now + 60,
        "jti": crate::ids::random_hex(16),
    });
    let header = serde_json::to_vec(&header).map_err(|e| DeviceClientError::Key(e.to_string()))?;
    let input = format!("{}.{}", b64(&header), b64(claims.to_string().as_bytes()));
    let signature = key.sign_jws(input.as_bytes())?;
    Ok(format!("{input}.{}", b64(&signature)))
}
