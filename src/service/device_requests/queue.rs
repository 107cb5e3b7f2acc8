//! Queueing a request for a device: at most [`MAX_PENDING_PER_DEVICE`] wait for one device; the
//! signed attributes are prepared for its certificate; the request and its session's move to
//! `device` are one store transaction; polling devices are woken.

use std::time::SystemTime;

use der::Decode;
use x509_cert::Certificate;

use super::{DeviceRequest, DeviceRequestError, DeviceRequests, MAX_PENDING_PER_DEVICE};
use crate::config::ClientConfig;
use crate::ids::random_hex;
use crate::service::ServiceError;
use crate::service::audit_events;
use crate::service::engine::device_signed_attributes;
use crate::service::sessions::model::epoch_secs;
use crate::service::sessions::{Lang, Session, SessionError, Status, asker};
use crate::store::device_requests::Queued;
use crate::store::devices::DeviceCertificateRow;
use crate::vocabulary::{Digest, Format, RequestState, SessionState};

/// What an eService's pseudonym request carries (checked for form at the door; its pseudonym
/// from the pseudonym token).
#[derive(Clone, Debug)]
pub struct PseudonymRequest {
    /// The digest.
    pub digest: Digest,
    /// CAdES or PAdES.
    pub format: Format,
    /// What the device shows.
    pub data_to_be_displayed: String,
    /// Echoed back.
    pub nonce: Option<String>,
    /// Echoed back.
    pub state: Option<String>,
    /// The verified payment, spent when the signature is delivered.
    pub payment: Option<crate::service::payment::Paid>,
}

impl DeviceRequests {
    /// `POST /v1/sign/pseudonym`: a new session for `client` waiting on `device`. Returns its
    /// signature id, which is also the session's correlation id (the eService has no other name
    /// for it: webhooks and `GET /v1/sessions/{correlationId}` use it).
    ///
    /// # Errors
    /// [`DeviceRequestError::Busy`]; store and CMS failures.
    pub async fn queue_new(
        &self,
        client: &ClientConfig,
        device: &DeviceCertificateRow,
        request: PseudonymRequest,
    ) -> Result<String, ServiceError> {
        let signature_id = random_hex(32);
        let session = Session {
            id: random_hex(16),
            client_id: client.id.clone(),
            correlation_id: signature_id.clone(),
            digest: request.digest,
            format: request.format,
            data_to_be_displayed: request.data_to_be_displayed,
            callback_url: String::new(),
            webhook_url: client.webhook_url.clone(),
            lang: Lang::En,
            pub_key_pem: None,
            eservice_nonce: request.nonce,
            eservice_state: request.state,
            expires_at: epoch_secs(SystemTime::now() + self.lifetime),
            status: Status::Pending,
            binding: None,
            unsigned_query: false,
            payment: request.payment,
            use_case: None,
            means: None,
        };
        self.queue(session, device, None, signature_id.clone()).await?;
        Ok(signature_id)
    }

    /// The signing page's "sign with my device": the pending `session` waits on `device`.
    ///
    /// # Errors
    /// [`DeviceRequestError::Busy`]; [`SessionError::AlreadyUsed`] when the session moved on.
    pub async fn queue_pending(&self, session: Session, device: &DeviceCertificateRow) -> Result<(), ServiceError> {
        self.queue(session, device, Some(SessionState::Pending), random_hex(32)).await
    }

    /// Prepare the signed attributes for `device`, queue the request (redeemable as
    /// `signature_id`) and move `session` (from `from`, or new) to `device`, in one store
    /// transaction; wake polling devices.
    async fn queue(
        &self,
        mut session: Session,
        device: &DeviceCertificateRow,
        from: Option<SessionState>,
        signature_id: String,
    ) -> Result<(), ServiceError> {
        let store = &self.core.store;
        let certificate =
            Certificate::from_der(&device.der).map_err(|e| ServiceError::damaged("device certificate", e))?;
        let signed_attributes =
            device_signed_attributes(session.format, &session.digest, &certificate, SystemTime::now())?;
        let expires = (SystemTime::now() + self.lifetime).min(session.expires());
        let request = DeviceRequest {
            request_id: random_hex(16),
            signature_id,
            certificate_id: device.certificate_id.clone(),
            data_to_be_displayed: session.data_to_be_displayed.clone(),
            digest: session.digest.clone(),
            format: session.format,
            signed_attributes,
            expires_at: epoch_secs(expires),
            outcome: None,
        };
        session.status = Status::Device { request_id: request.request_id.clone() };
        let row = request.to_row(&session.client_id, &session.id, RequestState::Pending);
        let subject = self.core.engine.subject_hash(&device.owner).await?;
        let mut events = Vec::with_capacity(2);
        if from.is_none() {
            events.push(crate::service::sessions::created_event(&session));
        }
        events.push(audit_events::device_request_queued(
            asker(&session),
            &request.request_id,
            &device.certificate_id,
            &subject,
        ));
        match store.add_device_request(&row, &session.to_row(), from, MAX_PENDING_PER_DEVICE, &events).await? {
            Queued::Done => {}
            Queued::DeviceBusy => return Err(DeviceRequestError::Busy.into()),
            Queued::SessionMoved => {
                return Err(match from {
                    Some(_) => SessionError::AlreadyUsed,
                    None => SessionError::CorrelationIdTaken(session.correlation_id),
                }
                .into());
            }
        }
        self.waiters.wake(&device.certificate_id);
        tracing::info!(client = %session.client_id, correlation_id = %session.correlation_id, request_id = %request.request_id, "signing request queued for a device");
        Ok(())
    }
}
