//! Routing by method and path, with a request id on every log line of the request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use super::error::ApiError;
use super::response::{Body, error};
use super::{
    AppState, ca, certs, demo, device_api, device_certs, health, interactive, sessions, sign_onetime, sign_pseudonym,
    tsa, wallet_binding,
};

/// Answer one request.
pub async fn route(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let request_id = request_id();
    let span =
        tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path());
    async move {
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let get = matches!(*request.method(), Method::GET | Method::HEAD);
        let post = *request.method() == Method::POST;
        let patch = *request.method() == Method::PATCH;
        let demo_answer = match &state.demo {
            Some(demo) => demo_route(&state, demo, get, post, &path, request).await,
            None => Err(request),
        };
        let request = match demo_answer {
            Ok(response) => return Ok(finish(response, &request_id, &path, started, peer)),
            Err(request) => request,
        };
        let response = match path.as_str() {
            "/healthz" if get => health::live(),
            "/readyz" if get => health::ready(&state).await,
            "/tsa" if post => tsa::handle(&state, request).await,
            "/v1/ca" if get => ca::chain(&state),
            "/.well-known/jwks.json" if get => certs::jwks(&state),
            "/v1/sign/onetime" if post => answer(sign_onetime::handle(&state, request).await),
            "/v1/sessions" if post => answer(sessions::create(&state, request).await),
            "/sign/interactive" if get => interactive::page(&state, &request).await,
            "/sign/interactive/start" if post => interactive::start(&state, request).await,
            "/sign/interactive/cancel" if post => interactive::cancel(&state, request).await,
            "/sign/oidc/callback" if get => interactive::callback(&state, &request).await,
            "/sign/interactive/device" if post => interactive::device_start(&state, request).await,
            "/sign/interactive/device" if get => interactive::device_wait(&state, &request).await,
            "/v1/sign/interactivePseudonym" if get => interactive::pseudonym_page(&state, &request).await,
            "/v1/sign/pseudonym" if post => answer(sign_pseudonym::sign(&state, request).await),
            "/binding/wallet-binding" if post => answer(wallet_binding::bind(&state, request).await),
            "/v1/device/requests" if get => answer(device_api::requests(&state, &request).await),
            p if post && p.starts_with("/v1/device/requests/") => {
                answer(device_api::answer(&state, request, &p["/v1/device/requests/".len()..]).await)
            }
            p if get && (p.starts_with("/v1/token/pseodonym/") || p.starts_with("/v1/token/pseudonym/")) => {
                answer(sign_pseudonym::token(&state, &request, &p["/v1/token/pseodonym/".len()..]).await)
            }
            "/v1/cert/create" if post => answer(device_certs::create(&state, request).await),
            "/v1/cert/list" if get => answer(device_certs::list(&state, &request).await),
            "/v1/crl" if get => answer(device_certs::crl(&state).await),
            p if patch && p.starts_with("/v1/cert/") => {
                answer(device_certs::change(&state, request, &p["/v1/cert/".len()..]).await)
            }
            p if get && p.starts_with("/v1/certs/") => {
                answer(certs::certificate(&state, &p["/v1/certs/".len()..]).await)
            }
            p if get && p.starts_with("/v1/sessions/") => {
                answer(sessions::status(&state, &request, &p["/v1/sessions/".len()..]).await)
            }
            p if get && p.starts_with("/v1/sign/response/") => {
                answer(sessions::redeem(&state, &request, &p["/v1/sign/response/".len()..]).await)
            }
            "/healthz" | "/readyz" | "/v1/ca" | "/.well-known/jwks.json" | "/v1/cert/list" | "/v1/crl" => {
                error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
            }
            "/v1/cert/create" => error(StatusCode::METHOD_NOT_ALLOWED, "use POST with a JSON body"),
            p if p.starts_with("/v1/cert/") => error(StatusCode::METHOD_NOT_ALLOWED, "use PATCH with a JSON body"),
            "/tsa" => error(StatusCode::METHOD_NOT_ALLOWED, "use POST with an application/timestamp-query body"),
            "/v1/sign/onetime" | "/v1/sessions" | "/v1/sign/pseudonym" | "/binding/wallet-binding" => {
                error(StatusCode::METHOD_NOT_ALLOWED, "use POST with a JSON body")
            }
            "/v1/device/requests" | "/v1/sign/interactivePseudonym" => error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            p if p.starts_with("/v1/device/requests/") => {
                error(StatusCode::METHOD_NOT_ALLOWED, "use POST with a JSON body")
            }
            "/sign/interactive/start" | "/sign/interactive/cancel" => {
                error(StatusCode::METHOD_NOT_ALLOWED, "use the signing page's buttons")
            }
            "/sign/interactive" | "/sign/oidc/callback" | "/sign/interactive/device" => {
                error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
            }
            p if p.starts_with("/v1/certs/")
                || p.starts_with("/v1/token/")
                || p.starts_with("/v1/sessions/")
                || p.starts_with("/v1/sign/response/") =>
            {
                error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
            }
            _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
        };
        Ok(finish(response, &request_id, &path, started, peer))
    }
    .instrument(span)
    .await
}

/// Add the request id and log the answer.
fn finish(
    mut response: Response<Body>,
    request_id: &str,
    path: &str,
    started: Instant,
    peer: SocketAddr,
) -> Response<Body> {
    response.headers_mut().insert("x-request-id", request_id.parse().expect("hex is a valid header value"));
    let status = response.status().as_u16();
    let millis = started.elapsed().as_millis() as u64;
    if path == "/healthz" || path == "/readyz" {
        tracing::debug!(status, millis, %peer, "answered");
    } else {
        tracing::info!(status, millis, %peer, "answered");
    }
    response
}

/// The demo profile's routes; gives the request back when the path is not one of them.
async fn demo_route(
    state: &AppState,
    demo: &demo::Demo,
    get: bool,
    post: bool,
    path: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, Request<Incoming>> {
    Ok(match path {
        "/" | "/demo" if get => demo::page(),
        "/demo/demo.js" if get => demo::script(),
        "/demo/start" if post => answer(demo::start(state, request).await),
        "/demo/done" if get => demo::done(state, demo, &request).await,
        "/demo/id-token" if get => answer(demo::id_token(state, demo, &request).await),
        p if get && p.starts_with("/demo/download/") => demo::download(demo, &p["/demo/download/".len()..]),
        "/mock-idp/.well-known/openid-configuration" if get => demo::discovery(demo),
        "/mock-idp/authorize" if get => demo::authorize_page(demo, &request),
        "/mock-idp/authorize" if post => demo::authorize(demo, request).await,
        "/mock-idp/token" if post => answer(demo::token(state, demo, request).await),
        _ => return Err(request),
    })
}

fn answer(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// 64 random bits in hex: enough to find one request's lines in the logs.
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}
