//! Building responses: JSON bodies with the right content type, and browser redirects.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use hyper::{Response, StatusCode};

/// The body type of every response.
pub type Body = Full<Bytes>;

/// A JSON response that must not be cached.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, "application/json".parse().expect("static header value"));
    headers.insert(CACHE_CONTROL, "no-store".parse().expect("static header value"));
    response
}

/// A JSON error body `{"status":{"code":"ERROR","message":...}}` (the GovStack error shape).
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "status": { "code": "ERROR", "message": message } }))
}

/// 303 to `location` for a browser: never cached, and no Referer sent onwards (redirect URLs carry
/// codes, states and signature ids).
pub fn see_other(location: &str) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(LOCATION, location.parse().expect("URLs esignd builds are valid header values"));
    headers.insert("referrer-policy", "no-referrer".parse().expect("static header value"));
    headers.insert(CACHE_CONTROL, "no-store".parse().expect("static header value"));
    response
}
