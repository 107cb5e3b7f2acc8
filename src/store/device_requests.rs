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
//! with its request. A signature is kept only if, in that same transaction, its certificate is
//! still active and has not changed state since the signature's time-stamp: a suspension or
//! revocation that lands while the answer is being finished wins.

use std::time::SystemTime;

use super::{AuditEvent, SessionRow, SignatureRow, Spend, StoreError};

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
    /// — from status `from`, or as a new session when `from` is `None` — unless `max_pending`
    /// unexpired requests already wait for the certificate (counted in the transaction, so
    /// that requests made at once cannot pass the cap together). Nothing is written unless the
    /// answer is [`Queued::Done`].
    async fn add_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        from: Option<SessionState>,
        max_pending: usize,
        events: &[AuditEvent],
    ) -> Result<Queued, StoreError>;

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

    /// Have `wake` called on this daemon whenever any daemon on the store queues a request: with
    /// the certificate's id, or with `None` when requests may have been queued unseen (after
    /// the listener reconnects). `wake` answers false once nobody needs it any more.
    ///
    /// `false` when the store is this process's alone (SQLite): the daemon that queues a request
    /// wakes its own polls. `true` when other daemons queue too; wake-ups can then be missed
    /// while the listener reconnects, so polls should also look again every few seconds.
    fn watch_device_requests(&self, wake: DeviceWake) -> bool {
        drop(wake);
        false
    }

    /// In one transaction: move the request from `pending` to `row`'s status and body, its
    /// session from `device` to `session`, and keep `signed` for redemption if given — only if
    /// the request's certificate is active and unchanged since `signed.stamped_at`. Nothing is
    /// written unless the answer is [`Finish::Done`].
    async fn finish_device_request(
        &self,
        row: &DeviceRequestRow,
        session: &SessionRow,
        signed: Option<&DeviceSigned>,
        events: &[AuditEvent],
    ) -> Result<Finish, StoreError>;
}

/// What [`DeviceRequestStore::watch_device_requests`] calls: with a certificate id, or `None`
/// for "look at every device"; it returns false when it is no longer wanted.
pub type DeviceWake = std::sync::Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// How queueing a device request went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Queued {
    /// Written.
    Done,
    /// The session had moved on (or, new, its correlation id was taken); nothing written.
    SessionMoved,
    /// The device's queue is full; nothing written.
    DeviceBusy,
}

/// A device's signature to keep for redemption.
#[derive(Clone, Debug)]
pub struct DeviceSigned {
    /// The finished SignResponse.
    pub signature: SignatureRow,
    /// The time-stamp's genTime: the certificate must not have changed state after it.
    pub stamped_at: SystemTime,
    /// What paid for it, spent with it.
    pub spend: Option<Spend>,
}

/// How finishing a device request went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Finish {
    /// Written.
    Done,
    /// The request or its session had moved on; nothing written.
    Moved,
    /// The certificate is no longer active, or changed state after the time-stamp (suspended
    /// and reactivated meanwhile); nothing written.
    CertificateWithdrawn,
}
