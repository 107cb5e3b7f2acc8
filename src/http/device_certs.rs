//! GovStack `/v1/cert/*` (the user's own signing device), the user authenticated by
//! `X-GovStack-AuthenticationToken`:
//!
//! - `POST /v1/cert/create`: enrol a device's key by CSR;
//! - `GET /v1/cert/list?filter=`: the user's own device certificates;
//! - `PATCH /v1/cert/{certificateId}`: ACTIVATE, SUSPEND or REVOKE one of them (reactivating
//!   and revoking need a fresh login, or `deviceProof`: a device JWT for `{public_url}/v1/cert`
//!   with `action`, signed by the certificate's key).

use std::time::SystemTime;

use hyper::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::json;
use super::call::Call;
use super::form;
use super::headers::{authentication_token, payment_token};
use super::response::{self, Body};
use crate::service::{Action, CertificateStatus, DeviceCertificate, Enrolment, RequestError, ServiceError, rfc3339};

/// Largest request body (a CSR with an RSA-8192 key is about 2 KB of PEM).
const MAX_BODY: usize = 32 * 1024;

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
pub(super) async fn create(call: Call) -> Result<Response<Body>, ServiceError> {
    let token = authentication_token(&call.request)?;
    let payment = payment_token(&call.request);
    let body: CreateRequest = json(call.request, MAX_BODY).await?;
    let enrolment = Enrolment {
        csr: body.csr,
        scd_type: body.scd_type,
        scd_remote_id: body.scd_remote_id,
        scd_key_id: body.scd_key_id,
        pseudonym: body.pseudonym,
    };
    let enrolled = call.service.enrol_device(&token, payment.as_deref(), enrolment).await?;
    Ok(response::json(&json!({
        "certificateId": enrolled.certificate_id,
        "pseudonym": enrolled.pseudonym,
        "certificate": enrolled.pem,
        "responseTimestamp": rfc3339(SystemTime::now()),
        "status": { "code": "OK", "message": "Certificate generated successfully" },
    })))
}

/// `GET /v1/cert/list`
pub(super) async fn list(call: Call) -> Result<Response<Body>, ServiceError> {
    let token = authentication_token(&call.request)?;
    let query = form::parse(call.request.uri().query().unwrap_or(""));
    let wanted =
        match form::get(&query, "filter").unwrap_or("ALL") {
            "ALL" => None,
            // GovStack's filter says ACTIVATED for ACTIVE certificates.
            "ACTIVATED" => Some(CertificateStatus::Active),
            other => Some(other.parse::<CertificateStatus>().map_err(|_| {
                RequestError::invalid("filter must be one of ALL, ACTIVATED, EXPIRED, REVOKED, SUSPENDED")
            })?),
        };
    let items: Vec<Value> = call
        .service
        .list_devices(&token, wanted)
        .await?
        .iter()
        .map(|c| {
            json!({
                "certificateId": c.certificate_id,
                "pseudonym": c.pseudonym,
                "certificate": c.pem,
                "status": { "code": c.status.as_str(), "message": status_message(c) },
            })
        })
        .collect();
    Ok(response::json(&Value::Array(items)))
}

#[derive(Deserialize)]
struct PatchRequest {
    status: PatchStatus,
    #[serde(rename = "requestTimestamp")]
    _request_timestamp: Option<String>,
    /// The device's signed word for this change (esignd's extension): lets a reactivation or
    /// revocation through without a fresh login.
    #[serde(rename = "deviceProof")]
    device_proof: Option<String>,
}

#[derive(Deserialize)]
struct PatchStatus {
    code: String,
    message: Option<String>,
}

/// `PATCH /v1/cert/{certificateId}`
pub(super) async fn change(call: Call) -> Result<Response<Body>, ServiceError> {
    let token = authentication_token(&call.request)?;
    let body: PatchRequest = json(call.request, 4096).await?;
    let action: Action = body.status.code.parse().map_err(RequestError::unprocessable)?;
    let message = body.status.message.map(|m| m.chars().take(200).collect::<String>());
    let proof = body.device_proof.as_deref();
    let changed = call.service.change_device(&token, &call.param, action, message, proof).await?;
    let code = match changed.status {
        // The PATCH response's vocabulary (GovStack): ACTIVATED rather than ACTIVE.
        CertificateStatus::Active => "ACTIVATED",
        other => other.as_str(),
    };
    Ok(response::json(&json!({
        "responseTimestamp": rfc3339(SystemTime::now()),
        "status": { "code": code, "message": status_message(&changed) },
    })))
}

/// GovStack's status message: since when, and the owner's reason.
fn status_message(certificate: &DeviceCertificate) -> String {
    let since = rfc3339(certificate.changed_at);
    let word = certificate.status.as_str().to_ascii_lowercase();
    match (certificate.status, &certificate.reason) {
        (CertificateStatus::Expired, _) => format!("Certificate expired at {}", rfc3339(certificate.not_after)),
        (CertificateStatus::Active, None) => format!("Certificate active since {since}"),
        (_, None) => format!("Certificate {word} since {since}"),
        (_, Some(reason)) => format!("Certificate {word} since {since}: {reason}"),
    }
}
