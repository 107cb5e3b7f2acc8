//! `POST /binding/wallet-binding` (MOSIP e-Signet's wallet binding). As in e-Signet, refusals it
//! names are answered with HTTP 200 and an `errors` list of `{errorCode, errorMessage}` (see
//! `error.rs`); only what is not a binding request at all (wrong content type, oversized or
//! malformed body), an unknown partner and outages (HSM, store, ID provider) get HTTP error
//! statuses. The binding partner (`partner-id`, one of `[[devices.binding_partners]]`; with none
//! configured, binding is off) authenticates with `partner-api-key`, or as e-Signet has it with
//! `Authorization: Bearer` — a token the ID provider issued to it with the `wallet_binding`
//! scope.

use std::time::SystemTime;

use hyper::Response;
use serde_json::json;

use super::body::json;
use super::call::Call;
use super::headers::{bearer, header};
use super::response::{self, Body};
use crate::service::{Envelope, PartnerCredential, ServiceError, rfc3339};

/// Largest request (an RSA JWK and an ID token fit easily).
const MAX_BODY: usize = 32 * 1024;

/// `POST /binding/wallet-binding`
pub(super) async fn bind(call: Call) -> Result<Response<Body>, ServiceError> {
    let partner_id = header(&call.request, "partner-id").unwrap_or_default().to_owned();
    let partner_key = header(&call.request, "partner-api-key").map(str::to_owned);
    let bearer = bearer(&call.request);
    let envelope: Envelope = json(call.request, MAX_BODY).await?;
    let credential = match (&partner_key, &bearer) {
        (Some(key), _) => PartnerCredential::ApiKey(key),
        (None, Some(token)) => PartnerCredential::Bearer(token),
        (None, None) => PartnerCredential::ApiKey(""),
    };
    let bound = call.service.bind_wallet(&partner_id, credential, envelope).await?;
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
