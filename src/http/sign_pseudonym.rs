//! GovStack pseudonym signing, for eServices (header `apikey`):
//!
//! - `GET /v1/token/pseodonym/{pseudonym}` (and `/v1/token/pseudonym/…`) → `{jwt}`: a pseudonym
//!   token for an enrolled, ACTIVE device, valid five minutes, usable by this eService only;
//! - `POST /v1/sign/pseudonym` with `X-Pseodonym-Token` → `{signatureId, nonce, state}`: the
//!   request is queued for the device; the signature is redeemed at
//!   `GET /v1/sign/response/{signatureId}` (202 while the device has not answered). Without the
//!   token → 302 to `/v1/sign/interactivePseudonym`, where the user types the pseudonym.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, LOCATION};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::govstack_headers::pseudonym_token;
use super::json::read_json;
use super::response::{Body, json};
use super::sessions::client;
use super::sign_request::{SignRequest, parse};
use crate::identity::rp::form_encode;
use crate::service::sessions::clients;
use crate::service::sessions::device::PseudonymRequest;

const MAX_BODY: usize = 16 * 1024;

/// `POST /v1/sign/pseudonym` body: a SignRequest with `nonce` and `state` (and, for the
/// redirect without a token, optionally `callbackUrl`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PseudonymSignRequest {
    #[serde(flatten)]
    sign: SignRequest,
    nonce: Option<String>,
    state: Option<String>,
    callback_url: Option<String>,
    request_timestamp: Option<String>,
}

/// `GET /v1/token/pseodonym/{pseudonym}`
pub async fn token(state: &AppState, request: &Request<Incoming>, pseudonym: &str) -> Result<Response<Body>, ApiError> {
    let client = client(state, request)?;
    if pseudonym.is_empty() {
        return Err(ApiError::unprocessable("the pseudonym is required in the path"));
    }
    let jwt = state.sessions.pseudonym_token(client, pseudonym).await?;
    Ok(json(StatusCode::OK, &json!({ "jwt": jwt })))
}

/// `POST /v1/sign/pseudonym`
pub async fn sign(state: &AppState, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let client = client(state, &request)?.clone();
    let token = pseudonym_token(&request);
    let body: PseudonymSignRequest = read_json(request, MAX_BODY).await?;
    let parsed = parse(&body.sign)?;
    for (name, value) in [("nonce", &body.nonce), ("state", &body.state)] {
        if value.as_ref().is_some_and(|v| v.len() > 256) {
            return Err(ApiError::bad_request(format!("{name} is longer than 256 characters")));
        }
    }
    let Some(token) = token else {
        return interactive_redirect(state, &client, &body);
    };
    let pseudonym = state.sessions.check_pseudonym_token(&client, &token)?;
    let (_, signature_id) = state
        .sessions
        .queue_for_pseudonym(
            &client,
            PseudonymRequest {
                pseudonym,
                digest: parsed.digest,
                format: parsed.format,
                data_to_be_displayed: body.sign.data_to_be_displayed.clone().unwrap_or_default(),
                nonce: body.nonce.clone(),
                state: body.state.clone(),
            },
        )
        .await?;
    let mut answer = json!({
        "signatureId": signature_id,
        "responseTimestamp": crate::vocabulary::rfc3339(std::time::SystemTime::now()),
        "status": { "code": "OK", "message": "the request waits for the user's device; redeem it at /v1/sign/response/{signatureId}" },
    });
    if let Some(nonce) = &body.nonce {
        answer["nonce"] = nonce.as_str().into();
    }
    if let Some(s) = &body.state {
        answer["state"] = s.as_str().into();
    }
    Ok(json(StatusCode::OK, &answer))
}

/// 302 to the GovStack pseudonym page with the request in its query. The callback is the
/// body's `callbackUrl` (registered) or the client's only registered callback URL.
fn interactive_redirect(
    state: &AppState,
    client: &crate::config::ClientConfig,
    body: &PseudonymSignRequest,
) -> Result<Response<Body>, ApiError> {
    let callback = match &body.callback_url {
        Some(url) if clients::callback_allowed(client, url) => url.clone(),
        Some(_) => return Err(ApiError::bad_request("callbackUrl is not registered for this client")),
        None => match client.callback_urls.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(ApiError::unprocessable(
                    "without X-Pseodonym-Token the user is sent to the pseudonym page: give callbackUrl (one of the client's registered URLs)",
                ));
            }
        },
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let display = URL_SAFE_NO_PAD.encode(text(&body.sign.data_to_be_displayed));
    let hash = body.sign.hash.as_deref().unwrap_or_default().replace('+', "-").replace('/', "_").replace('=', "");
    let (format, hash_type) = (text(&body.sign.format), text(&body.sign.hash_type));
    let (timestamp, nonce, eservice_state) = (text(&body.request_timestamp), text(&body.nonce), text(&body.state));
    let mut pairs = vec![
        ("client_id", client.id.as_str()),
        ("format", format.as_str()),
        ("hash", hash.as_str()),
        ("hashType", hash_type.as_str()),
        ("dataToBeDisplayed", display.as_str()),
        ("callbackUrl", callback.as_str()),
    ];
    for (name, value) in [("requestTimestamp", &timestamp), ("nonce", &nonce), ("state", &eservice_state)] {
        if !value.is_empty() {
            pairs.push((name, value.as_str()));
        }
    }
    let location = format!("{}/v1/sign/interactivePseudonym?{}", state.public_url, form_encode(&pairs));
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::FOUND;
    response.headers_mut().insert(LOCATION, location.parse().map_err(|_| ApiError::bad_request("unusable values"))?);
    response.headers_mut().insert(CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    Ok(response)
}
