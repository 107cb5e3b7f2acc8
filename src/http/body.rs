//! Reading request bodies: the size cap is enforced while reading (a body larger than allowed
//! is refused before it is parsed, whatever its Content-Length says), and content types are
//! compared without their parameters.

use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the cap.
    TooLarge,
    /// The connection failed while reading.
    Read,
}

/// Read the whole body, at most `limit` bytes.
pub async fn read_limited(request: Request<Incoming>, limit: usize) -> Result<Bytes, BodyError> {
    let declared =
        request.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Read),
    }
}

/// Whether the request's Content-Type is `expected` (parameters ignored, case-insensitive).
pub fn has_content_type<B>(request: &Request<B>, expected: &str) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}
