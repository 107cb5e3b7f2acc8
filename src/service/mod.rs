//! The service: everything esignd does for its callers, behind one door. [`EsignService`] is what
//! the HTTP layer holds and calls — one method per thing a caller can ask — and this module's
//! public items are all HTTP may see of the layers below.
//!
//! Below the façade, each workflow in its module:
//! - [`engine`]: the signing transactions over the key store, the CA, CMS and the TSA;
//! - [`sessions`]: signing sessions and the citizen's browser flow;
//! - [`device_requests`]: requests queued for users' devices, their answers and expiry;
//! - [`devices`]: device certificates, wallet binding, the CRL, device authentication;
//! - `callers`: registered eServices and binding partners; `request_objects`: their signed query
//!   forms; [`payment`]: payment tokens;
//!   `webhooks`: outcomes told to eServices.
//!
//! The façade's methods live beside what they serve: `onetime`, `eservice`, `browser`, `owner`,
//! [`device_api`], `public`, `demo`. Every failure is a [`ServiceError`], whose [`ErrorKind`]
//! the door turns into a status.

pub mod audit;
mod audit_events;
mod browser;
mod build;
mod callers;
mod core;
mod demo;
pub mod device_api;
pub mod device_requests;
pub mod devices;
pub mod engine;
mod error;
mod eservice;
mod metrics;
mod onetime;
mod owner;
pub mod payment;
mod public;
mod request_objects;
pub mod sessions;
mod validation;
mod webhooks;

use std::sync::Arc;

pub use browser::{DeviceChoice, DeviceProblem, Page, QueryForm};
pub use build::Parts;
pub use callers::Credential;
pub use demo::{Collected, DemoError, MockLogin, MockPurpose, MockToken};
pub use device_api::PendingRequest;
pub use device_requests::DeviceAnswer;
pub use devices::binding::Envelope;
pub use devices::lifecycle::Action;
pub use devices::{DeviceCertificate, Enrolment};
pub use engine::TsaReadiness;
pub use error::{CallerError, Dependency, ErrorKind, RequestError, ServiceError};
pub use eservice::{PseudonymOutcome, PseudonymSignRequest, Redemption};
pub use onetime::SignRequest;
pub use owner::PartnerCredential;
pub use public::{Check, Readiness};
pub use request_objects::{RequestObjectError, SignedQuery};
pub use sessions::{Browser, Created, Lang, NewSession, Session, SessionError, Status};
pub use webhooks::Retry;

pub use crate::hsm::{HashAlgorithm, UnknownHash};
pub use crate::vocabulary::display_text::display_text;
pub use crate::vocabulary::{
    CertificateStatus, Digest, DigestLength, Format, RequestState, SessionState, UnknownFormat, parse_rfc3339, rfc3339,
};

use self::callers::Callers;
use self::core::Core;
use self::device_requests::DeviceRequests;
use self::devices::Devices;
use self::payment::PaymentGate;
use self::sessions::Sessions;
use crate::identity::client::IdentityClient;

/// The eSignature service: the one thing the door calls.
pub struct EsignService {
    core: Arc<Core>,
    identity: Arc<IdentityClient>,
    callers: Callers,
    payment: PaymentGate,
    sessions: Sessions,
    requests: Arc<DeviceRequests>,
    devices: Devices,
    demo: Option<demo::Demo>,
    request_objects: request_objects::RequestObjects,
    device_audience: String,
    /// Permits for unauthenticated HSM work (the built-in TSA, probes): a share of the pool.
    public_work: tokio::sync::Semaphore,
    last_readiness: tokio::sync::Mutex<Option<(std::time::Instant, Readiness)>>,
    /// The daemon is stopping: `/readyz` says so, long polls are answered at once.
    draining: std::sync::atomic::AtomicBool,
    tsa_request_limit: usize,
    /// `[audit]`.
    audit: crate::config::AuditConfig,
    /// When this service was built (the first checkpoint's clock starts here).
    started_at: std::time::SystemTime,
    /// What the operator watches.
    metrics: crate::metrics::Metrics,
}
