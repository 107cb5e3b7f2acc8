//! The headers that carry who is calling: `apikey` (a registered eService),
//! `X-GovStack-AuthenticationToken` (the citizen's access token from the ID provider),
//! `X-GovStack-PaymentToken`, `X-Pseodonym-Token` (the spec's spelling; `X-Pseudonym-Token` is
//! accepted too), `partner-id` + `partner-api-key` (a wallet-binding partner) and
//! `Authorization: Bearer` (a device JWT). Reading them decides nothing about the caller; the
//! service does that.

use hyper::Request;
use hyper::header::AUTHORIZATION;

use crate::service::{CallerError, Credential, ServiceError};

/// A header's value as text, if present and readable.
pub(super) fn header<'a, B>(request: &'a Request<B>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `apikey` header.
pub(super) fn api_key<B>(request: &Request<B>) -> Option<&str> {
    header(request, "apikey")
}

/// The SHA-256 of the client certificate its TLS connection presented, put on each request by
/// the listener (mutual TLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ClientCertificate(pub [u8; 32]);

/// The SHA-256 of the request's client certificate, if its connection presented one.
pub(super) fn client_certificate<B>(request: &Request<B>) -> Option<[u8; 32]> {
    request.extensions().get::<ClientCertificate>().map(|certificate| certificate.0)
}

/// What an eService presents: its `apikey` and its connection's client certificate.
pub(super) fn credential<B>(request: &Request<B>) -> Credential<'_> {
    Credential { api_key: api_key(request), certificate_sha256: client_certificate(request) }
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
