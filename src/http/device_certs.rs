//! GovStack `/v1/cert/*` (the user's own signing device) and the CA's CRL:
//!
//! - `POST /v1/cert/create`: the user (their ID-provider token) enrols a device's key by CSR;
//! - `GET /v1/cert/list?filter=`: the user's own device certificates;
//! - `PATCH /v1/cert/{certificateId}`: ACTIVATE, SUSPEND or REVOKE one of them;
//! - `GET /v1/crl`: the DER CRL, signed in the HSM, named by every device certificate.

use std::time::SystemTime;

use der::EncodePem;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::form;
use super::govstack_headers::{authentication_token, payment_token};
use super::json::read_json;
use super::response::{Body, json};
use crate::identity::Identity;
use crate::service::devices::DeviceError;
use crate::service::devices::lifecycle::Action;
use crate::service::devices::service::{Enrolment, status_now};
use crate::store::devices::DeviceCertificateRow;
use crate::vocabulary::CertificateStatus;
use crate::vocabulary::rfc3339;

/// Largest request body (a CSR with an RSA-8192 key is about 2 KB of PEM).
const MAX_BODY: usize = 32 * 1024;

impl From<DeviceError> for ApiError {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::Csr(_) | DeviceError::Invalid(_) => ApiError::bad_request(e.to_string()),
            DeviceError::PseudonymTaken(_) | DeviceError::DuplicateKey | DeviceError::Raced => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            DeviceError::NotFound => ApiError::not_found(e.to_string()),
            DeviceError::Transition(_) => ApiError::unprocessable(e.to_string()),
            DeviceError::Engine(e) => e.into(),
            DeviceError::Store(e) => e.into(),
        }
    }
}

/// The user behind `X-GovStack-AuthenticationToken`.
async fn caller(state: &AppState, request: &Request<Incoming>) -> Result<Identity, ApiError> {
    let token = authentication_token(request)?;
    Ok(state.identity.identify(&token).await?)
}

#[derive(Deserialize)]
struct CreateRequest {
    #[serde(rename = "CSR")]
    csr: String,
    #[serde(rename = "SCDType")]
    scd_type: String,
    #[serde(rename = "SCDRemoteId")]
    scd_remote_id: String,
    #[serde(rename = "SCDKeyId")]
    scd_key_id: i64,
    #[serde(rename = "pseodonym", alias = "pseudonym")]
    pseudonym: Option<String>,
    #[serde(rename = "requestTimestamp")]
    _request_timestamp: Option<String>,
}

/// `POST /v1/cert/create`
pub async fn create(state: &AppState, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let identity = caller(state, &request).await?;
    let payment = payment_token(&request);
    let body: CreateRequest = read_json(request, MAX_BODY).await?;
    state.payment.check(state.store.as_ref(), payment.as_deref()).await?;
    let enrolment = Enrolment {
        csr: body.csr,
        scd_type: body.scd_type,
        scd_remote_id: body.scd_remote_id,
        scd_key_id: body.scd_key_id,
        pseudonym: body.pseudonym,
    };
    let row = state.devices.enrol(identity, enrolment).await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "certificateId": row.certificate_id,
            "pseudonym": row.pseudonym,
            "certificate": pem(&row)?,
            "responseTimestamp": rfc3339(SystemTime::now()),
            "status": { "code": "OK", "message": "Certificate generated successfully" },
        }),
    ))
}

/// `GET /v1/cert/list`
pub async fn list(state: &AppState, request: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let identity = caller(state, request).await?;
    let query = form::parse(request.uri().query().unwrap_or(""));
    let wanted =
        match form::get(&query, "filter").unwrap_or("ALL") {
            "ALL" => None,
            // GovStack's filter says ACTIVATED for ACTIVE certificates.
            "ACTIVATED" => Some(CertificateStatus::Active),
            other => Some(other.parse::<CertificateStatus>().map_err(|_| {
                ApiError::bad_request("filter must be one of ALL, ACTIVATED, EXPIRED, REVOKED, SUSPENDED")
            })?),
        };
    let now = SystemTime::now();
    let mut items = Vec::new();
    for row in state.devices.list(identity.subject_id()).await? {
        let status = status_now(&row, now);
        if wanted.is_some_and(|w| w != status) {
            continue;
        }
        items.push(json!({
            "certificateId": row.certificate_id,
            "pseudonym": row.pseudonym,
            "certificate": pem(&row)?,
            "status": { "code": status.as_str(), "message": status_message(&row, status) },
        }));
    }
    Ok(json(StatusCode::OK, &Value::Array(items)))
}

#[derive(Deserialize)]
struct PatchRequest {
    status: PatchStatus,
    #[serde(rename = "requestTimestamp")]
    _request_timestamp: Option<String>,
}

#[derive(Deserialize)]
struct PatchStatus {
    code: String,
    message: Option<String>,
}

/// `PATCH /v1/cert/{certificateId}`
pub async fn change(
    state: &AppState,
    request: Request<Incoming>,
    certificate_id: &str,
) -> Result<Response<Body>, ApiError> {
    let identity = caller(state, &request).await?;
    let body: PatchRequest = read_json(request, 4096).await?;
    let action: Action = body.status.code.parse().map_err(ApiError::unprocessable)?;
    let message = body.status.message.map(|m| m.chars().take(200).collect::<String>());
    let row = state.devices.change(identity.subject_id(), certificate_id, action, message).await?;
    let status = status_now(&row, SystemTime::now());
    if status != CertificateStatus::Active {
        // Requests waiting for this device end now, and their eServices are told.
        let ended = state.sessions.withdraw_device_requests(&row.certificate_id, status).await?;
        if ended > 0 {
            tracing::info!(ended, "pending device requests ended with the certificate's state change");
        }
    }
    Ok(json(
        StatusCode::OK,
        &json!({
            "responseTimestamp": rfc3339(SystemTime::now()),
            // The PATCH response's vocabulary (GovStack): ACTIVATED rather than ACTIVE.
            "status": {
                "code": if status == CertificateStatus::Active { "ACTIVATED" } else { status.as_str() },
                "message": status_message(&row, status),
            },
        }),
    ))
}

/// `GET /v1/crl`
pub async fn crl(state: &AppState) -> Result<Response<Body>, ApiError> {
    let der = state.devices.crl().await?;
    let mut response = Response::new(Full::new(Bytes::from(der)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/pkix-crl"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(response)
}

fn pem(row: &DeviceCertificateRow) -> Result<String, ApiError> {
    let certificate = <x509_cert::Certificate as der::Decode>::from_der(&row.der).map_err(|e: der::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "a stored certificate is unreadable")
            .with_detail(e.to_string())
    })?;
    certificate
        .to_pem(der::pem::LineEnding::LF)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed").with_detail(e.to_string()))
}

fn status_message(row: &DeviceCertificateRow, status: CertificateStatus) -> String {
    let since = rfc3339(row.changed_at);
    let word = status.as_str().to_ascii_lowercase();
    match (status, &row.state_message) {
        (CertificateStatus::Expired, _) => format!("Certificate expired at {}", rfc3339(row.not_after)),
        (CertificateStatus::Active, None) => format!("Certificate active since {since}"),
        (_, None) => format!("Certificate {word} since {since}"),
        (_, Some(reason)) => format!("Certificate {word} since {since}: {reason}"),
    }
}
