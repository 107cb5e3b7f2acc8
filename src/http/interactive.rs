//! The citizen's browser: `GET /sign/interactive` (by session token, or the GovStack query form
//! for registered clients), `POST /sign/interactive/start` and `/cancel`, and
//! `GET /sign/oidc/callback` from the ID provider. Outcomes are redirects; whatever cannot go
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
use crate::hsm::KeyStore;
use crate::sessions::{Lang, NewSession, SessionError, clients};
use crate::store::Store;

/// The page or redirect for a session error in the browser.
fn browser_error(e: SessionError) -> Response<Body> {
    let status = match &e {
        SessionError::Expired { redirect } => return see_other(redirect),
        SessionError::AlreadyUsed => StatusCode::CONFLICT,
        SessionError::UnknownSession => StatusCode::NOT_FOUND,
        SessionError::Store(_) | SessionError::Service(_) | SessionError::Auth(_) => {
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

/// `GET /sign/interactive`
pub async fn page<K: KeyStore, S: Store>(state: &AppState<K, S>, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    if let Some(token) = form::get(&query, "token") {
        return match state.sessions.open(token).await {
            Ok(session) => pages::signing(&session, token),
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
async fn govstack_session<K: KeyStore, S: Store>(
    state: &AppState<K, S>,
    query: &[(String, String)],
) -> Result<String, SessionError> {
    let invalid = |field, reason| SessionError::InvalidField { field, reason };
    let client_id = form::get(query, "client_id")
        .ok_or(invalid("client_id", "a token or the GovStack query parameters are required"))?;
    let client = clients::by_id(state.sessions.clients(), client_id).ok_or(SessionError::UnknownClient)?.clone();
    let request = SignRequest {
        format: form::get(query, "format").map(str::to_owned),
        hash: form::get(query, "hash").map(str::to_owned),
        hash_type: form::get(query, "hashType").map(str::to_owned),
        data_to_be_displayed: form::get(query, "dataToBeDisplayed").map(str::to_owned),
    };
    let parsed = parse(&request)
        .map_err(|_| invalid("hash, hashType or format", "a base64 digest of its hashType, in CAdES or PAdES"))?;
    let new = NewSession {
        correlation_id: crate::sessions::random_hex(16),
        digest: parsed.digest,
        hash_type: request.hash_type.unwrap_or_default(),
        format: super::sessions::format_name(parsed.profile),
        data_to_be_displayed: request.data_to_be_displayed.unwrap_or_default(),
        callback_url: form::get(query, "callbackUrl").unwrap_or_default().to_owned(),
        webhook_url: None,
        lifetime: Duration::from_secs(600),
        lang: form::get(query, "lang").and_then(Lang::parse).unwrap_or(Lang::En),
        pub_key_pem: None,
        eservice_nonce: form::get(query, "nonce").map(str::to_owned),
        eservice_state: form::get(query, "state").map(str::to_owned),
    };
    let (_, _, redirect) = state.sessions.create(&client, new).await?;
    Ok(redirect)
}

/// The `token` field of a Sign/Cancel form.
async fn form_token(request: Request<Incoming>) -> Result<String, Response<Body>> {
    if !has_content_type(&request, "application/x-www-form-urlencoded") {
        return Err(pages::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, Lang::En, "Use the buttons on the signing page."));
    }
    let body = read_limited(request, 8 * 1024)
        .await
        .map_err(|_| pages::error(StatusCode::PAYLOAD_TOO_LARGE, Lang::En, "The form is too large."))?;
    let fields = form::parse(&String::from_utf8_lossy(&body));
    form::get(&fields, "token")
        .map(str::to_owned)
        .ok_or_else(|| pages::error(StatusCode::BAD_REQUEST, Lang::En, "Use the buttons on the signing page."))
}

/// `POST /sign/interactive/start`: off to the ID provider.
pub async fn start<K: KeyStore, S: Store>(state: &AppState<K, S>, request: Request<Incoming>) -> Response<Body> {
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
pub async fn cancel<K: KeyStore, S: Store>(state: &AppState<K, S>, request: Request<Incoming>) -> Response<Body> {
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
pub async fn callback<K: KeyStore, S: Store>(state: &AppState<K, S>, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let Some(oidc_state) = form::get(&query, "state") else {
        return browser_error(SessionError::UnknownState);
    };
    match state.sessions.callback(oidc_state, form::get(&query, "code"), form::get(&query, "error")).await {
        Ok(callback) => see_other(&callback),
        Err(e) => browser_error(e),
    }
}
