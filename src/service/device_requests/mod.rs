//! Signing with the user's own device (DESIGN §7): a session waits in `device` while its
//! request is queued for the device behind a pseudonym.
//!
//! - [`queue`]: `POST /v1/sign/pseudonym` (a new session) or the signing page's "sign with my
//!   device" (the page's pending session). The CAdES signed attributes are prepared then, for
//!   the device certificate, and stored with the request.
//! - [`wait`]: what a device finds when it polls (long-poll: woken when a request is queued).
//! - [`answer`]: the device's signature — verified, assembled, time-stamped, checked, stored for
//!   redemption with the session moved to `signed`, in one transaction — or its refusal.
//! - [`expiry`]: requests end `expired` when their time runs out, `failed` when the certificate
//!   is suspended or revoked meanwhile; the session fails with them and the eService is told
//!   (webhook, redirect, `GET /v1/sign/response/{signatureId}`).

mod answer;
mod expiry;
pub mod model;
mod queue;
mod wait;
mod waiters;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use expiry::Progress;
pub use model::DeviceRequest;
pub use queue::PseudonymRequest;

use super::ErrorKind;
use super::core::Core;
use crate::vocabulary::RequestState;

/// The most requests that may wait for one device: more are refused (429) until it answers
/// or they expire, so that no eService can flood a citizen's device.
pub const MAX_PENDING_PER_DEVICE: usize = 10;

/// Why a device request was not queued or answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceRequestError {
    /// Too many requests wait for the device already.
    #[error("{MAX_PENDING_PER_DEVICE} requests already wait for this device; try again when it has answered")]
    Busy,
    /// No such request for this device.
    #[error("no signing request with this id for this device")]
    Unknown,
    /// The request is no longer waiting for an answer (`None`: it is gone altogether).
    #[error("this signing request is {}; it no longer takes an answer", .0.map_or("gone", |s| s.as_str()))]
    Closed(Option<RequestState>),
    /// It ended without a signature: refused, expired or failed, and why.
    #[error("the signing request ended {state}: {reason}")]
    Ended {
        /// How it ended.
        state: RequestState,
        /// Why.
        reason: String,
    },
}

impl DeviceRequestError {
    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Busy => ErrorKind::Busy,
            Self::Unknown => ErrorKind::NotFound,
            Self::Closed(_) => ErrorKind::Conflict,
            Self::Ended { .. } => ErrorKind::Gone,
        }
    }
}

/// A device's answer.
#[derive(Clone, Debug)]
pub enum DeviceAnswer {
    /// The signature over the signed attributes: DER (or the fixed `r‖s` form) for ECDSA, the
    /// PKCS#1 v1.5 block for RSA.
    Signature(Vec<u8>),
    /// The user said no.
    Refusal,
}

/// The device-requests workflow.
pub(crate) struct DeviceRequests {
    core: Arc<Core>,
    lifetime: Duration,
    response_ttl: Duration,
    waiters: waiters::Waiters,
    stopping: AtomicBool,
    /// Other daemons queue requests on the same store: polls also look again now and then.
    shared: AtomicBool,
}

impl DeviceRequests {
    /// Requests a device has `lifetime` to answer; signatures wait `response_ttl` for redemption.
    pub fn new(core: Arc<Core>, lifetime: Duration, response_ttl: Duration) -> Self {
        Self {
            core,
            lifetime,
            response_ttl,
            waiters: waiters::Waiters::default(),
            stopping: AtomicBool::new(false),
            shared: AtomicBool::new(false),
        }
    }

    /// Wake this daemon's long polls when another daemon on the store queues a request for
    /// their device (a shared store's notifications; nothing to do on a store of one process).
    pub fn watch_other_daemons(self: &Arc<Self>) {
        let requests = Arc::downgrade(self);
        let shared = self.core.store.watch_device_requests(Arc::new(move |device| {
            let Some(requests) = requests.upgrade() else { return false };
            match device {
                Some(device) => requests.waiters.wake(device),
                None => requests.waiters.wake_all(),
            }
            true
        }));
        self.shared.store(shared, std::sync::atomic::Ordering::Release);
    }
}
