//! `POST /v1/sign/onetime` (GovStack): a one-time signature for a citizen the eService has
//! already authenticated at the ID provider. The request arrives checked (format, a digest of
//! the right length); here the access token and the payment are validated, the signature made,
//! and its certificate published (`GET /v1/certs/{serial}`) with the payment spent, in one store
//! transaction, before the answer goes out.

use super::audit_events::{self, Asker};
use super::engine::{OneTimeRequest, SignatureRecord};
use super::payment::{Paid, spent_twice};
use super::{EsignService, ServiceError};
use crate::store::CertificateRow;
use crate::vocabulary::{Digest, Format};

/// Who the audit names as the asker of `POST /v1/sign/onetime`: the caller is the citizen's
/// own access token (the relying party is the token's audience), not a registered eService.
const ONETIME_CALLER: &str = "onetime";

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
        let digest = request.digest.clone();
        let started = std::time::Instant::now();
        let record = match self.core.engine.sign_one_time(request).await {
            Ok(record) => record,
            Err(e) => {
                if matches!(e, super::engine::EngineError::Tsa(_)) {
                    self.metrics.timestamp_failed();
                }
                return Err(e.into());
            }
        };
        self.metrics.onetime(started.elapsed().as_secs_f64(), &record.steps.named());
        let asker = Asker { client: ONETIME_CALLER, correlation_id: None };
        let mut events = audit_events::signature(asker, &record, &digest, record.subject_hash.as_deref());
        events.extend(paid.as_ref().map(|paid| audit_events::payment_spent(asker, paid)));
        self.publish(&record, paid.as_ref(), &events).await?;
        let mut response = record.sign_response();
        self.core.add_validation_data(&mut response).await?;
        Ok(response)
    }

    /// Publish a one-time certificate under its serial, spending the payment with it.
    async fn publish(
        &self,
        record: &SignatureRecord,
        paid: Option<&Paid>,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), ServiceError> {
        let der = der::Encode::to_der(&record.leaf).map_err(|e| ServiceError::damaged("certificate", e))?;
        let certificate = CertificateRow { serial: record.leaf_serial.clone(), der, not_after: record.not_after };
        let spend = paid.map(Paid::spend);
        self.core.store.publish_certificate(&certificate, spend.as_ref(), events).await.map_err(spent_twice)
    }
}
