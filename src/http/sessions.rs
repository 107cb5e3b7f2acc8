//! The eService's session API (header `apikey`):
//! - `POST /v1/sessions` → `201 {token, redirectUrl}`;
//! - `GET /v1/sessions/{correlationId}` → the session's state, for clients without a webhook;
//! - `GET /v1/sign/response/{signatureId}` → the GovStack SignResponse, once; unknown, redeemed,
//!   expired or another client's → 404. A signature still awaited from the user's device →
//!   202 `PENDING` (with `Retry-After`); one that ended without a signature (refused, expired,
//!   device withdrawn) → 410 saying why.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::json::read_json;
use super::response::{Body, json};
use super::sign_request::{SignRequest, parse};
use crate::config::ClientConfig;
use crate::service::sessions::device::Pending;
use crate::service::sessions::{Lang, NewSession, SessionError, clients};

const MAX_BODY: usize = 32 * 1024;

/// `POST /v1/sessions` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSession {
    correlation_id: Option<String>,
    #[serde(flatten)]
    sign: SignRequest,
    callback_url: Option<String>,
    webhook_url: Option<String>,
    session_time_in_minutes: Option<u64>,
    lang: Option<String>,
    pub_key: Option<String>,
}

/// The registered client whose `apikey` header this request carries.
pub(super) fn client<'a>(state: &'a AppState, request: &Request<Incoming>) -> Result<&'a ClientConfig, ApiError> {
    let key = request.headers().get("apikey").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "the apikey header is required"));
    }
    clients::by_api_key(state.sessions.clients(), key)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "the apikey is not valid"))
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::CallbackNotRegistered
            | SessionError::WebhookNotRegistered
            | SessionError::InvalidField { .. } => ApiError::bad_request(e.to_string()),
            SessionError::CorrelationIdTaken(_)
            | SessionError::DeviceUnfit(_)
            | SessionError::DeviceRequestClosed(_)
            | SessionError::AlreadyUsed => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            SessionError::UnknownPseudonym | SessionError::UnknownDeviceRequest | SessionError::UnknownSession => {
                ApiError::not_found(e.to_string())
            }
            SessionError::PseudonymToken(_) => ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()),
            SessionError::DeviceBusy => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            SessionError::Store(e) => e.into(),
            SessionError::Engine(e) => e.into(),
            SessionError::Auth(e) => e.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// `POST /v1/sessions`
pub async fn create(state: &AppState, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let client = client(state, &request)?.clone();
    let body: CreateSession = read_json(request, MAX_BODY).await?;
    let parsed = parse(&body.sign)?;
    let correlation_id = body
        .correlation_id
        .filter(|c| !c.is_empty() && c.len() <= 128)
        .ok_or_else(|| ApiError::unprocessable("correlationId is required (1 to 128 characters)"))?;
    let callback_url = body.callback_url.ok_or_else(|| ApiError::unprocessable("callbackUrl is required"))?;
    let minutes = body.session_time_in_minutes.unwrap_or(10);
    if !(1..=60).contains(&minutes) {
        return Err(ApiError::bad_request("sessionTimeInMinutes is 1 to 60"));
    }
    let lang = match body.lang.as_deref() {
        None => Lang::En,
        Some(tag) => Lang::parse(tag).ok_or_else(|| ApiError::bad_request("lang is one of en, fr, nl, de"))?,
    };
    let pub_key_pem = body
        .pub_key
        .map(|b64| STANDARD.decode(b64.trim()).ok().and_then(|pem| String::from_utf8(pem).ok()))
        .map(|pem| pem.ok_or_else(|| ApiError::bad_request("pubKey is a base64-encoded PEM RSA public key")))
        .transpose()?;
    let new = NewSession {
        correlation_id,
        digest: parsed.digest,
        format: parsed.format,
        data_to_be_displayed: body.sign.data_to_be_displayed.unwrap_or_default(),
        callback_url,
        webhook_url: body.webhook_url,
        lifetime: Duration::from_secs(minutes * 60),
        lang,
        pub_key_pem,
        eservice_nonce: None,
        eservice_state: None,
    };
    let (_, token, redirect_url) = state.sessions.create(&client, new).await?;
    Ok(json(StatusCode::CREATED, &json!({ "token": token, "redirectUrl": redirect_url })))
}

/// `GET /v1/sessions/{correlationId}`
pub async fn status(
    state: &AppState,
    request: &Request<Incoming>,
    correlation_id: &str,
) -> Result<Response<Body>, ApiError> {
    let client = client(state, request)?;
    let session = state
        .sessions
        .status(client, correlation_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no session with this correlationId"))?;
    let mut body = json!({
        "correlationId": session.correlation_id,
        "status": session.status.state().as_str(),
        "expiresAt": crate::vocabulary::rfc3339(session.expires()),
    });
    session.status.add_outcome(&mut body);
    Ok(json(StatusCode::OK, &body))
}

/// `GET /v1/sign/response/{signatureId}`
pub async fn redeem(
    state: &AppState,
    request: &Request<Incoming>,
    signature_id: &str,
) -> Result<Response<Body>, ApiError> {
    let client = client(state, request)?;
    let Some(response) = state.sessions.redeem(client, signature_id).await? else {
        return match state.sessions.device_progress(client, signature_id).await? {
            Some(Pending::Waiting) => {
                let mut answer = json(
                    StatusCode::ACCEPTED,
                    &json!({ "status": { "code": "PENDING", "message": "the user's device has not answered yet; ask again shortly" } }),
                );
                answer.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("2"));
                Ok(answer)
            }
            Some(Pending::Ended { status, reason }) => {
                Err(ApiError::new(StatusCode::GONE, format!("the signing request ended {status}: {reason}")))
            }
            None => Err(ApiError::not_found(
                "no signature with this id for this client (unknown, already redeemed or expired)",
            )),
        };
    };
    let value: serde_json::Value = serde_json::from_str(&response).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "a stored response is damaged").with_detail(e.to_string())
    })?;
    Ok(json(StatusCode::OK, &value))
}
