//! The mock ID provider's endpoints (demo profile only, `/mock-idp/*`): discovery, the login
//! page where a visitor types any name, and the token endpoint. What it believes and signs is
//! decided in the service; here are its pages and wire formats.

use hyper::Response;
use serde_json::json;

use super::body::{BodyError, form_fields, read_limited};
use super::call::Call;
use super::demo::html;
use super::form;
use super::pages::escape;
use super::response::{self, Body, see_other};
use crate::service::{MockLogin, MockToken, RequestError, ServiceError};

/// `GET /mock-idp/.well-known/openid-configuration`
pub(super) async fn discovery(call: Call) -> Result<Response<Body>, ServiceError> {
    Ok(response::json(&call.service.mock_discovery()?))
}

/// `GET /mock-idp/authorize`: the mock login page.
pub(super) async fn login_page(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = form::parse(call.request.uri().query().unwrap_or(""));
    let get = |name| form::get(&query, name).unwrap_or_default();
    call.service.mock_redirect(get("redirect_uri"))?;
    let hidden: String = ["client_id", "redirect_uri", "state", "nonce", "code_challenge"]
        .iter()
        .map(|name| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(get(name))))
        .collect();
    let main = format!(
        "<p class=\"mock\"><strong>MOCK ID PROVIDER</strong> — for demonstrations only. Type any name; it goes into the certificate.</p>\
         <h1>Who are you?</h1><form method=\"post\" action=\"/mock-idp/authorize\">{hidden}\
         <label for=\"name\">Full name</label><input id=\"name\" name=\"name\" required value=\"Demo User\">\
         <label for=\"sub\">Personal code</label><input id=\"sub\" name=\"sub\" required value=\"DEMO-0001\">\
         <p><button type=\"submit\" id=\"login\">Log in</button></p></form>"
    );
    Ok(html("Mock ID provider", &main, false))
}

/// `POST /mock-idp/authorize`: back to esignd's callback with a code.
pub(super) async fn login(call: Call) -> Result<Response<Body>, ServiceError> {
    let fields = form_fields(call.request, 8192).await?;
    let get = |name| form::get(&fields, name).unwrap_or_default().to_owned();
    let login = MockLogin {
        name: get("name"),
        subject: get("sub"),
        nonce: get("nonce"),
        challenge: get("code_challenge"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        state: get("state"),
    };
    Ok(see_other(&call.service.mock_login(&login)?))
}

/// `POST /mock-idp/token`: the code for an ID token signed by the service key.
pub(super) async fn token(call: Call) -> Result<Response<Body>, ServiceError> {
    let body = read_limited(call.request, 16 * 1024).await.map_err(|e| match e {
        BodyError::TimedOut => RequestError::timed_out("invalid_request"),
        BodyError::TooLarge | BodyError::Read => RequestError::invalid("invalid_request"),
    })?;
    let fields = form::parse(&String::from_utf8_lossy(&body));
    let get = |name| form::get(&fields, name).unwrap_or_default().to_owned();
    let request = MockToken { code: get("code"), verifier: get("code_verifier"), redirect_uri: get("redirect_uri") };
    let id_token = call.service.mock_token(&request).await?;
    Ok(response::json(&json!({ "id_token": id_token, "token_type": "Bearer", "expires_in": 300 })))
}
