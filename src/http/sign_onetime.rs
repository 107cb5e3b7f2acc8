//! `POST /v1/sign/onetime` (GovStack): a one-time signature for a user the eService has already
//! authenticated at the ID provider. The request is checked completely — token present, body
//! well-formed, digest of the right length, format and hash type supported, token valid,
//! payment spent — before the HSM is touched; the signature's certificate is published before
//! the answer goes out.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use der::EncodePem;
use der::pem::LineEnding;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::json::read_json;
use super::response::{Body, json};
use crate::cms::Profile;
use crate::hsm::{HashAlgorithm, KeyStore};
use crate::service::{OneTimeRequest, SignatureRecord};
use crate::store::Store;

/// Largest `SignRequest` body.
const MAX_BODY: usize = 16 * 1024;

/// GovStack `SignRequest`. Every member is optional here so that a missing one gets a 422
/// naming it, not a serde message; `requestTimestamp` and unknown members are accepted and
/// ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SignRequest {
    pub format: Option<String>,
    pub hash: Option<String>,
    pub hash_type: Option<String>,
    pub data_to_be_displayed: Option<String>,
}

/// The validated parts of a sign request.
pub(super) struct Parsed {
    pub profile: Profile,
    pub hash: HashAlgorithm,
    pub digest: Vec<u8>,
}

/// Check a SignRequest's format, hash type and hash.
///
/// # Errors
/// 422 for a missing or unsupported member, 400 for a malformed or wrong-length hash.
pub(super) fn parse(request: &SignRequest) -> Result<Parsed, ApiError> {
    let format = required(&request.format, "format")?;
    let profile = if format.eq_ignore_ascii_case("CAdES") {
        Profile::Cades
    } else if format.eq_ignore_ascii_case("PAdES") {
        Profile::Pades
    } else {
        return Err(ApiError::unprocessable(format!(
            "format {format:?} is not supported; esignd produces CAdES and PAdES"
        )));
    };
    let hash = HashAlgorithm::from_str(required(&request.hash_type, "hashType")?)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let encoded = required(&request.hash, "hash")?;
    let digest = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| ApiError::bad_request("hash is not valid base64"))?;
    if digest.len() != hash.output_len() {
        return Err(ApiError::bad_request(format!(
            "hash is {} bytes, but {} digests are {}",
            digest.len(),
            request.hash_type.as_deref().unwrap_or_default(),
            hash.output_len()
        )));
    }
    if request.data_to_be_displayed.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(ApiError::bad_request("dataToBeDisplayed is longer than 1000 characters"));
    }
    Ok(Parsed { profile, hash, digest })
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| ApiError::unprocessable(format!("{name} is required")))
}

/// Answer `POST /v1/sign/onetime`.
pub async fn handle<K: KeyStore, S: Store>(
    state: &AppState<K, S>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let token = header("x-govstack-authenticationtoken")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "X-GovStack-AuthenticationToken is required"))?;
    let payment = header("x-govstack-paymenttoken");
    let body: SignRequest = read_json(request, MAX_BODY).await?;
    let parsed = parse(&body)?;
    let identity = state.identity.identify(&token).await?;
    state.payment.check(state.store.as_ref(), payment.as_deref()).await?;

    let record = state
        .service
        .sign_one_time(OneTimeRequest { identity, digest: parsed.digest, hash: parsed.hash, profile: parsed.profile })
        .await?;
    publish(state, &record).await?;
    Ok(json(StatusCode::OK, &sign_response(&record)?))
}

/// Publish the one-time certificate (`GET /v1/certs/{serial}`).
pub(super) async fn publish<K: KeyStore, S: Store>(
    state: &AppState<K, S>,
    record: &SignatureRecord,
) -> Result<(), ApiError> {
    let der = der::Encode::to_der(&record.leaf)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed").with_detail(e.to_string()))?;
    state.store.publish_certificate(&record.leaf_serial, &der, record.not_after).await?;
    Ok(())
}

/// GovStack `SignResponse`.
pub(super) fn sign_response(record: &SignatureRecord) -> Result<serde_json::Value, ApiError> {
    let pem = record
        .leaf
        .to_pem(LineEnding::LF)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed").with_detail(e.to_string()))?;
    Ok(json!({
        "signature": STANDARD.encode(&record.cms),
        "certificate": pem,
        "signatureTimestamp": STANDARD.encode(&record.timestamp_token),
        "responseTimestamp": rfc3339(std::time::SystemTime::now()),
        "status": { "code": "OK", "message": "Signature generated successfully" },
    }))
}

/// A time as RFC 3339 UTC to the second.
pub(super) fn rfc3339(at: std::time::SystemTime) -> String {
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    der::DateTime::from_unix_duration(std::time::Duration::from_secs(since.as_secs()))
        .map(|t| t.to_string())
        .unwrap_or_default()
}
