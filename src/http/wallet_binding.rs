//! `POST /binding/wallet-binding` (MOSIP e-Signet's wallet binding; see
//! [`crate::service::devices::binding`]). As in e-Signet, business errors are answered with HTTP 200 and
//! an `errors` list of `{errorCode, errorMessage}`; only what is not a binding request at all
//! (wrong content type, oversized or malformed body) and outages (HSM, store, ID provider) get
//! HTTP error statuses. The binding partner authenticates with `partner-id` and
//! `partner-api-key` (`[[devices.binding_partners]]`; with none configured, binding is off).

use std::time::SystemTime;

use der::EncodePem;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::json::read_json;
use super::response::{Body, json};
use crate::service::devices::DeviceError;
use crate::service::devices::binding::{BindingCode, BindingError, Envelope, check_envelope};
use crate::service::sessions::clients;
use crate::vocabulary::CertificateStatus;
use crate::vocabulary::rfc3339;

/// Largest request (an RSA JWK and an ID token fit easily).
const MAX_BODY: usize = 32 * 1024;

/// The e-Signet answer to a refused binding.
fn refused(error: &BindingError) -> Response<Body> {
    tracing::warn!(error_code = error.code.as_str(), answer = %error.message, "wallet binding refused");
    json(
        StatusCode::OK,
        &json!({
            "responseTime": rfc3339(SystemTime::now()),
            "errors": [{ "errorCode": error.code.as_str(), "errorMessage": error.message }],
        }),
    )
}

/// `POST /binding/wallet-binding`
pub async fn bind(state: &AppState, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (partner_id, partner_key) = (header("partner-id"), header("partner-api-key"));
    if state.binding_partners.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wallet binding is off: the operator registers binding partners in [[devices.binding_partners]]",
        ));
    }
    let partner = clients::binding_partner(&state.binding_partners, &partner_id, &partner_key)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "partner-id and partner-api-key do not name a registered binding partner",
            )
        })?
        .id
        .clone();
    let envelope: Envelope = read_json(request, MAX_BODY).await?;
    let checked = match check_envelope(envelope, SystemTime::now()) {
        Ok(checked) => checked,
        Err(e) => return Ok(refused(&e)),
    };
    let identity = match state.identity.identify(&checked.id_token).await {
        Ok(identity) => identity,
        Err(e) if e.is_callers_fault() => {
            return Ok(refused(&BindingError::new(
                BindingCode::InvalidChallenge,
                format!("the IDT challenge was not accepted: {e}"),
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if identity.subject_id() != checked.individual_id {
        return Ok(refused(&BindingError::new(
            BindingCode::InvalidAuthChallenge,
            "the IDT challenge names another individual than individualId",
        )));
    }
    let (row, replaced) = match state.devices.bind(identity, &partner, checked.key).await {
        Ok(bound) => bound,
        Err(DeviceError::DuplicateKey) => {
            return Ok(refused(&BindingError::new(
                BindingCode::DuplicatePublicKey,
                DeviceError::DuplicateKey.to_string(),
            )));
        }
        Err(e @ DeviceError::Raced) => {
            return Ok(refused(&BindingError::new(BindingCode::KeyBindingFailed, e.to_string())));
        }
        Err(e) => return Err(e.into()),
    };
    for old in &replaced {
        state.sessions.withdraw_device_requests(old, CertificateStatus::Revoked).await?;
    }
    let certificate = <x509_cert::Certificate as der::Decode>::from_der(&row.der)
        .and_then(|c| c.to_pem(der::pem::LineEnding::LF))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed").with_detail(e.to_string()))?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "responseTime": rfc3339(SystemTime::now()),
            "response": {
                "walletUserId": row.pseudonym,
                "certificate": certificate,
                "expireDateTime": rfc3339(row.not_after),
            },
            "errors": [],
        }),
    ))
}
