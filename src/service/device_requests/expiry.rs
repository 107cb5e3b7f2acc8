//! How requests end without a signature — refused, expired, or failed because the device's
//! certificate was suspended or revoked meanwhile — and how an eService or a waiting browser
//! learns where a request stands. Ending a request fails its session in the same store
//! transaction and tells the eService.

use std::time::SystemTime;

use super::{DeviceRequest, DeviceRequestError, DeviceRequests};
use crate::config::ClientConfig;
use crate::service::ServiceError;
use crate::service::audit_events;
use crate::service::sessions::{Failure, Session, SessionError, Status, asker, callback_redirect};
use crate::store::device_requests::{DeviceRequestRow, Finish};
use crate::vocabulary::{CertificateStatus, RequestState};

/// Why a request ended expired.
pub(super) const NO_ANSWER: &str = "the device did not answer in time";

/// How a device request stands for the eService that made it, when there is no signature to
/// redeem (an ended one is a [`DeviceRequestError::Ended`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The device has not answered yet.
    Waiting,
    /// There is no such request for this eService (or it was signed and redeemed).
    Unknown,
}

impl DeviceRequests {
    /// End a pending request without a signature (refused, expired, failed) and fail its
    /// session; `false` when it had ended already.
    pub(super) async fn end(
        &self,
        row: &DeviceRequestRow,
        status: RequestState,
        reason: &str,
    ) -> Result<bool, ServiceError> {
        let mut request = DeviceRequest::from_row(row)?;
        request.outcome = Some(reason.to_owned());
        let finished = request.to_row(&row.client_id, &row.session_id, status);
        let mut session = self.session_of(row).await?;
        let error = if status == RequestState::Expired { Failure::Expired } else { Failure::SigningFailed };
        session.status = Status::Failed { error, description: reason.to_owned() };
        let events = [
            audit_events::device_request_ended(asker(&session), &row.request_id, status.as_str()),
            audit_events::session_failed(asker(&session), error.code()),
        ];
        if self.core.store.finish_device_request(&finished, &session.to_row(), None, &events).await? != Finish::Done {
            return Ok(false);
        }
        tracing::info!(client = %session.client_id, correlation_id = %session.correlation_id, request_id = %row.request_id, status = %status, "device request ended without a signature");
        self.core.notify(&session);
        Ok(true)
    }

    /// The session waiting for a request.
    pub(super) async fn session_of(&self, row: &DeviceRequestRow) -> Result<Session, ServiceError> {
        let stored = self.core.store.session(&row.session_id).await?.ok_or(SessionError::UnknownSession)?;
        Ok(Session::from_row(&stored).map_err(|_| SessionError::UnknownSession)?)
    }

    /// End the pending requests of certificate `certificate_id`, which is now `status`
    /// (suspended or revoked); returns how many ended.
    ///
    /// # Errors
    /// Store failures.
    pub async fn withdraw(&self, certificate_id: &str, status: CertificateStatus) -> Result<usize, ServiceError> {
        let reason = format!("the device certificate was {}", status.as_str().to_ascii_lowercase());
        let mut ended = 0;
        for row in self.core.store.pending_device_requests(certificate_id, SystemTime::UNIX_EPOCH).await? {
            if self.end(&row, RequestState::Failed, &reason).await? {
                ended += 1;
            }
        }
        if ended > 0 {
            tracing::info!(ended, "pending device requests ended with the certificate's state change");
        }
        Ok(ended)
    }

    /// End every request whose time ran out (the sweeper calls this).
    ///
    /// # Errors
    /// Store failures.
    pub async fn expire_overdue(&self) -> Result<usize, ServiceError> {
        let mut ended = 0;
        for row in self.core.store.overdue_device_requests(SystemTime::now()).await? {
            if self.end(&row, RequestState::Expired, NO_ANSWER).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// How the request behind `signature_id` stands for `client`.
    ///
    /// # Errors
    /// [`DeviceRequestError::Ended`] when it ended without a signature; store failures.
    pub async fn progress(&self, client: &ClientConfig, signature_id: &str) -> Result<Progress, ServiceError> {
        let Some(row) = self.core.store.device_request_by_signature(signature_id, &client.id).await? else {
            return Ok(Progress::Unknown);
        };
        let request = DeviceRequest::from_row(&row)?;
        let ended = |state: RequestState, reason: String| Err(DeviceRequestError::Ended { state, reason }.into());
        match row.status {
            RequestState::Pending if SystemTime::now() > request.expires() => {
                self.end(&row, RequestState::Expired, NO_ANSWER).await?;
                ended(RequestState::Expired, NO_ANSWER.into())
            }
            RequestState::Pending => Ok(Progress::Waiting),
            RequestState::Signed => Ok(Progress::Unknown),
            state => ended(state, request.outcome.unwrap_or_else(|| state.as_str().to_owned())),
        }
    }

    /// For the signing page while a device is asked about `session`: `None` while it waits, or
    /// where the browser goes now that it is over.
    ///
    /// # Errors
    /// [`SessionError::AlreadyUsed`] for a session that never went to a device; store failures.
    pub async fn page_outcome(&self, session: &Session) -> Result<Option<String>, ServiceError> {
        match &session.status {
            Status::Device { request_id } => {
                let store = &self.core.store;
                let row = store.device_request(request_id).await?.ok_or(SessionError::UnknownSession)?;
                if row.status == RequestState::Pending && SystemTime::now() > row.expires_at {
                    self.end(&row, RequestState::Expired, NO_ANSWER).await?;
                    return Ok(Some(callback_redirect(&self.session_of(&row).await?)));
                }
                Ok(None)
            }
            Status::Signed { .. } | Status::Failed { .. } => Ok(Some(callback_redirect(session))),
            _ => Err(SessionError::AlreadyUsed.into()),
        }
    }
}
