//! `POST /tsa`: the built-in RFC 3161 TSA over HTTP (RFC 3161 §3.4). `application/timestamp-query`
//! in, `application/timestamp-reply` out. A malformed request gets a TimeStampResp with status
//! rejection (badDataFormat), not an HTTP error; a wrong content type is 415 and an oversized
//! body 413. Served only when `[tsa] mode = "builtin"`.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};

use super::AppState;
use super::body::{BodyError, has_content_type, read_limited};
use super::response::{Body, error};

/// Answer one time-stamp request.
pub async fn handle(state: &AppState, request: Request<Incoming>) -> Response<Body> {
    if !state.service.runs_tsa() {
        return error(StatusCode::NOT_FOUND, "this esignd uses external TSAs; it runs no TSA of its own");
    }
    if !has_content_type(&request, "application/timestamp-query") {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send an RFC 3161 TimeStampReq as application/timestamp-query",
        );
    }
    let body = match read_limited(request, state.max_tsa_request).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "a TimeStampReq is a few hundred bytes; this body is larger than allowed",
            );
        }
        Err(BodyError::Read) => return error(StatusCode::BAD_REQUEST, "the request body could not be read"),
    };
    match state.service.respond_tsa(body.to_vec()).await {
        Some(Ok(reply)) => reply_response(StatusCode::OK, reply),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "built-in TSA unavailable");
            error(StatusCode::SERVICE_UNAVAILABLE, "the TSA is busy or its HSM is unavailable; try again shortly")
        }
        None => error(StatusCode::NOT_FOUND, "this esignd runs no TSA of its own"),
    }
}

fn reply_response(status: StatusCode, reply: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(reply)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, "application/timestamp-reply".parse().expect("static header value"));
    response
}
