//! The citizen's browser: `GET /sign/interactive` (by session token, or the GovStack query form
//! for registered clients), `POST /sign/interactive/start` and `/cancel`,
//! `GET /sign/oidc/callback` from the ID provider, and the user's own device:
//! `POST /sign/interactive/device` (a pseudonym), `GET /sign/interactive/device` (waiting for
//! the device) and the GovStack `GET /v1/sign/interactivePseudonym` query form. Outcomes are redirects; whatever cannot go
//! back to a registered callback is an error page — never a redirect to a URL the eService did
//! not register.

use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::AppState;
use super::body::{has_content_type, read_limited};
use super::form;
use super::pages;
use super::response::{Body, see_other};
use super::sign_request::{SignRequest, parse};
use crate::service::sessions::{Lang, NewSession, SessionError, clients};

/// The page or redirect for a session error in the browser.
fn browser_error(e: SessionError) -> Response<Body> {
    let status = match &e {
        SessionError::Expired { redirect } => return see_other(redirect),
        SessionError::AlreadyUsed => StatusCode::CONFLICT,
        SessionError::UnknownSession | SessionError::UnknownPseudonym => StatusCode::NOT_FOUND,
        SessionError::DeviceUnfit(_) => StatusCode::CONFLICT,
        SessionError::Store(_) | SessionError::Engine(_) | SessionError::Auth(_) => {
            tracing::error!(error = %e, "signing page failed");
            return pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                Lang::En,
                "The signing service is unavailable right now. Please try again in a moment.",
            );
        }
        _ => StatusCode::BAD_REQUEST,
    };
    tracing::warn!(error = %e, "signing page refused");
    pages::error(status, Lang::En, &e.to_string())
}

/// `GET /sign/interactive` (`device` in the query puts the pseudonym form first)
pub async fn page(state: &AppState, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    if let Some(token) = form::get(&query, "token") {
        return match state.sessions.open(token).await {
            Ok(session) => pages::signing(&session, token, form::get(&query, "device").is_some(), None),
            Err(e) => browser_error(e),
        };
    }
    match govstack_session(state, &query).await {
        Ok(redirect) => see_other(&redirect),
        Err(e) => browser_error(e),
    }
}

/// The GovStack query form (`client_id, hash, hashType, format, callbackUrl, nonce, state`):
/// a session for a registered client, then the same page by token.
async fn govstack_session(state: &AppState, query: &[(String, String)]) -> Result<String, SessionError> {
    let invalid = |field, reason| SessionError::InvalidField { field, reason };
    let client_id = form::get(query, "client_id")
        .ok_or(invalid("client_id", "a token or the GovStack query parameters are required"))?;
    let client = clients::by_id(state.sessions.clients(), client_id).ok_or(SessionError::UnknownClient)?.clone();
    let display = form::get(query, "dataToBeDisplayed").map(str::to_owned);
    query_session(state, &client, query, display).await
}

/// A session from the GovStack query parameters (`hash, hashType, format, callbackUrl, nonce,
/// state, lang`) for `client`; returns the signing page's URL.
async fn query_session(
    state: &AppState,
    client: &crate::config::ClientConfig,
    query: &[(String, String)],
    data_to_be_displayed: Option<String>,
) -> Result<String, SessionError> {
    let invalid = |field, reason| SessionError::InvalidField { field, reason };
    let request = SignRequest {
        format: form::get(query, "format").map(str::to_owned),
        hash: form::get(query, "hash").map(str::to_owned),
        hash_type: form::get(query, "hashType").map(str::to_owned),
        data_to_be_displayed,
    };
    let parsed = parse(&request)
        .map_err(|_| invalid("hash, hashType or format", "a base64 digest of its hashType, in CAdES or PAdES"))?;
    let new = NewSession {
        correlation_id: crate::ids::random_hex(16),
        digest: parsed.digest,
        format: parsed.format,
        data_to_be_displayed: request.data_to_be_displayed.unwrap_or_default(),
        callback_url: form::get(query, "callbackUrl").unwrap_or_default().to_owned(),
        webhook_url: None,
        lifetime: Duration::from_secs(600),
        lang: form::get(query, "lang").and_then(Lang::parse).unwrap_or(Lang::En),
        pub_key_pem: None,
        eservice_nonce: form::get(query, "nonce").map(str::to_owned),
        eservice_state: form::get(query, "state").map(str::to_owned),
    };
    let (_, _, redirect) = state.sessions.create(client, new).await?;
    Ok(redirect)
}

/// `GET /v1/sign/interactivePseudonym`: the GovStack query form for signing with the user's own
/// device. The eService is named by `client_id`, or else by its registered `callbackUrl`;
/// `hash` and `dataToBeDisplayed` may be base64url as the spec has them. The signing page opens
/// with the pseudonym form first.
pub async fn pseudonym_page(state: &AppState, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let callback = form::get(&query, "callbackUrl").unwrap_or_default();
    let client = match form::get(&query, "client_id") {
        Some(id) => clients::by_id(state.sessions.clients(), id),
        None => {
            let mut registered = state.sessions.clients().iter().filter(|c| clients::callback_allowed(c, callback));
            registered.next().filter(|_| registered.next().is_none())
        }
    };
    let Some(client) = client.cloned() else {
        return browser_error(SessionError::InvalidField {
            field: "client_id or callbackUrl",
            reason: "name a registered eService, or give a callbackUrl registered to exactly one",
        });
    };
    let display = form::get(&query, "dataToBeDisplayed").map(base64url_text);
    match query_session(state, &client, &query, display).await {
        Ok(redirect) => see_other(&format!("{redirect}&device=1")),
        Err(e) => browser_error(e),
    }
}

/// GovStack's base64url `dataToBeDisplayed` decoded when it is base64url of UTF-8 text, else as
/// given.
fn base64url_text(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')))
        .unwrap_or_else(|| value.to_owned())
}

/// `POST /sign/interactive/device`: queue the session for the device behind the pseudonym typed
/// in, then wait for it. An unknown pseudonym or a device that cannot sign shows the page again
/// with the reason.
pub async fn device_start(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let fields = match read_form(request).await {
        Ok(fields) => fields,
        Err(page) => return page,
    };
    let (Some(token), Some(pseudonym)) = (form::get(&fields, "token"), form::get(&fields, "pseudonym")) else {
        return pages::error(StatusCode::BAD_REQUEST, Lang::En, "Use the form on the signing page.");
    };
    match state.sessions.sign_with_device(token, pseudonym).await {
        Ok(_) => see_other(&format!("/sign/interactive/device?token={}", crate::identity::rp::form_component(token))),
        Err(e @ (SessionError::UnknownPseudonym | SessionError::DeviceUnfit(_) | SessionError::DeviceBusy)) => {
            tracing::info!(error = %e, "the pseudonym typed on the signing page did not work");
            let problem = match e {
                SessionError::UnknownPseudonym => pages::DeviceProblem::Unknown,
                SessionError::DeviceUnfit(_) => pages::DeviceProblem::Unfit,
                _ => pages::DeviceProblem::Busy,
            };
            match state.sessions.open(token).await {
                Ok(session) => {
                    let mut page = pages::signing(&session, token, true, Some(problem));
                    *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    page
                }
                Err(e) => browser_error(e),
            }
        }
        Err(e) => browser_error(e),
    }
}

/// `GET /sign/interactive/device?token=`: the waiting page, or on to the eService once the
/// device has answered (or the request ended).
pub async fn device_wait(state: &AppState, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let Some(token) = form::get(&query, "token") else {
        return browser_error(SessionError::UnknownSession);
    };
    match state.sessions.device_page(token).await {
        Ok((_, Some(redirect))) => see_other(&redirect),
        Ok((session, None)) => pages::device_waiting(&session),
        Err(e) => browser_error(e),
    }
}

/// The fields of a signing-page form.
async fn read_form(request: Request<Incoming>) -> Result<Vec<(String, String)>, Response<Body>> {
    if !has_content_type(&request, "application/x-www-form-urlencoded") {
        return Err(pages::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Lang::En, "Use the buttons on the signing page."));
    }
    let body = read_limited(request, 8 * 1024)
        .await
        .map_err(|_| pages::error(StatusCode::PAYLOAD_TOO_LARGE, Lang::En, "The form is too large."))?;
    Ok(form::parse(&String::from_utf8_lossy(&body)))
}

/// The `token` field of a Sign/Cancel form.
async fn form_token(request: Request<Incoming>) -> Result<String, Response<Body>> {
    let fields = read_form(request).await?;
    form::get(&fields, "token")
        .map(str::to_owned)
        .ok_or_else(|| pages::error(StatusCode::BAD_REQUEST, Lang::En, "Use the buttons on the signing page."))
}

/// `POST /sign/interactive/start`: off to the ID provider.
pub async fn start(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let token = match form_token(request).await {
        Ok(token) => token,
        Err(page) => return page,
    };
    match state.sessions.start(&token).await {
        Ok(provider_url) => see_other(&provider_url),
        Err(e) => browser_error(e),
    }
}

/// `POST /sign/interactive/cancel`: back to the eService with `error=cancelled`.
pub async fn cancel(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    let token = match form_token(request).await {
        Ok(token) => token,
        Err(page) => return page,
    };
    match state.sessions.cancel(&token).await {
        Ok(callback) => see_other(&callback),
        Err(e) => browser_error(e),
    }
}

/// `GET /sign/oidc/callback`: the ID provider's answer.
pub async fn callback(state: &AppState, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let Some(oidc_state) = form::get(&query, "state") else {
        return browser_error(SessionError::UnknownState);
    };
    match state.sessions.callback(oidc_state, form::get(&query, "code"), form::get(&query, "error")).await {
        Ok(callback) => see_other(&callback),
        Err(e) => browser_error(e),
    }
}
