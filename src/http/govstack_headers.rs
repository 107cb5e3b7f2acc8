//! The GovStack request headers that carry the user's tokens: `X-GovStack-AuthenticationToken`
//! (the access token from the ID provider), `X-GovStack-PaymentToken`, and `X-Pseodonym-Token`
//! (the spec's spelling; `X-Pseudonym-Token` is accepted too).

use hyper::Request;
use hyper::StatusCode;

use super::error::ApiError;

fn header<B>(request: &Request<B>, name: &str) -> Option<String> {
    request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The user's access token.
///
/// # Errors
/// 401 when the header is missing or blank.
pub fn authentication_token<B>(request: &Request<B>) -> Result<String, ApiError> {
    header(request, "x-govstack-authenticationtoken")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "X-GovStack-AuthenticationToken is required"))
}

/// The payment token, if one was sent.
pub fn payment_token<B>(request: &Request<B>) -> Option<String> {
    header(request, "x-govstack-paymenttoken")
}

/// The pseudonym token, if one was sent (blank counts as none).
pub fn pseudonym_token<B>(request: &Request<B>) -> Option<String> {
    header(request, "x-pseodonym-token")
        .or_else(|| header(request, "x-pseudonym-token"))
        .filter(|t| !t.trim().is_empty())
}
