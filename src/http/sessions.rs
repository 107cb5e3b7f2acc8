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
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::body::json;
use super::call::Call;
use super::headers::{api_key, client_certificate, credential, payment_token};
use super::response::{self, Body, json_with};
use super::sign_request::{SignRequestBody, decode};
use crate::service::{Credential, Lang, NewSession, Redemption, RequestError, ServiceError, rfc3339};

const MAX_BODY: usize = 32 * 1024;

/// `POST /v1/sessions` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSession {
    correlation_id: Option<String>,
    #[serde(flatten)]
    sign: SignRequestBody,
    /// Trust1Team's contract calls it `redirectUri`.
    #[serde(alias = "redirectUri")]
    callback_url: Option<String>,
    /// Trust1Team's `webhookUri`.
    #[serde(alias = "webhookUri")]
    webhook_url: Option<String>,
    /// Trust1Team's `useCase` and `means`: stored and echoed, never interpreted.
    use_case: Option<String>,
    means: Option<String>,
    session_time_in_minutes: Option<u64>,
    lang: Option<String>,
    pub_key: Option<String>,
}

/// `POST /v1/sessions`
pub(super) async fn create(call: Call) -> Result<Response<Body>, ServiceError> {
    let (key, certificate) = (api_key(&call.request).map(str::to_owned), client_certificate(&call.request));
    let payment = payment_token(&call.request);
    let body: CreateSession = json(call.request, MAX_BODY).await?;
    let caller = Credential { api_key: key.as_deref(), certificate_sha256: certificate };
    let created = call.service.create_session(caller, payment.as_deref(), new_session(body)?).await?;
    let mut answer = json!({
        "token": created.token, "redirectUrl": created.redirect_url,
        "nonce": created.nonce, "state": created.state,
    });
    if let Some(use_case) = created.use_case {
        answer["useCase"] = use_case.into();
    }
    if let Some(means) = created.means {
        answer["means"] = means.into();
    }
    Ok(json_with(StatusCode::CREATED, &answer))
}

fn new_session(body: CreateSession) -> Result<NewSession, ServiceError> {
    let request = decode(body.sign)?;
    let correlation_id = body
        .correlation_id
        .filter(|c| !c.is_empty() && c.len() <= 128)
        .ok_or_else(|| RequestError::unprocessable("correlationId is required (1 to 128 characters)"))?;
    // Optional: an eService that polls or has a webhook need not take the browser back; the
    // citizen then ends on esignd's own page.
    let callback_url = body.callback_url.unwrap_or_default();
    let minutes = body.session_time_in_minutes.unwrap_or(10);
    if !(1..=60).contains(&minutes) {
        return Err(RequestError::invalid("sessionTimeInMinutes is 1 to 60").into());
    }
    let lang = match body.lang.as_deref() {
        None => Lang::En,
        Some(tag) => Lang::parse(tag).ok_or_else(|| RequestError::invalid("lang is one of en, fr, nl, de"))?,
    };
    let pub_key_pem = body
        .pub_key
        .map(|b64| STANDARD.decode(b64.trim()).ok().and_then(|pem| String::from_utf8(pem).ok()))
        .map(|pem| pem.ok_or_else(|| RequestError::invalid("pubKey is a base64-encoded PEM RSA public key")))
        .transpose()?;
    Ok(NewSession {
        correlation_id,
        digest: request.digest,
        format: request.format,
        data_to_be_displayed: request.data_to_be_displayed.unwrap_or_default(),
        callback_url,
        webhook_url: body.webhook_url,
        lifetime: Duration::from_secs(minutes * 60),
        lang,
        pub_key_pem,
        eservice_nonce: None,
        eservice_state: None,
        unsigned_query: false,
        payment: None,
        use_case: echoed("useCase", body.use_case)?,
        means: echoed("means", body.means)?,
    })
}

/// A value the eService gets back as it sent it: at most 128 printable characters.
fn echoed(name: &str, value: Option<String>) -> Result<Option<String>, ServiceError> {
    match value {
        Some(text) if text.is_empty() || text.chars().count() > 128 || text.chars().any(char::is_control) => {
            Err(RequestError::invalid(format!("{name} is 1 to 128 printable characters")).into())
        }
        other => Ok(other),
    }
}

/// `GET /v1/sessions/{correlationId}`
pub(super) async fn status(call: Call) -> Result<Response<Body>, ServiceError> {
    let session = call.service.session_status(credential(&call.request), &call.param).await?;
    let mut body = json!({
        "correlationId": session.correlation_id,
        "status": session.status.state().as_str(),
        "expiresAt": rfc3339(session.expires()),
    });
    for (name, value) in [("useCase", &session.use_case), ("means", &session.means)] {
        if let Some(value) = value {
            body[name] = value.as_str().into();
        }
    }
    session.status.add_outcome(&mut body);
    Ok(response::json(&body))
}

/// `GET /v1/sign/response/{signatureId}`
pub(super) async fn redeem(call: Call) -> Result<Response<Body>, ServiceError> {
    match call.service.redeem(credential(&call.request), &call.param).await? {
        Redemption::Ready(response) => Ok(response::json(&response)),
        Redemption::Waiting => {
            let waiting = json!({ "status": { "code": "PENDING", "message": "the user's device has not answered yet; ask again shortly" } });
            let mut answer = json_with(StatusCode::ACCEPTED, &waiting);
            answer.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("2"));
            Ok(answer)
        }
    }
}
