//! What anyone may read: `GET /v1/ca` (the CA chain as PEM, where every certificate's
//! caIssuers points), `GET /v1/certs/{serial}` (every certificate esignd issued, by hex serial),
//! `GET /v1/crl` (the DER CRL every device certificate names) and `GET /.well-known/jwks.json`
//! (the service key that signs session tokens and webhooks).

use hyper::Response;

use super::call::Call;
use super::response::{self, Body, bytes};
use crate::service::{RequestError, ServiceError};

/// `GET /v1/ca`
pub(super) async fn ca_chain(call: Call) -> Result<Response<Body>, ServiceError> {
    Ok(bytes("application/pem-certificate-chain", Some("public, max-age=3600"), call.service.ca_chain_pem()?))
}

/// `GET /v1/certs/{serial}`
pub(super) async fn certificate(call: Call) -> Result<Response<Body>, ServiceError> {
    let serial = &call.param;
    if serial.is_empty() || serial.len() > 40 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RequestError::invalid("the serial number is the certificate's serial in hex").into());
    }
    let pem = call.service.certificate_pem(serial).await?;
    Ok(bytes("application/pem-certificate-chain", Some("public, max-age=86400, immutable"), pem))
}

/// `GET /v1/crl`
pub(super) async fn crl(call: Call) -> Result<Response<Body>, ServiceError> {
    Ok(bytes("application/pkix-crl", Some("public, max-age=60"), call.service.crl().await?))
}

/// `GET /.well-known/jwks.json`
pub(super) async fn jwks(call: Call) -> Result<Response<Body>, ServiceError> {
    Ok(response::json(&call.service.jwks()))
}
