//! [`ServiceError`]: every reason the service gives for not doing what it was asked, with its
//! [`ErrorKind`] — the one thing the door (`http/error.rs`) turns into a status code and a body
//! in each wire format. The service decides what kind of failure it is; the door decides how
//! that is said on the wire.
//!
//! Each domain keeps its own error (sessions, device requests, devices, callers, what was sent);
//! the outages below them (HSM, TSA, store, ID provider, payment provider) are wrapped as they
//! come. [`ServiceError::public_message`] is what may be told to a caller: the error itself when
//! the caller can act on it, a fixed sentence when the fault is on esignd's side (the detail
//! goes to the log only).

use std::borrow::Cow;

use super::device_requests::DeviceRequestError;
use super::devices::DeviceError;
use super::devices::binding::BindingError;
use super::devices::device_jwt::DeviceAuthError;
use super::engine::EngineError;
use super::payment::PaymentError;
use super::request_objects::RequestObjectError;
use super::sessions::SessionError;
use crate::identity::AuthError;
use crate::store::StoreError;

/// What kind of failure an error is, whatever its cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed: bad syntax, a value out of range, an unregistered URL.
    Invalid,
    /// The caller did not prove who it is (API key, token, device JWT).
    Unauthorized,
    /// The signature must be paid for and was not.
    PaymentRequired,
    /// The caller is known but may not do this.
    Forbidden,
    /// There is no such thing for this caller.
    NotFound,
    /// The thing has moved on: used, answered, taken, changed meanwhile.
    Conflict,
    /// It existed but ended without a result.
    Gone,
    /// The body is larger than this route takes.
    TooLarge,
    /// The request did not arrive in time (its body was too slow).
    TimedOut,
    /// The body is not in a media type this route takes.
    Unsupported,
    /// The request is well-formed but lacks something or asks for what esignd does not do.
    Unprocessable,
    /// Too much is in flight (HSM sessions, requests waiting for a device): retry later.
    Busy,
    /// Something esignd depends on is down: retry later.
    Unavailable(Dependency),
    /// esignd failed; the log says why.
    Internal,
}

/// What esignd depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    /// The HSM.
    Hsm,
    /// The time-stamping authority.
    Tsa,
    /// The store.
    Store,
    /// The ID provider.
    IdentityProvider,
    /// The payment provider.
    PaymentProvider,
    /// An eService's published keys.
    Eservice,
    /// This daemon itself: it is stopping (draining) and takes no new work.
    ThisDaemon,
}

/// What was sent cannot be used (decided at the door while decoding, or by a workflow's checks
/// of values): the sentence says what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    kind: ErrorKind,
    message: Cow<'static, str>,
}

impl RequestError {
    /// Malformed (400): `message` says what is wrong and what would be right.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind: ErrorKind::Invalid, message: message.into() }
    }

    /// Missing or not supported (422).
    pub fn unprocessable(message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind: ErrorKind::Unprocessable, message: message.into() }
    }

    /// Larger than allowed (413).
    pub fn too_large(message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind: ErrorKind::TooLarge, message: message.into() }
    }

    /// Did not arrive in time (408).
    pub fn timed_out(message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind: ErrorKind::TimedOut, message: message.into() }
    }

    /// Not in a media type the route takes (415).
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind: ErrorKind::Unsupported, message: message.into() }
    }
}

/// Who is calling could not be established, or may not call.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallerError {
    /// A credential header is missing or blank.
    #[error("{0} is required")]
    Missing(&'static str),
    /// The API key is not one of a registered eService.
    #[error("the apikey is not valid")]
    UnknownApiKey,
    /// `client_id` names no registered eService.
    #[error("client_id is not registered")]
    UnknownClient,
    /// Wallet binding has no registered partners.
    #[error("wallet binding is off: the operator registers binding partners in [[devices.binding_partners]]")]
    BindingOff,
    /// `partner-id` and `partner-api-key` do not match.
    #[error("partner-id and partner-api-key do not name a registered binding partner")]
    UnknownPartner,
    /// The eService made more calls than its rate allows.
    #[error("this client may make {0} calls per second; slow down and retry")]
    TooManyRequests(u32),
    /// The eService's key came without the client certificate registered for it.
    #[error("this eService calls over mutual TLS: present its registered client certificate with its apikey")]
    CertificateRequired,
}

/// Why the service did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// What was sent cannot be used.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Who is calling.
    #[error(transparent)]
    Caller(#[from] CallerError),
    /// Signing sessions.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Requests queued for users' devices.
    #[error(transparent)]
    DeviceRequest(#[from] DeviceRequestError),
    /// Device certificates.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A device's JWT.
    #[error(transparent)]
    DeviceAuth(#[from] DeviceAuthError),
    /// A wallet binding refused with e-Signet's code.
    #[error(transparent)]
    Binding(#[from] BindingError),
    /// The user's identity.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The payment token.
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// A query form that is not the eService's signed request.
    #[error(transparent)]
    RequestObject(#[from] RequestObjectError),
    /// The signing engine (HSM, CA, CMS, TSA, the final checks).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something esignd stored cannot be read back.
    #[error("a stored {what} is damaged: {detail}")]
    Damaged {
        /// What it is.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// No certificate esignd issued has this serial.
    #[error("no certificate with this serial")]
    UnknownCertificate,
    /// The built-in TSA could not answer (no HSM session within the deadline, or the HSM failed).
    #[error("the built-in TSA could not answer: {0}")]
    TsaUnavailable(#[source] EngineError),
    /// A demo route when the demo profile is off.
    #[error("the demo profile is off")]
    NoDemo,
    /// The demo profile's own refusals.
    #[error(transparent)]
    Demo(#[from] super::demo::DemoError),
    /// The public share of the HSM sessions is taken (the built-in TSA under load).
    #[error("the built-in TSA is busy; retry shortly")]
    PublicShareBusy,
    /// `POST /tsa` when time-stamps come from external TSAs.
    #[error("this esignd uses external TSAs; it runs no TSA of its own")]
    NoBuiltinTsa,
}

impl ServiceError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Request(e) => e.kind,
            Self::Caller(CallerError::BindingOff) => ErrorKind::Forbidden,
            Self::Caller(CallerError::UnknownClient) => ErrorKind::Invalid,
            Self::Caller(CallerError::TooManyRequests(_)) => ErrorKind::Busy,
            Self::Caller(_) => ErrorKind::Unauthorized,
            Self::Session(e) => e.kind(),
            Self::DeviceRequest(e) => e.kind(),
            Self::Device(e) => e.kind(),
            Self::DeviceAuth(DeviceAuthError::Unfit(_)) => ErrorKind::Forbidden,
            Self::DeviceAuth(_) => ErrorKind::Unauthorized,
            Self::Binding(_) => ErrorKind::Unprocessable,
            Self::Auth(e) if e.is_callers_fault() => ErrorKind::Unauthorized,
            Self::Auth(_) => ErrorKind::Unavailable(Dependency::IdentityProvider),
            Self::Payment(e) if e.is_callers_fault() => ErrorKind::PaymentRequired,
            Self::Payment(_) => ErrorKind::Unavailable(Dependency::PaymentProvider),
            Self::RequestObject(RequestObjectError::Store(_)) => ErrorKind::Unavailable(Dependency::Store),
            Self::RequestObject(e) if e.is_callers_fault() => ErrorKind::Unauthorized,
            Self::RequestObject(_) => ErrorKind::Unavailable(Dependency::Eservice),
            Self::Engine(e) => engine_kind(e),
            Self::Store(_) => ErrorKind::Unavailable(Dependency::Store),
            Self::Damaged { .. } => ErrorKind::Internal,
            Self::UnknownCertificate | Self::NoDemo | Self::NoBuiltinTsa => ErrorKind::NotFound,
            Self::PublicShareBusy => ErrorKind::Busy,
            Self::TsaUnavailable(_) => ErrorKind::Unavailable(Dependency::Tsa),
            Self::Demo(e) => e.kind(),
        }
    }

    /// A stable code for the audit: the error's variant names (e.g. `caller.unknownapikey`),
    /// never its payload, which may hold what the caller sent.
    pub fn reason_code(&self) -> String {
        let debug = format!("{self:?}");
        let before_text = debug.split('"').next().unwrap_or_default();
        before_text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .take(2)
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// What may be told to the caller: this error's own words when the caller can act on them;
    /// a fixed sentence for failures on esignd's side, whose detail is for the log only.
    pub fn public_message(&self) -> Cow<'_, str> {
        let fixed = |text: &'static str| Cow::Borrowed(text);
        match self {
            Self::Engine(e) => match e {
                EngineError::Hsm(crate::hsm::Error::Busy(_)) => fixed("all HSM sessions are busy; retry shortly"),
                EngineError::Hsm(crate::hsm::Error::KeyPoolEmpty) => fixed("no one-time key is ready; retry shortly"),
                EngineError::Hsm(_) => fixed("the HSM is unavailable; try again shortly"),
                EngineError::Tsa(_) => fixed("no time-stamp could be obtained; try again shortly"),
                EngineError::Check(_) => fixed("the signature failed its final check and was not returned"),
                EngineError::Ca(_) | EngineError::Cms(_) => fixed("the signature could not be made"),
                EngineError::DeviceSignature(_) => Cow::Owned(e.to_string()),
            },
            Self::Store(_) => fixed("the store is unavailable; try again shortly"),
            Self::TsaUnavailable(_) => fixed("the TSA is busy or its HSM is unavailable; try again shortly"),
            Self::Auth(e) if !e.is_callers_fault() => fixed("the ID provider cannot be reached; try again shortly"),
            Self::Payment(e) if !e.is_callers_fault() => {
                fixed("payment cannot be checked right now; try again shortly")
            }
            Self::Damaged { what, .. } => Cow::Owned(format!("a stored {what} is damaged")),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// e-Signet's `errorCode` and message, for a wallet binding refused for a reason e-Signet
    /// names (its wire answers those with HTTP 200 and an `errors` list).
    pub fn binding_refusal(&self) -> Option<&BindingError> {
        match self {
            Self::Binding(e) => Some(e),
            _ => None,
        }
    }

    /// A stored value that does not read back.
    pub fn damaged(what: &'static str, detail: impl ToString) -> Self {
        Self::Damaged { what, detail: detail.to_string() }
    }
}

fn engine_kind(e: &EngineError) -> ErrorKind {
    match e {
        EngineError::Hsm(crate::hsm::Error::Busy(_)) => ErrorKind::Busy,
        // An empty key pool too: 503, not 429; the caller sent nothing too many, the pool did not
        // keep up.
        EngineError::Hsm(_) => ErrorKind::Unavailable(Dependency::Hsm),
        EngineError::Tsa(_) => ErrorKind::Unavailable(Dependency::Tsa),
        EngineError::DeviceSignature(_) => ErrorKind::Unprocessable,
        EngineError::Check(_) | EngineError::Ca(_) | EngineError::Cms(_) => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_told_in_fixed_words_and_caller_faults_in_their_own() {
        let outage =
            ServiceError::from(EngineError::Hsm(crate::hsm::Error::Timeout(std::time::Duration::from_secs(3))));
        assert_eq!(outage.kind(), ErrorKind::Unavailable(Dependency::Hsm));
        assert_eq!(outage.public_message(), "the HSM is unavailable; try again shortly");
        let busy = ServiceError::from(EngineError::Hsm(crate::hsm::Error::Busy(std::time::Duration::from_secs(3))));
        assert_eq!(busy.kind(), ErrorKind::Busy);
        assert!(!busy.public_message().contains("hsm.sessions"), "operator advice stays in the log");
        let caller = ServiceError::from(CallerError::Missing("X-GovStack-AuthenticationToken"));
        assert_eq!(caller.kind(), ErrorKind::Unauthorized);
        assert_eq!(caller.public_message(), "X-GovStack-AuthenticationToken is required");
        let damaged = ServiceError::damaged("response", "expected value at line 1");
        assert_eq!(damaged.kind(), ErrorKind::Internal);
        assert_eq!(damaged.public_message(), "a stored response is damaged");
    }
}
