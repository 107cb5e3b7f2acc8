//! The one place a failure becomes an HTTP status and a body. [`status`] maps each
//! [`ErrorKind`] to its status code, and nothing else in esignd chooses an error status; each
//! wire format then says it its way:
//!
//! - GovStack (every JSON API): `{"status":{"code":"ERROR","message":"..."}}`;
//! - e-Signet (wallet binding): refusals e-Signet names are HTTP 200 with
//!   `errors: [{errorCode, errorMessage}]`, anything else as GovStack;
//! - HTML pages (the citizen's browser): a page in plain words; failures on esignd's side all
//!   read "unavailable right now" (503).
//!
//! Public messages come from [`ServiceError::public_message`], which never carries tokens, PINs
//! or personal data. Client errors are logged at warn, server errors at error, both inside the
//! request's span (its id).

use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};

use super::call::Wire;
use super::pages;
use super::response::{Body, json_with};
use crate::service::{ErrorKind, Lang, ServiceError};

/// The status of a failure of `kind`.
pub(super) fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TimedOut => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Busy => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether esignd, not the caller, is at fault.
fn ours(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Busy | ErrorKind::Unavailable(_) | ErrorKind::Internal)
}

/// `e` in the wire format of the route that failed, logged.
pub(super) fn answer(wire: Wire, e: &ServiceError) -> Response<Body> {
    let kind = e.kind();
    let message = e.public_message();
    if ours(kind) {
        tracing::error!(status = status(kind).as_u16(), answer = %message, error = %e, "request failed");
    } else {
        tracing::warn!(status = status(kind).as_u16(), answer = %message, error = %e, "request refused");
    }
    match (wire, e.binding_refusal()) {
        (Wire::Esignet, Some(refusal)) => json_with(
            StatusCode::OK,
            &serde_json::json!({
                "responseTime": crate::service::rfc3339(std::time::SystemTime::now()),
                "errors": [{ "errorCode": refusal.code.as_str(), "errorMessage": refusal.message }],
            }),
        ),
        (Wire::Page, _) if ours(kind) => page_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "The signing service is unavailable right now. Please try again in a moment.",
        ),
        (Wire::Page, _) => page_answer(status(kind), &message),
        _ => govstack(status(kind), &message),
    }
    .with_close(kind == ErrorKind::TimedOut)
}

/// Closing the connection after an answer.
trait Close {
    /// Say `Connection: close` when `close` (a body that never came leaves the connection in
    /// no state to take another request).
    fn with_close(self, close: bool) -> Self;
}

impl Close for Response<Body> {
    fn with_close(mut self, close: bool) -> Self {
        if close {
            self.headers_mut().insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        }
        self
    }
}

/// The GovStack error body, with `Retry-After` when retrying later may help.
pub(super) fn govstack(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = json_with(status, &serde_json::json!({ "status": { "code": "ERROR", "message": message } }));
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn page_answer(status: StatusCode, message: &str) -> Response<Body> {
    let mut page = pages::error(Lang::En, message);
    *page.status_mut() = status;
    page
}

/// A page that answers a refusal of `kind` (the signing page shown again, saying why).
pub(super) fn refused_page(mut page: Response<Body>, kind: ErrorKind) -> Response<Body> {
    *page.status_mut() = status(kind);
    page
}

/// 429 for an address over its request rate, with how long to wait.
pub(super) fn too_many_requests(wait: std::time::Duration) -> Response<Body> {
    let seconds = wait.as_secs().max(1);
    let mut response =
        govstack(StatusCode::TOO_MANY_REQUESTS, "too many requests from this address; slow down and retry later");
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// 404 for a path no route serves.
pub(super) fn no_route() -> Response<Body> {
    govstack(StatusCode::NOT_FOUND, "no such endpoint")
}

/// The operator listener's refusal of a request it does not serve (plain text; it has no
/// route table): 405 for one of its paths with another method, 404 for any other path.
pub(super) fn ops_refusal(its_path: bool) -> (StatusCode, &'static str) {
    if its_path {
        (StatusCode::METHOD_NOT_ALLOWED, "GET only\n")
    } else {
        (StatusCode::NOT_FOUND, "the operator's listener serves /metrics and /readyz\n")
    }
}

/// 405 with `Allow` naming the methods the path takes.
pub(super) fn wrong_method(allow: &str, hint: &str) -> Response<Body> {
    let mut response = govstack(StatusCode::METHOD_NOT_ALLOWED, hint);
    response.headers_mut().insert(hyper::header::ALLOW, allow.parse().expect("method names are header values"));
    response
}
