//! GovStack pseudonym signing, for eServices (header `apikey`):
//!
//! - `GET /v1/token/pseodonym/{pseudonym}` (and `/v1/token/pseudonym/…`) → `{jwt}`: a pseudonym
//!   token for an enrolled, ACTIVE device, valid five minutes, usable by this eService only;
//! - `POST /v1/sign/pseudonym` with `X-Pseodonym-Token` → `{signatureId, nonce, state}`: the
//!   request is queued for the device; the signature is redeemed at
//!   `GET /v1/sign/response/{signatureId}` (202 while the device has not answered). Without the
//!   token → 302 to `/v1/sign/interactivePseudonym`, where the user types the pseudonym.

use hyper::Response;
use serde::Deserialize;
use serde_json::json;

use super::body::json;
use super::call::Call;
use super::headers::{api_key, client_certificate, credential, payment_token, pseudonym_token};
use super::response::{self, Body, found};
use super::sign_request::{SignRequestBody, decode};
use crate::service::{Credential, PseudonymOutcome, PseudonymSignRequest, RequestError, ServiceError, rfc3339};

const MAX_BODY: usize = 16 * 1024;

/// `POST /v1/sign/pseudonym` body: a SignRequest with `nonce` and `state` (and, for the
/// redirect without a token, optionally `callbackUrl`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PseudonymSignBody {
    #[serde(flatten)]
    sign: SignRequestBody,
    nonce: Option<String>,
    state: Option<String>,
    callback_url: Option<String>,
    request_timestamp: Option<String>,
}

/// `GET /v1/token/pseodonym/{pseudonym}`
pub(super) async fn token(call: Call) -> Result<Response<Body>, ServiceError> {
    if call.param.is_empty() {
        return Err(RequestError::unprocessable("the pseudonym is required in the path").into());
    }
    let jwt = call.service.pseudonym_token(credential(&call.request), &call.param).await?;
    Ok(response::json(&json!({ "jwt": jwt })))
}

/// `POST /v1/sign/pseudonym`
pub(super) async fn sign(call: Call) -> Result<Response<Body>, ServiceError> {
    let (key, certificate) = (api_key(&call.request).map(str::to_owned), client_certificate(&call.request));
    let token = pseudonym_token(&call.request);
    let payment = payment_token(&call.request);
    let body: PseudonymSignBody = json(call.request, MAX_BODY).await?;
    let request = PseudonymSignRequest {
        sign: decode(body.sign)?,
        nonce: body.nonce,
        state: body.state,
        callback_url: body.callback_url,
        request_timestamp: body.request_timestamp,
    };
    let (nonce, state) = (request.nonce.clone(), request.state.clone());
    let caller = Credential { api_key: key.as_deref(), certificate_sha256: certificate };
    match call.service.sign_by_pseudonym(caller, token.as_deref(), payment.as_deref(), request).await? {
        PseudonymOutcome::ToPseudonymPage(location) => Ok(found(&location)),
        PseudonymOutcome::Queued { signature_id } => {
            let mut answer = json!({
                "signatureId": signature_id,
                "responseTimestamp": rfc3339(std::time::SystemTime::now()),
                "status": { "code": "OK", "message": "the request waits for the user's device; redeem it at /v1/sign/response/{signatureId}" },
            });
            if let Some(nonce) = nonce {
                answer["nonce"] = nonce.into();
            }
            if let Some(state) = state {
                answer["state"] = state.into();
            }
            Ok(response::json(&answer))
        }
    }
}
