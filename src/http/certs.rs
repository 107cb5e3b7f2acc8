//! `GET /v1/certs/{serial}`: every certificate esignd issued, by hex serial, as PEM; and
//! `GET /.well-known/jwks.json`: the service key that signs session tokens and webhooks.

use der::pem::LineEnding;
use der::{Decode, EncodePem};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::AppState;
use super::error::ApiError;
use super::response::{Body, json};

/// The published certificate with hex `serial`.
pub async fn certificate(state: &AppState, serial: &str) -> Result<Response<Body>, ApiError> {
    if serial.is_empty() || serial.len() > 40 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("the serial number is the certificate's serial in hex"));
    }
    let der =
        state.store.certificate(serial).await?.ok_or_else(|| ApiError::not_found("no certificate with this serial"))?;
    let pem = x509_cert::Certificate::from_der(&der).and_then(|c| c.to_pem(LineEnding::LF)).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "a stored certificate is damaged").with_detail(e.to_string())
    })?;
    let mut response = Response::new(Full::new(Bytes::from(pem)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, "application/pem-certificate-chain".parse().expect("static header value"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, "public, max-age=86400, immutable".parse().expect("static header value"));
    Ok(response)
}

/// The service key's JWKS.
pub fn jwks(state: &AppState) -> Response<Body> {
    json(StatusCode::OK, &serde_json::to_value(&state.jwks).expect("a JWKS serialises"))
}
