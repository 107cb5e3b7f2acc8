//! A device's answer: a refusal ends the request; a signature is verified with the device
//! certificate, finished as CAdES B-T by the engine (time-stamped and checked), and kept for
//! redemption with the request and its session moved to `signed` — one store transaction. A
//! signature that does not verify changes nothing: the device may answer again until the
//! request expires.

use std::time::SystemTime;

use der::Decode;
use x509_cert::Certificate;

use super::expiry::NO_ANSWER;
use super::{DeviceAnswer, DeviceRequest, DeviceRequestError, DeviceRequests};
use crate::service::audit_events;
use crate::service::engine::{DeviceSignature, SignatureRecord};
use crate::service::payment::{Paid, spent_twice};
use crate::service::sessions::{Status, asker};
use crate::service::{ErrorKind, ServiceError};
use crate::store::SignatureRow;
use crate::store::device_requests::{DeviceRequestRow, DeviceSigned, Finish};
use crate::store::devices::DeviceCertificateRow;
use crate::vocabulary::RequestState;

impl DeviceRequests {
    /// `device`'s answer to request `request_id`; returns how the request ended.
    ///
    /// # Errors
    /// [`DeviceRequestError::Unknown`] (also for another device's request),
    /// [`DeviceRequestError::Closed`]; the engine's
    /// [`crate::service::engine::EngineError::DeviceSignature`] for a signature that does not
    /// verify; TSA, HSM and store failures.
    pub async fn answer(
        &self,
        device: &DeviceCertificateRow,
        request_id: &str,
        answer: DeviceAnswer,
    ) -> Result<RequestState, ServiceError> {
        let row = self
            .core
            .store
            .device_request(request_id)
            .await?
            .filter(|row| row.certificate_id == device.certificate_id)
            .ok_or(DeviceRequestError::Unknown)?;
        if row.status != RequestState::Pending {
            return Err(DeviceRequestError::Closed(Some(row.status)).into());
        }
        let request = DeviceRequest::from_row(&row)?;
        if SystemTime::now() > request.expires() {
            self.end(&row, RequestState::Expired, NO_ANSWER).await?;
            return Err(DeviceRequestError::Closed(Some(RequestState::Expired)).into());
        }
        let signature = match answer {
            DeviceAnswer::Refusal => {
                self.end(&row, RequestState::Refused, "the user refused to sign on their device").await?;
                return Ok(RequestState::Refused);
            }
            DeviceAnswer::Signature(signature) => signature,
        };
        let certificate =
            Certificate::from_der(&device.der).map_err(|e| ServiceError::damaged("device certificate", e))?;
        let record = self
            .core
            .engine
            .finish_device_signature(DeviceSignature {
                certificate,
                digest: request.digest.clone(),
                format: request.format,
                signed_attributes: request.signed_attributes.clone(),
                signature,
            })
            .await?;
        let subject = self.core.engine.subject_hash(&device.owner).await?;
        self.keep(&row, &request, &record, &subject).await?;
        Ok(RequestState::Signed)
    }

    /// Keep the finished signature for redemption (with the eService's nonce and state) and
    /// move the request and its session to signed; tell the eService.
    async fn keep(
        &self,
        row: &DeviceRequestRow,
        request: &DeviceRequest,
        record: &SignatureRecord,
        subject: &str,
    ) -> Result<(), ServiceError> {
        let mut done = self.session_of(row).await?;
        let asker = asker(&done);
        let mut events = vec![audit_events::device_request_ended(asker, &row.request_id, "signed")];
        events.extend(audit_events::signature(asker, record, &request.digest, Some(subject)));
        events.push(audit_events::kept(asker, &request.signature_id));
        events.extend(done.payment.as_ref().map(|paid| audit_events::payment_spent(asker, paid)));
        done.status = Status::Signed { signature_id: request.signature_id.clone() };
        let mut response = record.sign_response();
        self.core.add_validation_data(&mut response).await?;
        if let Some(nonce) = &done.eservice_nonce {
            response["nonce"] = nonce.as_str().into();
        }
        if let Some(state) = &done.eservice_state {
            response["state"] = state.as_str().into();
        }
        let signature = SignatureRow {
            signature_id: request.signature_id.clone(),
            client_id: row.client_id.clone(),
            response: response.to_string(),
            expires_at: SystemTime::now() + self.response_ttl,
        };
        let mut finished = row.clone();
        finished.status = RequestState::Signed;
        let store = &self.core.store;
        let signed =
            DeviceSigned { signature, stamped_at: record.gen_time, spend: done.payment.as_ref().map(Paid::spend) };
        let finish = match store.finish_device_request(&finished, &done.to_row(), Some(&signed), &events).await {
            Ok(finish) => finish,
            Err(e) => {
                let error = spent_twice(e);
                if error.kind() == ErrorKind::PaymentRequired {
                    // Paid twice with one token: the signature is not delivered, the request fails.
                    self.end(row, RequestState::Failed, "the payment token has already been used").await?;
                }
                return Err(error);
            }
        };
        match finish {
            Finish::Done => {}
            Finish::Moved => {
                // It ended while the signature was being finished (expired, withdrawn, answered).
                let now = store.device_request(&row.request_id).await?.map(|row| row.status);
                return Err(DeviceRequestError::Closed(now).into());
            }
            Finish::CertificateWithdrawn => {
                // Suspended or revoked while the signature was being finished: the change wins.
                let reason = "the device certificate was suspended or revoked while the answer was being finished";
                self.end(row, RequestState::Failed, reason).await?;
                return Err(DeviceRequestError::Ended { state: RequestState::Failed, reason: reason.into() }.into());
            }
        }
        tracing::info!(client = %done.client_id, correlation_id = %done.correlation_id, request_id = %row.request_id, timestamp_serial = %record.timestamp_serial, "device signature made");
        self.core.notify(&done);
        Ok(())
    }
}
