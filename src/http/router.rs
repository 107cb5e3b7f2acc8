//! Routing by method and path, with a request id on every log line of the request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use super::response::{Body, error};
use super::{AppState, ca, health, tsa};
use crate::hsm::KeyStore;

/// Answer one request.
pub async fn route<K: KeyStore>(
    state: Arc<AppState<K>>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let request_id = request_id();
    let span =
        tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path());
    async move {
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let mut response = match (request.method(), path.as_str()) {
            (&Method::GET | &Method::HEAD, "/healthz") => health::live(),
            (&Method::GET | &Method::HEAD, "/readyz") => health::ready(&state).await,
            (&Method::POST, "/tsa") => tsa::handle(&state, request).await,
            (&Method::GET | &Method::HEAD, "/v1/ca") => ca::chain(&state),
            (_, "/healthz" | "/readyz" | "/v1/ca") => error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
            (_, "/tsa") => error(StatusCode::METHOD_NOT_ALLOWED, "use POST with an application/timestamp-query body"),
            _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
        };
        response.headers_mut().insert("x-request-id", request_id.parse().expect("hex is a valid header value"));
        let status = response.status().as_u16();
        let millis = started.elapsed().as_millis() as u64;
        if path == "/healthz" || path == "/readyz" {
            tracing::debug!(status, millis, %peer, "answered");
        } else {
            tracing::info!(status, millis, %peer, "answered");
        }
        Ok(response)
    }
    .instrument(span)
    .await
}

/// 64 random bits in hex: enough to find one request's lines in the logs.
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}
