//! `POST /v1/sign/onetime` (GovStack): a one-time signature for a citizen the eService has
//! already authenticated at the ID provider. The request arrives checked (format, a digest of
//! the right length); here the access token and the payment are validated, the signature made,
//! and its certificate published (`GET /v1/certs/{serial}`) with the payment spent, in one store
//! transaction, before the answer goes out.

use super::engine::{OneTimeRequest, SignatureRecord};
use super::payment::{Paid, spent_twice};
use super::{EsignService, ServiceError};
use crate::store::CertificateRow;
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
        let paid = self.payment.verify(payment_token).await?;
        let request = OneTimeRequest { identity, digest: request.digest, format: request.format };
        let record = self.core.engine.sign_one_time(request).await?;
        self.publish(&record, paid.as_ref()).await?;
        let mut response = record.sign_response();
        self.core.add_validation_data(&mut response).await?;
        Ok(response)
    }

    /// Publish a one-time certificate under its serial, spending the payment with it.
    async fn publish(&self, record: &SignatureRecord, paid: Option<&Paid>) -> Result<(), ServiceError> {
        let der = der::Encode::to_der(&record.leaf).map_err(|e| ServiceError::damaged("certificate", e))?;
        let certificate = CertificateRow { serial: record.leaf_serial.clone(), der, not_after: record.not_after };
        let spend = paid.map(Paid::spend);
        self.core.store.publish_certificate(&certificate, spend.as_ref()).await.map_err(spent_twice)
    }
}
