//! `POST /v1/sign/onetime` (GovStack): a one-time signature for a citizen the eService has
//! already authenticated. Decoded here — the access token present, the body a SignRequest with a
//! digest of the right length — before the service is called, so that a malformed request never
//! reaches the ID provider or the HSM.

use hyper::Response;

use super::body::json;
use super::call::Call;
use super::headers::{authentication_token, payment_token};
use super::response::{self, Body};
use super::sign_request::{SignRequestBody, decode};
use crate::service::ServiceError;

/// Largest `SignRequest` body.
const MAX_BODY: usize = 16 * 1024;

/// Answer `POST /v1/sign/onetime`.
pub(super) async fn sign(call: Call) -> Result<Response<Body>, ServiceError> {
    let token = authentication_token(&call.request)?;
    let payment = payment_token(&call.request);
    let request = decode(json::<SignRequestBody>(call.request, MAX_BODY).await?)?;
    let signed = call.service.sign_onetime(&token, payment.as_deref(), request).await?;
    Ok(response::json(&signed))
}
