//! The headers that carry who is calling: `apikey` (a registered eService),
//! `X-GovStack-AuthenticationToken` (the citizen's access token from the ID provider),
//! `X-GovStack-PaymentToken`, `X-Pseodonym-Token` (the spec's spelling; `X-Pseudonym-Token` is
//! accepted too), `partner-id` + `partner-api-key` (a wallet-binding partner) and
//! `Authorization: Bearer` (a device JWT). Reading them decides nothing about the caller; the
//! service does that.

use hyper::Request;
use hyper::header::AUTHORIZATION;

use crate::service::{CallerError, ServiceError};

/// A header's value as text, if present and readable.
pub(super) fn header<'a, B>(request: &'a Request<B>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `apikey` header.
pub(super) fn api_key<B>(request: &Request<B>) -> Option<&str> {
    header(request, "apikey")
}

/// The citizen's access token, which the route requires.
///
/// # Errors
/// [`CallerError::Missing`] when the header is missing or blank.
pub(super) fn authentication_token<B>(request: &Request<B>) -> Result<String, ServiceError> {
    header(request, "x-govstack-authenticationtoken")
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| CallerError::Missing("X-GovStack-AuthenticationToken").into())
}

/// The payment token, if one was sent.
pub(super) fn payment_token<B>(request: &Request<B>) -> Option<String> {
    header(request, "x-govstack-paymenttoken").map(str::to_owned)
}

/// The pseudonym token, if one was sent (blank counts as none).
pub(super) fn pseudonym_token<B>(request: &Request<B>) -> Option<String> {
    header(request, "x-pseodonym-token")
        .or_else(|| header(request, "x-pseudonym-token"))
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
}

/// The device JWT of `Authorization: Bearer …`, if there is one.
pub(super) fn bearer<B>(request: &Request<B>) -> Option<String> {
    header(request, AUTHORIZATION.as_str())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}
