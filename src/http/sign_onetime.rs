//! `POST /v1/sign/onetime` (GovStack): a one-time signature for a user the eService has already
//! authenticated at the ID provider. The request is checked completely — token present, body
//! well-formed, digest of the right length, format and hash type supported, token valid,
//! payment spent — before the HSM is touched; the signature's certificate is published before
//! the answer goes out.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::AppState;
use super::error::ApiError;
use super::govstack_headers::{authentication_token, payment_token};
use super::json::read_json;
use super::response::{Body, json};
use super::sign_request::{SignRequest, parse};
use crate::service::engine::{OneTimeRequest, SignatureRecord};

/// Largest `SignRequest` body.
const MAX_BODY: usize = 16 * 1024;

/// Answer `POST /v1/sign/onetime`.
pub async fn handle(state: &AppState, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let token = authentication_token(&request)?;
    let payment = payment_token(&request);
    let body: SignRequest = read_json(request, MAX_BODY).await?;
    let parsed = parse(&body)?;
    let identity = state.identity.identify(&token).await?;
    state.payment.check(state.store.as_ref(), payment.as_deref()).await?;

    let record =
        state.service.sign_one_time(OneTimeRequest { identity, digest: parsed.digest, format: parsed.format }).await?;
    publish(state, &record).await?;
    Ok(json(StatusCode::OK, &record.sign_response()))
}

/// Publish the one-time certificate (`GET /v1/certs/{serial}`).
pub(super) async fn publish(state: &AppState, record: &SignatureRecord) -> Result<(), ApiError> {
    let der = der::Encode::to_der(&record.leaf)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed").with_detail(e.to_string()))?;
    state.store.publish_certificate(&record.leaf_serial, &der, record.not_after).await?;
    Ok(())
}
