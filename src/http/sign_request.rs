//! The signing request fields shared by `POST /v1/sign/onetime`, `POST /v1/sessions` and the
//! GovStack query form of `/sign/interactive`: `format`, `hash`, `hashType`,
//! `dataToBeDisplayed`, checked the same way everywhere.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;

use super::error::ApiError;
use crate::hsm::HashAlgorithm;
use crate::vocabulary::{Digest, Format, UnknownFormat};

/// GovStack `SignRequest`. Every member is optional here so that a missing one gets a 422
/// naming it, not a serde message; `requestTimestamp` and unknown members are accepted and
/// ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignRequest {
    pub format: Option<String>,
    pub hash: Option<String>,
    pub hash_type: Option<String>,
    pub data_to_be_displayed: Option<String>,
}

/// The validated parts of a sign request.
pub struct Parsed {
    pub format: Format,
    pub digest: Digest,
}

/// Check a SignRequest's format, hash type and hash.
///
/// # Errors
/// 422 for a missing or unsupported member, 400 for a malformed or wrong-length hash.
pub fn parse(request: &SignRequest) -> Result<Parsed, ApiError> {
    let format: Format = required(&request.format, "format")?
        .parse()
        .map_err(|e: UnknownFormat| ApiError::unprocessable(e.to_string()))?;
    let hash = HashAlgorithm::from_str(required(&request.hash_type, "hashType")?)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let encoded = required(&request.hash, "hash")?;
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .or_else(|_| URL_SAFE.decode(encoded))
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .map_err(|_| ApiError::bad_request("hash is not valid base64 (or base64url)"))?;
    let digest = Digest::new(hash, bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if request.data_to_be_displayed.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(ApiError::bad_request("dataToBeDisplayed is longer than 1000 characters"));
    }
    Ok(Parsed { format, digest })
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| ApiError::unprocessable(format!("{name} is required")))
}
