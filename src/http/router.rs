//! Matching a request against [`ROUTES`], with a request id on every log line of the request
//! and one line per answer. A path no route serves is 404; a path served for other methods is
//! 405 with `Allow`. HEAD is answered as GET.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::{Method, Request, Response};
use tracing::Instrument;

use super::body::RequestBody;
use super::call::Call;
use super::error;
use super::response::Body;
use super::routes::{ROUTES, Route};
use crate::ids::random_hex;
use crate::service::EsignService;

/// Answer one request.
pub(super) async fn route(
    service: Arc<EsignService>,
    peer: SocketAddr,
    request: Request<RequestBody>,
) -> Response<Body> {
    let request_id = random_hex(8);
    let span =
        tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path());
    async move {
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let counting = Arc::clone(&service);
        let (response, route) = dispatch(service, request, &path, peer).await;
        let response = finish(response, &request_id, &path, started, peer);
        counting.metrics().request(route, method.as_str(), response.status().as_u16(), started.elapsed().as_secs_f64());
        response
    }
    .instrument(span)
    .await
}

async fn dispatch(
    service: Arc<EsignService>,
    request: Request<RequestBody>,
    path: &str,
    peer: SocketAddr,
) -> (Response<Body>, &'static str) {
    let served = |route: &&Route| !route.demo || service.demo_enabled();
    let mut candidates: Vec<(&Route, &str)> =
        ROUTES.iter().filter(served).filter(|r| r.is_literal()).filter_map(|r| Some((r, r.matches(path)?))).collect();
    if candidates.is_empty() {
        candidates = ROUTES.iter().filter(served).filter_map(|r| Some((r, r.matches(path)?))).collect();
    }
    let method = if request.method() == Method::HEAD { Method::GET } else { request.method().clone() };
    let Some(&(route, param)) = candidates.iter().find(|(route, _)| route.method == method) else {
        let answer = match candidates.as_slice() {
            [] => error::no_route(),
            [(only, _)] => error::wrong_method(only.method.as_str(), &only.hint()),
            several => {
                let mut allow: Vec<&str> = several.iter().map(|(route, _)| route.method.as_str()).collect();
                allow.sort_unstable();
                error::wrong_method(&allow.join(", "), &format!("use {}", allow.join(" or ")))
            }
        };
        return (answer, UNMATCHED);
    };
    let auditing = Arc::clone(&service);
    let call = Call { service, request, param: param.to_owned(), peer };
    let answer = match (route.handler)(call).await {
        Ok(response) => response,
        Err(e) => {
            let answer = error::answer(route.wire, &e);
            auditing.record_refusal(route.path, answer.status().as_u16(), &e).await;
            answer
        }
    };
    (answer, route.path)
}

/// How metrics name a request no route served (404, 405): one label value, whatever the path.
const UNMATCHED: &str = "unmatched";

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
