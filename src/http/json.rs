//! JSON request bodies: `application/json` only, capped before parsing, with malformed JSON
//! (400) told apart from a missing or mistyped field (422).

use hyper::Request;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;

use super::body::{BodyError, has_content_type, read_limited};
use super::error::ApiError;

/// Read and parse a JSON body of at most `limit` bytes.
///
/// # Errors
/// 415, 413, 400 or 422 as [`ApiError`].
pub async fn read_json<T: DeserializeOwned>(request: Request<Incoming>, limit: usize) -> Result<T, ApiError> {
    if !has_content_type(&request, "application/json") {
        return Err(ApiError::new(
            hyper::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request body as application/json",
        ));
    }
    let body = read_limited(request, limit).await.map_err(|e| match e {
        BodyError::TooLarge => {
            ApiError::new(hyper::StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {limit} bytes"))
        }
        BodyError::Read => ApiError::bad_request("the request body could not be read"),
    })?;
    serde_json::from_slice(&body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::unprocessable(format!("the request does not fit the schema: {e}"))
        }
        _ => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
    })
}
