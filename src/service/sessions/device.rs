//! Signing with the user's own device (DESIGN §7): a session waits in `device` while its
//! request is queued for the device behind a pseudonym.
//!
//! - [`SessionService::queue_for_device`]: `POST /v1/sign/pseudonym` (a new session) or the
//!   signing page's "sign with my device" (the page's pending session). The CAdES signed
//!   attributes are prepared here, for the device certificate, and stored with the request.
//! - [`SessionService::device_requests`]: what a device finds when it polls (long-poll: woken
//!   when a request is queued).
//! - [`SessionService::device_answer`]: the device's signature — verified, assembled, timestamped,
//!   checked, stored for redemption with the session moved to `signed`, in one transaction — or
//!   its refusal.
//! - Requests end `expired` when their time runs out, `failed` when the certificate is suspended
//!   or revoked meanwhile; the session fails with them and the eService is told (webhook,
//!   redirect, `GET /v1/sign/response/{signatureId}`).

use std::time::{Duration, SystemTime};

use der::Decode;
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use super::model::{Failure, Session, Status};
use super::{SessionError, SessionService, epoch_secs};
use crate::config::ClientConfig;
use crate::ids::random_hex;
use crate::service::devices::service::status_now;
use crate::service::engine::{DeviceSignature, device_scheme, device_signed_attributes};
use crate::store::SignatureRow;
use crate::store::device_requests::DeviceRequestRow;
use crate::store::devices::DeviceCertificateRow;
use crate::vocabulary::{CertificateStatus, Digest, Format, RequestState, SessionState};

/// Why a request ended expired.
const NO_ANSWER: &str = "the device did not answer in time";

/// The most requests that may wait for one device: more are refused (429) until it answers
/// or they expire, so that no eService can flood a citizen's device.
pub const MAX_PENDING_PER_DEVICE: usize = 10;

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

    fn from_row(row: &DeviceRequestRow) -> Result<Self, SessionError> {
        serde_json::from_str(&row.body).map_err(|_| SessionError::UnknownDeviceRequest)
    }

    fn to_row(&self, client_id: &str, session_id: &str, status: RequestState) -> DeviceRequestRow {
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

/// What an eService's pseudonym request carries (checked for form by the HTTP layer).
#[derive(Clone, Debug)]
pub struct PseudonymRequest {
    /// The pseudonym (from the pseudonym token).
    pub pseudonym: String,
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
}

/// A device's answer.
#[derive(Clone, Debug)]
pub enum DeviceAnswer {
    /// The signature over the signed attributes.
    Signature(Vec<u8>),
    /// The user said no.
    Refusal,
}

/// How a redemption attempt stands when the signature is not (or no longer) there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    /// The device has not answered yet.
    Waiting,
    /// It ended without a signature: refused, expired or failed, and why.
    Ended {
        /// The request's state.
        status: RequestState,
        /// Why.
        reason: String,
    },
}

impl SessionService {
    /// The live device certificate behind `pseudonym`.
    async fn device_for(&self, pseudonym: &str) -> Result<DeviceCertificateRow, SessionError> {
        let row = self.store.device_by_pseudonym(pseudonym).await?.ok_or(SessionError::UnknownPseudonym)?;
        match status_now(&row, SystemTime::now()) {
            CertificateStatus::Active => Ok(row),
            other => Err(SessionError::DeviceUnfit(other)),
        }
    }

    /// Issue a pseudonym token for `client` (`GET /v1/token/pseodonym/{pseudonym}`); the
    /// pseudonym must name an ACTIVE device.
    ///
    /// # Errors
    /// [`SessionError::UnknownPseudonym`], [`SessionError::DeviceUnfit`]; HSM failures.
    pub async fn pseudonym_token(&self, client: &ClientConfig, pseudonym: &str) -> Result<String, SessionError> {
        self.device_for(pseudonym).await?;
        let claims = crate::service::devices::pseudonym_token::claims(&self.public_url, pseudonym, &client.id);
        Ok(self.signing.sign_jws("JWT", claims.to_string().into_bytes()).await?)
    }

    /// Check a pseudonym token sent by `client`; returns its pseudonym.
    ///
    /// # Errors
    /// [`SessionError::PseudonymToken`].
    pub fn check_pseudonym_token(&self, client: &ClientConfig, token: &str) -> Result<String, SessionError> {
        crate::service::devices::pseudonym_token::pseudonym(token, &self.public_url, &self.jwks, &client.id)
            .map_err(SessionError::PseudonymToken)
    }

    /// `POST /v1/sign/pseudonym`: a session for `client` waiting on the device behind the
    /// pseudonym. Returns the session and its signature id, which is also the session's
    /// correlation id (the eService has no other name for it: webhooks and
    /// `GET /v1/sessions/{correlationId}` use it).
    ///
    /// # Errors
    /// [`SessionError::UnknownPseudonym`], [`SessionError::DeviceUnfit`]; store and CMS failures.
    pub async fn queue_for_pseudonym(
        &self,
        client: &ClientConfig,
        request: PseudonymRequest,
    ) -> Result<(Session, String), SessionError> {
        let device = self.device_for(&request.pseudonym).await?;
        let expires_at = epoch_secs(SystemTime::now() + self.device_request_lifetime);
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
            lang: super::Lang::En,
            pub_key_pem: None,
            eservice_nonce: request.nonce,
            eservice_state: request.state,
            expires_at,
            status: Status::Pending,
        };
        let (session, queued) = self.queue_for_device(session, &device, None, signature_id).await?;
        Ok((session, queued.signature_id))
    }

    /// The signing page's "sign with my device": the pending session behind `token` waits on
    /// the device behind `pseudonym`.
    ///
    /// # Errors
    /// As [`Self::open`]; [`SessionError::UnknownPseudonym`], [`SessionError::DeviceUnfit`].
    pub async fn sign_with_device(&self, token: &str, pseudonym: &str) -> Result<Session, SessionError> {
        let session = self.open(token).await?;
        let device = self.device_for(pseudonym.trim()).await?;
        let (session, _) = self.queue_for_device(session, &device, Some(SessionState::Pending), random_hex(32)).await?;
        Ok(session)
    }

    /// Prepare the signed attributes for `device`, queue the request (redeemable as
    /// `signature_id`) and move `session` (from `from`, or new) to `device`, in one store
    /// transaction; wake polling devices.
    async fn queue_for_device(
        &self,
        mut session: Session,
        device: &DeviceCertificateRow,
        from: Option<SessionState>,
        signature_id: String,
    ) -> Result<(Session, DeviceRequest), SessionError> {
        let waiting = self.store.pending_device_requests(&device.certificate_id, SystemTime::now()).await?;
        if waiting.len() >= MAX_PENDING_PER_DEVICE {
            return Err(SessionError::DeviceBusy);
        }
        let certificate = Certificate::from_der(&device.der).map_err(|_| SessionError::UnknownPseudonym)?;
        let signed_attributes =
            device_signed_attributes(session.format, &session.digest, &certificate, SystemTime::now())?;
        let expires = (SystemTime::now() + self.device_request_lifetime).min(session.expires());
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
        if !self.store.add_device_request(&row, &session.to_row(), from).await? {
            return Err(match from {
                Some(_) => SessionError::AlreadyUsed,
                None => SessionError::CorrelationIdTaken(session.correlation_id),
            });
        }
        self.device_waiters.notify_waiters();
        tracing::info!(client = %session.client_id, correlation_id = %session.correlation_id, request_id = %request.request_id, "signing request queued for a device");
        Ok((session, request))
    }

    /// The pending requests for `device`, waiting up to `wait` for one to arrive.
    ///
    /// # Errors
    /// Store failures.
    pub async fn device_requests(
        &self,
        device: &DeviceCertificateRow,
        wait: Duration,
    ) -> Result<Vec<DeviceRequest>, SessionError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.device_waiters.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let rows = self.store.pending_device_requests(&device.certificate_id, SystemTime::now()).await?;
            let stopping = self.stopping.load(std::sync::atomic::Ordering::Acquire);
            if !rows.is_empty() || stopping || tokio::time::Instant::now() >= deadline {
                return rows.iter().map(DeviceRequest::from_row).collect();
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The daemon is stopping: answer every long poll now (with what is pending) and every
    /// later one at once.
    pub fn stop_device_polls(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::Release);
        self.device_waiters.notify_waiters();
    }

    /// The device's answer to request `request_id`. A signature that does not verify changes
    /// nothing (the device may answer again until the request expires).
    ///
    /// # Errors
    /// [`SessionError::UnknownDeviceRequest`] (also another device's),
    /// [`SessionError::DeviceRequestClosed`], a `Service` error wrapping
    /// [`crate::service::engine::EngineError::DeviceSignature`]; TSA, HSM, store failures.
    pub async fn device_answer(
        &self,
        device: &DeviceCertificateRow,
        request_id: &str,
        answer: DeviceAnswer,
    ) -> Result<RequestState, SessionError> {
        let row = self
            .store
            .device_request(request_id)
            .await?
            .filter(|row| row.certificate_id == device.certificate_id)
            .ok_or(SessionError::UnknownDeviceRequest)?;
        if row.status != RequestState::Pending {
            return Err(SessionError::DeviceRequestClosed(Some(row.status)));
        }
        let request = DeviceRequest::from_row(&row)?;
        if SystemTime::now() > request.expires() {
            self.end_device_request(&row, RequestState::Expired, NO_ANSWER).await?;
            return Err(SessionError::DeviceRequestClosed(Some(RequestState::Expired)));
        }
        let signature = match answer {
            DeviceAnswer::Refusal => {
                self.end_device_request(&row, RequestState::Refused, "the user refused to sign on their device")
                    .await?;
                return Ok(RequestState::Refused);
            }
            DeviceAnswer::Signature(signature) => signature,
        };
        let certificate = Certificate::from_der(&device.der).map_err(|_| SessionError::UnknownDeviceRequest)?;
        let record = self
            .signing
            .finish_device_signature(DeviceSignature {
                certificate,
                digest: request.digest.clone(),
                format: request.format,
                signed_attributes: request.signed_attributes.clone(),
                signature,
            })
            .await?;

        let session = self.session_of(&row).await?;
        let mut done = session;
        done.status = Status::Signed { signature_id: request.signature_id.clone() };
        let mut response = record.sign_response();
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
        if !self.store.finish_device_request(&finished, &done.to_row(), Some(&signature)).await? {
            // It ended while the signature was being finished (expired, withdrawn, answered).
            let now = self.store.device_request(request_id).await?.map(|row| row.status);
            return Err(SessionError::DeviceRequestClosed(now));
        }
        tracing::info!(client = %done.client_id, correlation_id = %done.correlation_id, request_id, timestamp_serial = %record.timestamp_serial, "device signature made");
        self.notify(&done);
        Ok(RequestState::Signed)
    }

    /// End a pending request without a signature (refused, expired, failed) and fail its
    /// session; `false` when it had ended already.
    async fn end_device_request(
        &self,
        row: &DeviceRequestRow,
        status: RequestState,
        reason: &str,
    ) -> Result<bool, SessionError> {
        let mut request = DeviceRequest::from_row(row)?;
        request.outcome = Some(reason.to_owned());
        let finished = request.to_row(&row.client_id, &row.session_id, status);
        let mut session = self.session_of(row).await?;
        let error = if status == RequestState::Expired { Failure::Expired } else { Failure::SigningFailed };
        session.status = Status::Failed { error, description: reason.to_owned() };
        if !self.store.finish_device_request(&finished, &session.to_row(), None).await? {
            return Ok(false);
        }
        tracing::info!(client = %session.client_id, correlation_id = %session.correlation_id, request_id = %row.request_id, status = %status, "device request ended without a signature");
        self.notify(&session);
        Ok(true)
    }

    async fn session_of(&self, row: &DeviceRequestRow) -> Result<Session, SessionError> {
        let stored = self.store.session(&row.session_id).await?.ok_or(SessionError::UnknownSession)?;
        Session::from_row(&stored).map_err(|_| SessionError::UnknownSession)
    }

    /// End the pending requests of a certificate that was just suspended or revoked.
    ///
    /// # Errors
    /// Store failures.
    pub async fn withdraw_device_requests(
        &self,
        certificate_id: &str,
        status: CertificateStatus,
    ) -> Result<usize, SessionError> {
        let reason = format!("the device certificate was {}", status.as_str().to_ascii_lowercase());
        let mut ended = 0;
        for row in self.store.pending_device_requests(certificate_id, SystemTime::UNIX_EPOCH).await? {
            if self.end_device_request(&row, RequestState::Failed, &reason).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// End every request whose time ran out (the sweeper calls this).
    ///
    /// # Errors
    /// Store failures.
    pub async fn expire_device_requests(&self) -> Result<usize, SessionError> {
        let mut ended = 0;
        for row in self.store.overdue_device_requests(SystemTime::now()).await? {
            if self.end_device_request(&row, RequestState::Expired, NO_ANSWER).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// How the request behind `signature_id` stands for `client`, when there is no signature to
    /// redeem; `None` when there is no such request either.
    ///
    /// # Errors
    /// Store failures.
    pub async fn device_progress(
        &self,
        client: &ClientConfig,
        signature_id: &str,
    ) -> Result<Option<Pending>, SessionError> {
        let Some(row) = self.store.device_request_by_signature(signature_id, &client.id).await? else {
            return Ok(None);
        };
        let request = DeviceRequest::from_row(&row)?;
        Ok(match row.status {
            RequestState::Pending if SystemTime::now() > request.expires() => {
                self.end_device_request(&row, RequestState::Expired, NO_ANSWER).await?;
                Some(Pending::Ended { status: RequestState::Expired, reason: NO_ANSWER.into() })
            }
            RequestState::Pending => Some(Pending::Waiting),
            RequestState::Signed => None,
            status => {
                Some(Pending::Ended { status, reason: request.outcome.unwrap_or_else(|| status.as_str().to_owned()) })
            }
        })
    }

    /// For the signing page while a device is asked: `Ok(None)` while waiting, or where the
    /// browser goes now that it is over.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`], [`SessionError::UnknownSession`].
    pub async fn device_page(&self, token: &str) -> Result<(Session, Option<String>), SessionError> {
        let session = self.load_by_token(token).await?;
        match &session.status {
            Status::Device { request_id } => {
                let row = self.store.device_request(request_id).await?.ok_or(SessionError::UnknownSession)?;
                if row.status == RequestState::Pending && SystemTime::now() > row.expires_at {
                    self.end_device_request(&row, RequestState::Expired, NO_ANSWER).await?;
                    let session = self.load_by_token(token).await?;
                    let redirect = self.callback_redirect(&session);
                    return Ok((session, Some(redirect)));
                }
                Ok((session, None))
            }
            Status::Signed { .. } | Status::Failed { .. } => {
                let redirect = self.callback_redirect(&session);
                Ok((session, Some(redirect)))
            }
            _ => Err(SessionError::AlreadyUsed),
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
