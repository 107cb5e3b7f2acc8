//! What a user's own signing device asks (esignd's device API, `docs/device-api.yaml`), proving
//! itself with a JWT signed by its certified key: the requests waiting for it (a long poll) and
//! its answer to one of them.

use std::time::{Duration, SystemTime};

use der::Decode;
use x509_cert::Certificate;

use super::device_requests::DeviceAnswer;
use super::{EsignService, ServiceError};
use crate::vocabulary::{Digest, Format, RequestState};

/// A request as the device sees it.
#[derive(Clone, Debug)]
pub struct PendingRequest {
    /// What the device answers to.
    pub request_id: String,
    /// What the device shows its user.
    pub data_to_be_displayed: String,
    /// CAdES or PAdES.
    pub format: Format,
    /// The document digest.
    pub digest: Digest,
    /// The DER signed attributes the device signs.
    pub signed_attributes: Vec<u8>,
    /// The signature algorithm by its ASN.1 name (`ecdsa-with-SHA256`, ...).
    pub signature_algorithm: String,
    /// When the device can no longer answer.
    pub expires: SystemTime,
}

impl EsignService {
    /// The requests waiting for the device whose JWT `bearer` is, waiting up to `wait` for one
    /// to arrive (answered at once when the daemon is stopping).
    ///
    /// # Errors
    /// The device's JWT (401, or 403 for a certificate that is not ACTIVE); store failures.
    pub async fn device_requests(
        &self,
        bearer: Option<&str>,
        wait: Duration,
    ) -> Result<Vec<PendingRequest>, ServiceError> {
        let device = self.devices.authenticate(bearer).await?;
        let certificate =
            Certificate::from_der(&device.der).map_err(|e| ServiceError::damaged("device certificate", e))?;
        let pending = self.requests.pending_for(&device, wait).await?;
        Ok(pending
            .into_iter()
            .map(|request| PendingRequest {
                signature_algorithm: request.algorithm_name(&certificate),
                expires: request.expires(),
                request_id: request.request_id,
                data_to_be_displayed: request.data_to_be_displayed,
                format: request.format,
                digest: request.digest,
                signed_attributes: request.signed_attributes,
            })
            .collect())
    }

    /// The answer of the device whose JWT `bearer` is to request `request_id`; returns how the
    /// request ended (signed or refused).
    ///
    /// # Errors
    /// The device's JWT; another device's or an unknown request; a request that no longer takes
    /// answers; a signature that does not verify; TSA, HSM and store failures.
    pub async fn device_answer(
        &self,
        bearer: Option<&str>,
        request_id: &str,
        answer: DeviceAnswer,
    ) -> Result<RequestState, ServiceError> {
        let device = self.devices.authenticate(bearer).await?;
        self.requests.answer(&device, request_id, answer).await
    }
}
