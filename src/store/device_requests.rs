//! What the store keeps of signing requests queued for a user's device: who asked (the eService
//! and its signing session — a browser's, or one made for `POST /v1/sign/pseudonym`), which
//! certificate must answer, where the request is, and the service's JSON of it.
//!
//! ```text
//! pending ──device signs──▶ signed     (the SignResponse is kept for redemption, atomically)
//!    ├────device refuses──▶ refused
//!    ├────time runs out───▶ expired
//!    └────device unfit────▶ failed     (its certificate was suspended, revoked or expired)
//! ```
//! Every move is a compare-and-set from `pending`, made in the same transaction as its session's
//! move from `device`, so a second answer finds the request gone and a session never disagrees
//! with its request.

use std::time::SystemTime;

use super::{SessionRow, SignatureRow, StoreError};
use crate::vocabulary::{RequestState, SessionState};

/// A device signing request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRequestRow {
    /// Random id the device answers to.
    pub request_id: String,
    /// Random id the eService redeems the signature with.
    pub signature_id: String,
    /// The eService that asked (and may redeem).
    pub client_id: String,
    /// The signing session waiting for it.
    pub session_id: String,
    /// The device certificate that must sign (GovStack `certificateId`).
    pub certificate_id: String,
    /// Where it is.
    pub status: RequestState,
    /// When the device can no longer answer.
    pub expires_at: SystemTime,
    /// Everything else, as the service serialised it.
    pub body: String,
}

/// Device signing requests.
#[async_trait::async_trait]
pub trait DeviceRequestStore: Send + Sync + 'static {
    /// In one transaction: queue a request and move its session to `session` (status `device`)
    /// — from status `from`, or as a new session when `from` is `None`. `false`, with nothing
    /// written, when the session had moved on (or, new, its correlation id was taken).
    async fn add_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        from: Option<SessionState>,
    ) -> Result<bool, StoreError>;

    /// A request by its id.
    async fn device_request(&self, request_id: &str) -> Result<Option<DeviceRequestRow>, StoreError>;

    /// A request by its signature id, if `client_id` made it.
    async fn device_request_by_signature(
        &self,
        signature_id: &str,
        client_id: &str,
    ) -> Result<Option<DeviceRequestRow>, StoreError>;

    /// The pending, unexpired requests for certificate `certificate_id`, oldest first.
    async fn pending_device_requests(
        &self,
        certificate_id: &str,
        now: SystemTime,
    ) -> Result<Vec<DeviceRequestRow>, StoreError>;

    /// Pending requests past their expiry.
    async fn overdue_device_requests(&self, now: SystemTime) -> Result<Vec<DeviceRequestRow>, StoreError>;

    /// In one transaction: move the request from `pending` to `row`'s status and body, its
    /// session from `device` to `session`, and keep `signature` for redemption if given. `false`,
    /// with nothing written, when either had moved on.
    async fn finish_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        signature: Option<&SignatureRow>,
    ) -> Result<bool, StoreError>;
}
