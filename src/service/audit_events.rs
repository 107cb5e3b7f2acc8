//! The audit events the service records (`docs/audit.md` lists them), built from what each
//! workflow knows. Nothing personal goes in clear: a citizen is their subject hash (HMAC in the
//! HSM), shown text and signature values are SHA-256 digests, ids that work as bearer
//! capabilities (signature ids, payment token ids) are SHA-256 digests too.

use serde_json::json;

use super::engine::SignatureRecord;
use super::payment::Paid;
use crate::audit::AuditEvent;
use crate::hsm::HashAlgorithm;
use crate::identity::client::Login;
use crate::vocabulary::rfc3339;

/// SHA-256 of `text`, hex.
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(HashAlgorithm::Sha256.digest(text.as_bytes()))
}

/// Who asked, in which of their transactions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asker<'a> {
    /// The eService's client id.
    pub client: &'a str,
    /// Its correlation id (`None` for `POST /v1/sign/onetime`).
    pub correlation_id: Option<&'a str>,
}

impl Asker<'_> {
    fn event(&self, kind: &'static str, fields: serde_json::Value) -> AuditEvent {
        let event = AuditEvent::new(kind, fields).with("client", self.client);
        match self.correlation_id {
            Some(id) => event.with("correlationId", id),
            None => event,
        }
    }
}

/// The citizen logged in at the provider for `asker`'s session.
pub(crate) fn authenticated(asker: Asker<'_>, login: &Login, subject: &str) -> AuditEvent {
    asker.event(
        "citizen.authenticated",
        json!({ "subject": subject, "provider": login.provider, "acr": login.acr, "authTime": login.auth_time }),
    )
}

/// The citizen pressed "Sign" on the page.
pub(crate) fn consent_given(asker: Asker<'_>) -> AuditEvent {
    asker.event("consent.given", json!({}))
}

/// A session ended without a signature (`reason`: the failure code the eService is told).
pub(crate) fn session_failed(asker: Asker<'_>, reason: &str) -> AuditEvent {
    let kind = if reason == "cancelled" { "consent.refused" } else { "session.failed" };
    asker.event(kind, json!({ "reason": reason }))
}

/// The events of a finished signature, in the order they happened: for a one-time key its
/// certificate, the signature, the time-stamp and the key's destruction; for a device, the
/// signature and the time-stamp.
pub(crate) fn signature(
    asker: Asker<'_>,
    record: &SignatureRecord,
    digest: &crate::vocabulary::Digest,
    subject: Option<&str>,
) -> Vec<AuditEvent> {
    let mut events = Vec::with_capacity(4);
    if let Some(key) = record.key {
        events.push(asker.event(
            "certificate.issued",
            json!({
                "serial": record.leaf_serial,
                "notBefore": rfc3339(record.not_before),
                "notAfter": rfc3339(record.not_after),
                "keyAlgorithm": key.to_string(),
                "subject": subject,
            }),
        ));
    }
    events.push(asker.event(
        "signature.produced",
        json!({
            "model": if record.key.is_some() { "one-time" } else { "device" },
            "serial": record.leaf_serial,
            "digest": digest.hex(),
            "hashType": digest.hash().name(),
            "format": record.format.name(),
            "signatureSha256": record.signature_sha256,
            "subject": subject,
        }),
    ));
    events.push(asker.event(
        "timestamp.issued",
        json!({ "tsa": record.tsa, "serial": record.timestamp_serial, "genTime": rfc3339(record.gen_time), "signatureSerial": record.leaf_serial }),
    ));
    if record.key.is_some() {
        events.push(asker.event("key.destroyed", json!({ "serial": record.leaf_serial })));
    }
    events
}

/// A payment token spent.
pub(crate) fn payment_spent(asker: Asker<'_>, paid: &Paid) -> AuditEvent {
    let spend = paid.spend();
    asker.event("payment.spent", json!({ "kind": spend.kind, "idSha256": sha256_hex(&spend.id) }))
}

/// A signature waiting for redemption was kept under `signature_id`.
pub(crate) fn kept(asker: Asker<'_>, signature_id: &str) -> AuditEvent {
    asker.event("signature.kept", json!({ "signatureIdSha256": sha256_hex(signature_id) }))
}

/// A signing request was queued for a device.
pub(crate) fn device_request_queued(
    asker: Asker<'_>,
    request_id: &str,
    certificate_id: &str,
    subject: &str,
) -> AuditEvent {
    asker.event(
        "device.request.queued",
        json!({ "requestId": request_id, "certificateId": certificate_id, "subject": subject }),
    )
}

/// A device request ended (`outcome`: signed, refused, expired, failed).
pub(crate) fn device_request_ended(asker: Asker<'_>, request_id: &str, outcome: &str) -> AuditEvent {
    asker.event("device.request.answered", json!({ "requestId": request_id, "outcome": outcome }))
}

/// A certificate for a key on the citizen's own device (`how`: `enrolled` or `wallet`).
pub(crate) fn device_certificate(
    row: &crate::store::devices::DeviceCertificateRow,
    subject: &str,
    how: &str,
    replaces: &[String],
) -> AuditEvent {
    AuditEvent::new(
        if how == "wallet" { "wallet.bound" } else { "device.certificate.created" },
        json!({
            "certificateId": row.certificate_id,
            "serial": row.serial,
            "subject": subject,
            "notAfter": rfc3339(row.not_after),
            "scdType": row.scd_type,
            "replaces": replaces,
        }),
    )
}

/// A device certificate changed state.
pub(crate) fn device_state(
    row: &crate::store::devices::DeviceCertificateRow,
    subject: &str,
    to: crate::vocabulary::CertificateState,
    crl_number: u64,
) -> AuditEvent {
    AuditEvent::new(
        "device.certificate.state",
        json!({
            "certificateId": row.certificate_id,
            "serial": row.serial,
            "subject": subject,
            "from": row.state.as_str(),
            "to": to.as_str(),
            "crlNumber": crl_number,
        }),
    )
}

/// The eService took its signature.
pub(crate) fn redeemed(client: &str, signature_id: &str) -> AuditEvent {
    AuditEvent::new("signature.redeemed", json!({ "client": client, "signatureIdSha256": sha256_hex(signature_id) }))
}
