//! A signing request queued for a user's device, as the store keeps its body: what the device
//! shows and signs (the CAdES signed attributes prepared for its certificate), until when, and
//! how it ended when it did not end signed.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use super::DeviceRequestError;
use crate::service::engine::device_scheme;
use crate::store::device_requests::DeviceRequestRow;
use crate::vocabulary::{Digest, Format, RequestState};

/// A request queued for a device (the stored body).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeviceRequest {
    /// Random id the device answers to.
    pub request_id: String,
    /// Random id the eService redeems with.
    pub signature_id: String,
    /// The certificate that must sign.
    pub certificate_id: String,
    /// What the device shows its user.
    pub data_to_be_displayed: String,
    /// The document digest (stored as `digest_hex` and `hash_type`).
    #[serde(flatten)]
    pub digest: Digest,
    /// CAdES or PAdES.
    pub format: Format,
    /// The DER signed attributes the device signs (stored in hex).
    #[serde(rename = "signed_attributes_hex", with = "hex_bytes")]
    pub signed_attributes: Vec<u8>,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// How it ended, for the eService, when it did not end signed.
    pub outcome: Option<String>,
}

impl DeviceRequest {
    /// When the device can no longer answer.
    pub fn expires(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.expires_at)
    }

    /// Read a stored request.
    ///
    /// # Errors
    /// [`DeviceRequestError::Unknown`] for a body that is not a request (a damaged store).
    pub fn from_row(row: &DeviceRequestRow) -> Result<Self, DeviceRequestError> {
        serde_json::from_str(&row.body).map_err(|_| DeviceRequestError::Unknown)
    }

    /// The stored form, in `status`, for `client_id`'s session `session_id`.
    pub fn to_row(&self, client_id: &str, session_id: &str, status: RequestState) -> DeviceRequestRow {
        DeviceRequestRow {
            request_id: self.request_id.clone(),
            signature_id: self.signature_id.clone(),
            client_id: client_id.to_owned(),
            session_id: session_id.to_owned(),
            certificate_id: self.certificate_id.clone(),
            status,
            expires_at: self.expires(),
            body: serde_json::to_string(self).expect("a device request serialises"),
        }
    }

    /// The signature algorithm the device signs with, by its ASN.1 name: `ecdsa-with-SHA256`
    /// (RFC 5758) or `sha256WithRSAEncryption` (RFC 4055), with the document's hash — the
    /// device hashes the signed attributes with it.
    pub fn algorithm_name(&self, certificate: &Certificate) -> String {
        let hash = self.digest.hash();
        let bits = hash.output_len() * 8;
        match device_scheme(certificate, hash) {
            Ok(crate::hsm::SignatureScheme::Ecdsa(_)) => format!("ecdsa-with-SHA{bits}"),
            _ => format!("sha{bits}WithRSAEncryption"),
        }
    }
}

/// Bytes as lowercase hex in a stored body.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}
