//! `POST /tsa`: the built-in RFC 3161 TSA over HTTP (RFC 3161 §3.4).
//! `application/timestamp-query` in, `application/timestamp-reply` out. A malformed request gets
//! a TimeStampResp with status rejection (badDataFormat), not an HTTP error; a wrong content type
//! is 415 and an oversized body 413. Served only when `[tsa] mode = "builtin"`.

use hyper::Response;

use super::body::{has_content_type, read_limited};
use super::call::Call;
use super::response::{Body, bytes};
use crate::service::{RequestError, ServiceError};

/// Answer one time-stamp request.
pub(super) async fn stamp(call: Call) -> Result<Response<Body>, ServiceError> {
    let limit = call.service.tsa_request_limit().ok_or(ServiceError::NoBuiltinTsa)?;
    if !has_content_type(&call.request, "application/timestamp-query") {
        return Err(RequestError::unsupported("send an RFC 3161 TimeStampReq as application/timestamp-query").into());
    }
    let body = read_limited(call.request, limit).await.map_err(|e| {
        e.into_request_error("a TimeStampReq is a few hundred bytes; this body is larger than allowed".into())
    })?;
    let reply = call.service.timestamp(body.to_vec()).await?;
    Ok(bytes("application/timestamp-reply", None, reply))
}
