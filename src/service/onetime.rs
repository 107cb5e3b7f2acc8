//! `POST /v1/sign/onetime` (GovStack): a one-time signature for a citizen the eService has
//! already authenticated at the ID provider. The request arrives checked (format, a digest of
//! the right length); here the access token is validated, the payment spent, the signature made
//! and its certificate published (`GET /v1/certs/{serial}`) before the answer goes out.

use super::engine::{OneTimeRequest, SignatureRecord};
use super::{EsignService, ServiceError};
use crate::vocabulary::{Digest, Format};

/// A GovStack `SignRequest`, decoded at the door.
#[derive(Clone, Debug)]
pub struct SignRequest {
    /// CAdES or PAdES.
    pub format: Format,
    /// The document digest.
    pub digest: Digest,
    /// What the citizen is shown (at most 1000 characters).
    pub data_to_be_displayed: Option<String>,
}

impl EsignService {
    /// Sign `request` for the citizen behind `access_token`, paid by `payment_token` when
    /// payment is required; returns the GovStack SignResponse.
    ///
    /// # Errors
    /// Identity (401/503), payment (402/503), HSM, TSA and store failures; a signature that
    /// failed its final check.
    pub async fn sign_onetime(
        &self,
        access_token: &str,
        payment_token: Option<&str>,
        request: SignRequest,
    ) -> Result<serde_json::Value, ServiceError> {
        let identity = self.identity.identify(access_token).await?;
        self.payment.check(self.core.store.as_ref(), payment_token).await?;
        let request = OneTimeRequest { identity, digest: request.digest, format: request.format };
        let record = self.core.engine.sign_one_time(request).await?;
        self.publish(&record).await?;
        Ok(record.sign_response())
    }

    /// Publish a one-time certificate under its serial.
    async fn publish(&self, record: &SignatureRecord) -> Result<(), ServiceError> {
        let der = der::Encode::to_der(&record.leaf).map_err(|e| ServiceError::damaged("certificate", e))?;
        Ok(self.core.store.publish_certificate(&record.leaf_serial, &der, record.not_after).await?)
    }
}
