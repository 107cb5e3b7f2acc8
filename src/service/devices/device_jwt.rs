//! Device authentication for the device API: every call carries
//! `Authorization: Bearer <JWT>` signed by the device's certified key.
//!
//! - header `x5t#S256`: base64url SHA-256 of the device certificate's DER (its `certificateId`),
//!   `alg` ES256 / ES384 / RS256 / PS256 to fit the key;
//! - claims `sub` = the certificate's pseudonym, `aud` = `{public_url}/v1/device`, `iat`, `exp`
//!   at most five minutes after `iat` (and after now), `jti` unique — remembered until the
//!   token expires, so a replayed token is refused.
//!
//! The signature is checked before anything about the certificate's state is said; a device
//! whose certificate is not ACTIVE (suspended, revoked, expired) is refused after that.
//!
//! The same form, for `aud` = `{public_url}/v1/cert` with an `action` claim, is the device's own
//! word for a state change of its certificate (`deviceProof` in `PATCH /v1/cert/{id}`): the only
//! thing a key whose certificate is not ACTIVE may still sign.

use std::time::{Duration, SystemTime};

use der::Decode;
use x509_cert::Certificate;

use super::status_now;
use crate::jose::claims::{self, Expectations, LEEWAY_SECS};
use crate::jose::jwk::{Jwk, JwkSet};
use crate::jose::{self, jws, unb64};
use crate::service::ServiceError;
use crate::store::Store;
use crate::store::devices::DeviceCertificateRow;
use crate::vocabulary::CertificateStatus;

/// The longest a device JWT may live.
pub const MAX_LIFETIME_SECS: i64 = 300;

/// The `aud` device JWTs carry.
pub fn audience(public_url: &str) -> String {
    format!("{public_url}/v1/device")
}

/// Why a device was not let in.
#[derive(Debug, thiserror::Error)]
pub enum DeviceAuthError {
    /// No bearer token.
    #[error("the device API needs Authorization: Bearer <device JWT>")]
    Missing,
    /// The header does not name a certificate.
    #[error("the device JWT must name its certificate in the x5t#S256 header (base64url SHA-256 of its DER)")]
    NoThumbprint,
    /// No device certificate has this thumbprint.
    #[error("no device certificate has this x5t#S256")]
    UnknownCertificate,
    /// Signature or registered claims.
    #[error("the device JWT is not valid: {0}")]
    Invalid(#[source] jose::Error),
    /// `sub` is not the certificate's pseudonym.
    #[error("the device JWT's sub is not the pseudonym of its certificate")]
    WrongSubject,
    /// `iat` missing, or `exp` too far after `iat` or now.
    #[error("the device JWT must carry iat and expire within {MAX_LIFETIME_SECS} seconds of it")]
    TooLong,
    /// No `jti`.
    #[error("the device JWT must carry a jti")]
    NoJti,
    /// The `jti` was used before.
    #[error("this device JWT was used before; make a new one (new jti) for every call")]
    Replayed,
    /// The certificate is not ACTIVE.
    #[error("the device certificate is {0}; only an ACTIVE certificate can sign")]
    Unfit(CertificateStatus),
}

/// The `aud` of a device's proof for a change of its certificate.
pub fn change_audience(public_url: &str) -> String {
    format!("{public_url}/v1/cert")
}

/// The device certificate whose key signed `token`, after every check above.
///
/// # Errors
/// [`DeviceAuthError`]; store failures.
pub async fn authenticate(
    store: &dyn Store,
    token: &str,
    audience: &str,
    now: SystemTime,
) -> Result<DeviceCertificateRow, ServiceError> {
    let signed = verify(store, token, audience, now).await?;
    let status = status_now(&signed.row, now);
    if status != CertificateStatus::Active {
        return Err(DeviceAuthError::Unfit(status).into());
    }
    signed.spend(store).await?;
    Ok(signed.row)
}

/// A device JWT whose signature and claims check out, its `jti` not spent yet.
pub struct Signed {
    /// The certificate whose key signed it (in whatever state).
    pub row: DeviceCertificateRow,
    /// Its claims.
    pub claims: serde_json::Map<String, serde_json::Value>,
    jti: String,
    exp: i64,
}

impl Signed {
    /// Spend its `jti`: a second use is refused.
    ///
    /// # Errors
    /// [`DeviceAuthError::Replayed`]; store failures.
    pub async fn spend(&self, store: &dyn Store) -> Result<(), ServiceError> {
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs((self.exp + LEEWAY_SECS).max(0) as u64);
        if !store.remember_once("device-jwt", &format!("{}:{}", self.row.certificate_id, self.jti), until).await? {
            return Err(DeviceAuthError::Replayed.into());
        }
        Ok(())
    }
}

/// Check `token`'s signature by the key of the certificate it names, and its claims (not the
/// certificate's state, not its `jti`'s use).
///
/// # Errors
/// [`DeviceAuthError`]; store failures.
pub async fn verify(store: &dyn Store, token: &str, audience: &str, now: SystemTime) -> Result<Signed, ServiceError> {
    let unverified = jws::decode(token).map_err(DeviceAuthError::Invalid)?;
    let thumbprint = unverified.header.x5t_s256.as_deref().ok_or(DeviceAuthError::NoThumbprint)?;
    let digest = unb64(thumbprint, "x5t#S256").ok().filter(|d| d.len() == 32).ok_or(DeviceAuthError::NoThumbprint)?;
    let row = store.device_certificate(&hex::encode(digest)).await?.ok_or(DeviceAuthError::UnknownCertificate)?;
    let certificate = Certificate::from_der(&row.der).map_err(|_| DeviceAuthError::UnknownCertificate)?;
    let jwk = Jwk::from_spki(certificate.tbs_certificate().subject_public_key_info(), &unverified.header.alg)
        .map_err(DeviceAuthError::Invalid)?;
    let payload = unverified.verify(&JwkSet { keys: vec![jwk] }).map_err(DeviceAuthError::Invalid)?;

    let epoch_now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let expect = Expectations { issuer: None, audience: Some(audience), require_exp: true };
    let found = claims::check(&payload, &expect, epoch_now).map_err(DeviceAuthError::Invalid)?;
    if found.get("sub").and_then(|s| s.as_str()) != Some(row.pseudonym.as_str()) {
        return Err(DeviceAuthError::WrongSubject.into());
    }
    let exp = found.get("exp").and_then(serde_json::Value::as_i64).unwrap_or_default();
    let iat = found.get("iat").and_then(serde_json::Value::as_i64).ok_or(DeviceAuthError::TooLong)?;
    if exp - iat > MAX_LIFETIME_SECS || exp > epoch_now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(DeviceAuthError::TooLong.into());
    }
    let jti = found.get("jti").and_then(|j| j.as_str()).filter(|j| !j.is_empty() && j.len() <= 256);
    let jti = jti.ok_or(DeviceAuthError::NoJti)?.to_owned();
    Ok(Signed { row, claims: found, jti, exp })
}
