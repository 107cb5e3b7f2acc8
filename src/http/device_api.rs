//! The device API (esignd's own; `docs/device-api.yaml`): how the user's own signing device —
//! a wallet app, or the reference `esign-device` — fetches what it is asked to sign and answers.
//! Every call carries `Authorization: Bearer <device JWT>`.
//!
//! - `GET /v1/device/requests?wait=N` → `{requests: [...]}`: the pending requests for this
//!   device, waiting up to N seconds (0–30, default 25) for one to arrive;
//! - `POST /v1/device/requests/{requestId}` with `{signature}` (base64 over the DER signed
//!   attributes) or `{refused: true}` → `{status: "signed" | "refused"}`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hyper::Response;
use serde::Deserialize;
use serde_json::json;

use super::body::json;
use super::call::Call;
use super::form;
use super::headers::bearer;
use super::response::{self, Body};
use crate::service::{DeviceAnswer, RequestError, ServiceError, rfc3339};

/// The longest a poll waits.
const MAX_WAIT_SECS: u64 = 30;

/// `GET /v1/device/requests`
pub(super) async fn requests(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = form::parse(call.request.uri().query().unwrap_or(""));
    let wait = match form::get(&query, "wait") {
        None => 25,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= MAX_WAIT_SECS)
            .ok_or_else(|| RequestError::invalid(format!("wait is 0 to {MAX_WAIT_SECS} seconds")))?,
    };
    let token = bearer(&call.request);
    let pending = call.service.device_requests(token.as_deref(), Duration::from_secs(wait)).await?;
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
                "signatureAlgorithm": r.signature_algorithm,
                "expiresAt": rfc3339(r.expires),
            })
        })
        .collect();
    Ok(response::json(&json!({ "requests": listed })))
}

/// `POST /v1/device/requests/{requestId}` body.
#[derive(Debug, Deserialize)]
struct AnswerBody {
    signature: Option<String>,
    #[serde(default)]
    refused: bool,
}

/// `POST /v1/device/requests/{requestId}`
pub(super) async fn answer(call: Call) -> Result<Response<Body>, ServiceError> {
    let token = bearer(&call.request);
    let body: AnswerBody = json(call.request, 32 * 1024).await?;
    let answer = match (body.signature, body.refused) {
        (Some(_), true) => return Err(RequestError::unprocessable("send either signature or refused, not both").into()),
        (None, false) => {
            return Err(RequestError::unprocessable("signature (base64) or refused: true is required").into());
        }
        (None, true) => DeviceAnswer::Refusal,
        (Some(encoded), false) => DeviceAnswer::Signature(
            STANDARD
                .decode(&encoded)
                .or_else(|_| STANDARD_NO_PAD.decode(&encoded))
                .or_else(|_| URL_SAFE_NO_PAD.decode(&encoded))
                .map_err(|_| RequestError::invalid("signature is not valid base64"))?,
        ),
    };
    let status = call.service.device_answer(token.as_deref(), &call.param, answer).await?;
    Ok(response::json(&json!({ "requestId": call.param, "status": status.as_str() })))
}
