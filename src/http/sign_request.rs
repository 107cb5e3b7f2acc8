//! The signing request members shared by `POST /v1/sign/onetime`, `POST /v1/sessions`,
//! `POST /v1/sign/pseudonym` and the GovStack query forms: `format`, `hash`, `hashType`,
//! `dataToBeDisplayed`, decoded the same way everywhere into a [`SignRequest`] with a checked
//! digest.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::service::{
    Digest, Format, HashAlgorithm, RequestError, ServiceError, SignRequest, UnknownFormat, display_text,
};

/// GovStack `SignRequest` as sent. Every member is optional here so that a missing one gets a
/// 422 naming it, not a serde message; `requestTimestamp` and unknown members are accepted and
/// ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SignRequestBody {
    pub format: Option<String>,
    pub hash: Option<String>,
    pub hash_type: Option<String>,
    pub data_to_be_displayed: Option<String>,
}

/// Decode a SignRequest: format, hash type, then the hash (base64 or base64url, of the hash
/// type's length), and the text shown (at most 1000 characters, no control or format
/// characters but the newline, NFC).
///
/// # Errors
/// 422 for a missing or unsupported member, 400 for a malformed or wrong-length hash.
pub(super) fn decode(body: SignRequestBody) -> Result<SignRequest, ServiceError> {
    let format: Format = required(&body.format, "format")?
        .parse()
        .map_err(|e: UnknownFormat| RequestError::unprocessable(e.to_string()))?;
    let hash = HashAlgorithm::from_str(required(&body.hash_type, "hashType")?)
        .map_err(|e| RequestError::unprocessable(e.to_string()))?;
    let encoded = required(&body.hash, "hash")?;
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .or_else(|_| URL_SAFE.decode(encoded))
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .map_err(|_| RequestError::invalid("hash is not valid base64 (or base64url)"))?;
    let digest = Digest::new(hash, bytes).map_err(|e| RequestError::invalid(e.to_string()))?;
    let data_to_be_displayed = body
        .data_to_be_displayed
        .as_deref()
        .map(display_text)
        .transpose()
        .map_err(|e| RequestError::invalid(e.to_string()))?;
    Ok(SignRequest { format, digest, data_to_be_displayed })
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, RequestError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| RequestError::unprocessable(format!("{name} is required")))
}
