//! The citizen's browser: `GET /sign/interactive` (by session token, or the GovStack query form
//! signed by a registered eService: `client_id` and `request`, an RFC 9101 request object),
//! `POST /sign/interactive/start` and `/cancel`,
//! `GET /sign/oidc/callback` from the ID provider, and the user's own device:
//! `POST /sign/interactive/device` (a pseudonym), `GET /sign/interactive/device` (waiting for
//! the device) and the GovStack `GET /v1/sign/interactivePseudonym` query form. Outcomes are
//! redirects or pages; what cannot go back to a registered callback is an error page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::{Request, Response};

use super::body::{RequestBody, form_fields};
use super::call::Call;
use super::cookie;
use super::error::refused_page;
use super::form;
use super::pages;
use super::response::{Body, see_other};
use super::sign_request::{SignRequestBody, decode};
use crate::service::{
    Browser, DeviceChoice, ErrorKind, EsignService, Lang, Page, QueryForm, RequestError, RequestObjectError,
    ServiceError, SessionError,
};

/// Largest signing-page form.
const MAX_FORM: usize = 8 * 1024;

fn query<B>(request: &Request<B>) -> Vec<(String, String)> {
    form::parse(request.uri().query().unwrap_or(""))
}

/// What the request tells of its browser.
fn browser_of(call: &Call) -> Browser {
    cookie::browser(&call.request, call.service.public_url())
}

/// `GET /sign/interactive` (`device` in the query puts the pseudonym form first)
pub(super) async fn page(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = query(&call.request);
    if let Some(token) = form::get(&query, "token") {
        return show(&call.service, &browser_of(&call), token, form::get(&query, "device").is_some()).await;
    }
    let form = query_form(&call.service, query, str::to_owned).await?;
    Ok(see_other(&call.service.page_from_query(form).await?))
}

/// The signing page of the session `token` names, binding it to this browser.
async fn show(
    service: &EsignService,
    browser: &Browser,
    token: &str,
    device_first: bool,
) -> Result<Response<Body>, ServiceError> {
    Ok(match service.signing_page(token, browser).await? {
        Page::Show { session, binding } => {
            let mut page = pages::signing(&session, token, device_first, None);
            if let Some(value) = binding {
                cookie::set(&mut page, &value, service.public_url());
            }
            page
        }
        Page::Redirect(back) => see_other(&back),
    })
}

/// `GET /v1/sign/interactivePseudonym`: the page `POST /v1/sign/pseudonym` sends the user to
/// (by the session `token` it made), or a signed query form as `/sign/interactive` takes,
/// with `hash` and `dataToBeDisplayed` in base64url as the spec has them. The pseudonym form
/// comes first.
pub(super) async fn pseudonym_page(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = query(&call.request);
    if let Some(token) = form::get(&query, "token") {
        return show(&call.service, &browser_of(&call), token, true).await;
    }
    let form = query_form(&call.service, query, base64url_text).await?;
    // The page itself (200), as GovStack has it, for the session just made.
    let token = call.service.session_from_pseudonym_query(form).await?;
    show(&call.service, &browser_of(&call), &token, true).await
}

/// The GovStack query parameters (`hash, hashType, format, dataToBeDisplayed, callbackUrl,
/// nonce, state, lang`): those of the eService's verified request object when the query has
/// `request`, else the query's own; `display` decodes `dataToBeDisplayed`.
async fn query_form(
    service: &EsignService,
    query: Vec<(String, String)>,
    display: fn(&str) -> String,
) -> Result<QueryForm, ServiceError> {
    if form::get(&query, "request_uri").is_some() {
        return Err(RequestObjectError::ByReference.into());
    }
    let client_id = form::get(&query, "client_id").map(str::to_owned);
    let (parameters, signed) = match form::get(&query, "request") {
        Some(request) => {
            let signed = service.open_request_object(client_id.as_deref(), request).await?;
            (signed.parameters().to_vec(), Some(signed))
        }
        None => (query, None),
    };
    let get = |name| form::get(&parameters, name).map(str::to_owned);
    let body = SignRequestBody {
        format: get("format"),
        hash: get("hash"),
        hash_type: get("hashType"),
        data_to_be_displayed: form::get(&parameters, "dataToBeDisplayed").map(display),
    };
    let request = decode(body).map_err(|_| SessionError::InvalidField {
        field: "hash, hashType or format",
        reason: "a base64 digest of its hashType, in CAdES or PAdES",
    })?;
    Ok(QueryForm {
        client_id,
        request,
        callback_url: get("callbackUrl").unwrap_or_default(),
        nonce: get("nonce"),
        state: get("state"),
        lang: form::get(&parameters, "lang").and_then(Lang::parse).unwrap_or(Lang::En),
        payment_token: signed.as_ref().and(get("paymentToken")),
        signed,
    })
}

/// GovStack's base64url `dataToBeDisplayed` decoded when it is base64url of UTF-8 text, else as
/// given.
fn base64url_text(value: &str) -> String {
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')))
        .unwrap_or_else(|| value.to_owned())
}

/// The `token` field of a Sign/Cancel form.
async fn form_token(request: Request<RequestBody>) -> Result<String, ServiceError> {
    let fields = form_fields(request, MAX_FORM).await?;
    Ok(form::get(&fields, "token")
        .map(str::to_owned)
        .ok_or_else(|| RequestError::invalid("Use the buttons on the signing page."))?)
}

/// `POST /sign/interactive/start`: off to the ID provider.
pub(super) async fn start(call: Call) -> Result<Response<Body>, ServiceError> {
    let browser = browser_of(&call);
    let token = form_token(call.request).await?;
    Ok(see_other(&call.service.start_login(&token, &browser).await?))
}

/// `POST /sign/interactive/cancel`: back to the eService with `error=cancelled`.
pub(super) async fn cancel(call: Call) -> Result<Response<Body>, ServiceError> {
    let browser = browser_of(&call);
    let token = form_token(call.request).await?;
    Ok(see_other(&call.service.cancel(&token, &browser).await?))
}

/// `GET /sign/oidc/callback`: the ID provider's answer.
pub(super) async fn callback(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = query(&call.request);
    let get = |name| form::get(&query, name);
    let browser = browser_of(&call);
    Ok(see_other(&call.service.login_callback(get("state"), get("code"), get("error"), &browser).await?))
}

/// `POST /sign/interactive/device`: queue the session for the device behind the pseudonym typed
/// in, then wait for it. An unknown pseudonym or a device that cannot sign shows the page again
/// with the reason, in the session's language.
pub(super) async fn choose_device(call: Call) -> Result<Response<Body>, ServiceError> {
    let browser = browser_of(&call);
    let fields = form_fields(call.request, MAX_FORM).await?;
    let (Some(token), Some(pseudonym)) = (form::get(&fields, "token"), form::get(&fields, "pseudonym")) else {
        return Err(RequestError::invalid("Use the form on the signing page.").into());
    };
    Ok(match call.service.choose_device(token, pseudonym, &browser).await? {
        DeviceChoice::Waiting(location) | DeviceChoice::Back(location) => see_other(&location),
        DeviceChoice::Refused { session, problem } => {
            refused_page(pages::signing(&session, token, true, Some(problem)), ErrorKind::Unprocessable)
        }
    })
}

/// `GET /sign/interactive/done?outcome=signed|failed&lang=`: where the browser ends when the
/// eService gave no callback URL (it polls or has a webhook). It shows only what the query says
/// and reads nothing else.
pub(super) async fn done(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = query(&call.request);
    let lang = form::get(&query, "lang").and_then(Lang::parse).unwrap_or(Lang::En);
    Ok(pages::finished(lang, form::get(&query, "outcome") == Some("signed")))
}

/// `GET /sign/interactive/device?token=`: the waiting page, or on to the eService once the
/// device has answered (or the request ended).
pub(super) async fn device_waiting(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = query(&call.request);
    let token = form::get(&query, "token").ok_or(SessionError::UnknownSession)?;
    let browser = browser_of(&call);
    Ok(match call.service.device_waiting(token, &browser).await? {
        Page::Show { session, .. } => pages::device_waiting(&session),
        Page::Redirect(back) => see_other(&back),
    })
}
