//! The device API (esignd's own; `docs/device-api.yaml`): how the user's own signing device —
//! a wallet app, or the reference `esign-device` — fetches what it is asked to sign and answers.
//! Every call carries `Authorization: Bearer <device JWT>` ([`crate::service::devices::device_jwt`]).
//!
//! - `GET /v1/device/requests?wait=N` → `{requests: [...]}`: the pending requests for this
//!   device, waiting up to N seconds (0–30, default 25) for one to arrive;
//! - `POST /v1/device/requests/{requestId}` with `{signature}` (base64 over the DER signed
//!   attributes) or `{refused: true}` → `{status: "signed" | "refused"}`.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use der::Decode;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use x509_cert::Certificate;

use super::AppState;
use super::error::ApiError;
use super::form;
use super::json::read_json;
use super::response::{Body, json};
use crate::service::devices::device_jwt::{DeviceAuthError, audience, authenticate};
use crate::service::sessions::device::DeviceAnswer;
use crate::store::devices::DeviceCertificateRow;

/// The longest a poll waits.
const MAX_WAIT_SECS: u64 = 30;

impl From<DeviceAuthError> for ApiError {
    fn from(e: DeviceAuthError) -> Self {
        match e {
            DeviceAuthError::Unfit(_) => ApiError::new(StatusCode::FORBIDDEN, e.to_string()),
            DeviceAuthError::Store(e) => e.into(),
            _ => ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()),
        }
    }
}

/// The device whose JWT this request carries.
async fn device<B>(state: &AppState, request: &Request<B>) -> Result<DeviceCertificateRow, ApiError> {
    let header = request.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = header
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(DeviceAuthError::Missing)?;
    Ok(authenticate(state.store.as_ref(), token, &audience(&state.public_url), SystemTime::now()).await?)
}

/// `GET /v1/device/requests`
pub async fn requests(state: &AppState, request: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let device = device(state, request).await?;
    let query = form::parse(request.uri().query().unwrap_or(""));
    let wait = match form::get(&query, "wait") {
        None => 25,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= MAX_WAIT_SECS)
            .ok_or_else(|| ApiError::bad_request(format!("wait is 0 to {MAX_WAIT_SECS} seconds")))?,
    };
    let pending = state.sessions.device_requests(&device, Duration::from_secs(wait)).await?;
    let certificate = Certificate::from_der(&device.der).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "a stored certificate is damaged").with_detail(e.to_string())
    })?;
    let listed: Vec<serde_json::Value> = pending
        .iter()
        .map(|r| {
            json!({
                "requestId": r.request_id,
                "dataToBeDisplayed": r.data_to_be_displayed,
                "format": r.format.name(),
                "hashType": r.digest.hash().name(),
                "hash": STANDARD.encode(r.digest.bytes()),
                "signedAttributes": STANDARD.encode(&r.signed_attributes),
                "signatureAlgorithm": r.algorithm_name(&certificate),
                "expiresAt": crate::vocabulary::rfc3339(r.expires()),
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &json!({ "requests": listed })))
}

/// `POST /v1/device/requests/{requestId}` body.
#[derive(Debug, Deserialize)]
struct Answer {
    signature: Option<String>,
    #[serde(default)]
    refused: bool,
}

/// `POST /v1/device/requests/{requestId}`
pub async fn answer(
    state: &AppState,
    request: Request<Incoming>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let device = device(state, &request).await?;
    let body: Answer = read_json(request, 32 * 1024).await?;
    let answer = match (body.signature, body.refused) {
        (Some(_), true) => return Err(ApiError::unprocessable("send either signature or refused, not both")),
        (None, false) => return Err(ApiError::unprocessable("signature (base64) or refused: true is required")),
        (None, true) => DeviceAnswer::Refusal,
        (Some(encoded), false) => DeviceAnswer::Signature(
            STANDARD
                .decode(&encoded)
                .or_else(|_| STANDARD_NO_PAD.decode(&encoded))
                .or_else(|_| URL_SAFE_NO_PAD.decode(&encoded))
                .map_err(|_| ApiError::bad_request("signature is not valid base64"))?,
        ),
    };
    let status = state.sessions.device_answer(&device, request_id, answer).await?;
    Ok(json(StatusCode::OK, &json!({ "requestId": request_id, "status": status.as_str() })))
}
