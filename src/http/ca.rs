//! `GET /v1/ca`: the CA chain as PEM — where the caIssuers URL in every one-time certificate
//! points.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::AppState;
use super::response::{Body, error};

/// The chain, CA certificate first.
pub fn chain(state: &AppState) -> Response<Body> {
    match crate::pki::pem::write_chain(state.service.ca_chain()) {
        Ok(pem) => {
            let mut response = Response::new(Full::new(Bytes::from(pem)));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, "application/pem-certificate-chain".parse().expect("static header value"));
            headers.insert(CACHE_CONTROL, "public, max-age=3600".parse().expect("static header value"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "encoding the CA chain failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the CA chain could not be encoded")
        }
    }
}
