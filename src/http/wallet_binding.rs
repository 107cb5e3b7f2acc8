//! `POST /binding/wallet-binding` (MOSIP e-Signet's wallet binding). As in e-Signet, refusals it
//! names are answered with HTTP 200 and an `errors` list of `{errorCode, errorMessage}` (see
//! `error.rs`); only what is not a binding request at all (wrong content type, oversized or
//! malformed body), an unknown partner and outages (HSM, store, ID provider) get HTTP error
//! statuses. The binding partner authenticates with `partner-id` and `partner-api-key`
//! (`[[devices.binding_partners]]`; with none configured, binding is off).

use std::time::SystemTime;

use hyper::Response;
use serde_json::json;

use super::body::json;
use super::call::Call;
use super::headers::header;
use super::response::{self, Body};
use crate::service::{Envelope, ServiceError, rfc3339};

/// Largest request (an RSA JWK and an ID token fit easily).
const MAX_BODY: usize = 32 * 1024;

/// `POST /binding/wallet-binding`
pub(super) async fn bind(call: Call) -> Result<Response<Body>, ServiceError> {
    let partner_id = header(&call.request, "partner-id").unwrap_or_default().to_owned();
    let partner_key = header(&call.request, "partner-api-key").unwrap_or_default().to_owned();
    let envelope: Envelope = json(call.request, MAX_BODY).await?;
    let bound = call.service.bind_wallet(&partner_id, &partner_key, envelope).await?;
    Ok(response::json(&json!({
        "responseTime": rfc3339(SystemTime::now()),
        "response": {
            "walletUserId": bound.pseudonym,
            "certificate": bound.pem,
            "expireDateTime": rfc3339(bound.not_after),
        },
        "errors": [],
    })))
}
