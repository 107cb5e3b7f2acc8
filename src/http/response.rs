//! Building responses: JSON bodies that are never cached, browser redirects that leak no
//! Referer, and bytes of a given media type. Success statuses only: every failure's status is
//! chosen in [`super::error`].

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION};
use hyper::{Response, StatusCode};

/// The body type of every response.
pub type Body = Full<Bytes>;

/// A JSON response that must not be cached.
pub(super) fn json_with(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 200 with a JSON body.
pub(super) fn json(value: &serde_json::Value) -> Response<Body> {
    json_with(StatusCode::OK, value)
}

/// 303 to `location` for a browser: never cached, and no Referer sent onwards (redirect URLs carry
/// codes, states and signature ids).
pub(super) fn see_other(location: &str) -> Response<Body> {
    redirect(StatusCode::SEE_OTHER, location)
}

/// 302 to `location` (an API caller's answer that sends its user's browser on).
pub(super) fn found(location: &str) -> Response<Body> {
    redirect(StatusCode::FOUND, location)
}

fn redirect(status: StatusCode, location: &str) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(LOCATION, location.parse().expect("URLs esignd builds are valid header values"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 200 with `body` of `content_type`, cacheable as `cache_control` says.
pub(super) fn bytes(
    content_type: &'static str,
    cache_control: Option<&'static str>,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(cache) = cache_control {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    response
}
