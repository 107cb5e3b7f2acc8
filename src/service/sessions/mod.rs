//! Signing sessions: the eService creates one (`POST /v1/sessions`), the citizen's browser goes
//! through `/sign/interactive` to the ID provider and back to `/sign/oidc/callback`
//! ([`flow`]), the signature is kept for redemption (`GET /v1/sign/response/{signatureId}`), and
//! the eService hears of the outcome by webhook, by the redirect to its callback, or by polling
//! (`GET /v1/sessions/{correlationId}`).

mod browser;
mod flow;
pub mod model;
pub mod token;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use browser::Browser;
pub use flow::{Opened, callback_redirect};
pub use model::{Failure, Lang, Session, Status};

use super::callers::callback_allowed;
use super::core::Core;
use super::{ErrorKind, ServiceError};
use crate::config::ClientConfig;
use crate::identity::client::IdentityClient;
use crate::vocabulary::{Digest, Format};

/// Why a session request was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The callback URL is not one of the client's registered ones.
    #[error("callbackUrl is not registered for this client")]
    CallbackNotRegistered,
    /// The webhook URL is not the client's registered one.
    #[error("webhookUrl is not registered for this client")]
    WebhookNotRegistered,
    /// The client already used this correlation id.
    #[error("correlationId {0:?} is already used by this client")]
    CorrelationIdTaken(String),
    /// A field is out of range or malformed.
    #[error("{field} is not valid: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The session token does not verify or has expired.
    #[error("this signing link is not valid ({0})")]
    InvalidToken(crate::jose::Error),
    /// No such session.
    #[error("no such signing session")]
    UnknownSession,
    /// The eService has no session with this correlation id.
    #[error("no session with this correlationId")]
    UnknownCorrelation,
    /// Nothing to redeem under this signature id for this eService.
    #[error("no signature with this id for this client (unknown, already redeemed or expired)")]
    UnknownSignature,
    /// The session has moved on (a used link or a replayed callback).
    #[error("this signing link has already been used")]
    AlreadyUsed,
    /// The OpenID callback names no session in progress.
    #[error("this sign-in answer does not belong to a signing in progress")]
    UnknownState,
    /// A signing-page form sent from another site.
    #[error("this request came from another site; sign on esignd's own page")]
    CrossSite,
    /// The request came from a browser that did not open the signing page.
    #[error("this signing session belongs to the browser that opened the signing page; open the eService's link again")]
    NotThisBrowser,
}

impl SessionError {
    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::CorrelationIdTaken(_) | Self::AlreadyUsed => ErrorKind::Conflict,
            Self::UnknownSession | Self::UnknownCorrelation | Self::UnknownSignature => ErrorKind::NotFound,
            Self::CrossSite | Self::NotThisBrowser => ErrorKind::Forbidden,
            Self::CallbackNotRegistered
            | Self::WebhookNotRegistered
            | Self::InvalidField { .. }
            | Self::InvalidToken(_)
            | Self::UnknownState => ErrorKind::Invalid,
        }
    }
}

/// The longest `nonce` or `state` esignd keeps to echo back, in bytes.
pub const MAX_ECHOED: usize = 256;

/// The eService's `nonce` and `state` are echoed back, so they are kept: at most
/// [`MAX_ECHOED`] bytes each, on every path.
///
/// # Errors
/// [`SessionError::InvalidField`] naming the one too long.
pub(crate) fn check_echoed(nonce: Option<&str>, state: Option<&str>) -> Result<(), SessionError> {
    for (field, value) in [("nonce", nonce), ("state", state)] {
        if value.is_some_and(|v| v.len() > MAX_ECHOED) {
            return Err(SessionError::InvalidField { field, reason: "at most 256 bytes" });
        }
    }
    Ok(())
}

/// What a new session needs, already checked for form at the door.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The eService's id for it.
    pub correlation_id: String,
    /// The digest.
    pub digest: Digest,
    /// CAdES or PAdES.
    pub format: Format,
    /// Shown to the user.
    pub data_to_be_displayed: String,
    /// Where the browser returns.
    pub callback_url: String,
    /// Where the outcome is POSTed.
    pub webhook_url: Option<String>,
    /// How long the session lives.
    pub lifetime: Duration,
    /// Page language.
    pub lang: Lang,
    /// RSA public key (PEM) to encrypt the webhook result to.
    pub pub_key_pem: Option<String>,
    /// GovStack query form: nonce to echo back.
    pub eservice_nonce: Option<String>,
    /// GovStack query form: state to echo back.
    pub eservice_state: Option<String>,
    /// An unsigned GovStack query form made it: no webhook, no device.
    pub unsigned_query: bool,
    /// The verified payment for its signature (set by the service, not by the door).
    pub payment: Option<crate::service::payment::Paid>,
    /// Trust1Team's `useCase`, echoed.
    pub use_case: Option<String>,
    /// Trust1Team's `means`, echoed.
    pub means: Option<String>,
}

/// A created session: its token and the signing page's URL.
#[derive(Clone, Debug)]
pub struct Created {
    /// The session token (a JWT naming the session).
    pub token: String,
    /// Where the citizen's browser goes.
    pub redirect_url: String,
    /// The `nonce` the callback will carry (the eService's, or one made for it).
    pub nonce: String,
    /// The `state` the callback will carry.
    pub state: String,
    /// `useCase`, echoed.
    pub use_case: Option<String>,
    /// `means`, echoed.
    pub means: Option<String>,
}

/// The audit record of a new session: who asked, for what, shown what (the text as its SHA-256:
/// it may name the citizen).
pub(crate) fn created_event(session: &Session) -> crate::audit::AuditEvent {
    let display = crate::hsm::HashAlgorithm::Sha256.digest(session.data_to_be_displayed.as_bytes());
    let fields = serde_json::json!({
        "client": session.client_id,
        "correlationId": session.correlation_id,
        "digest": session.digest.hex(),
        "hashType": session.digest.hash().name(),
        "format": session.format.name(),
        "displaySha256": hex::encode(display),
    });
    crate::audit::AuditEvent::new("session.created", fields)
}

/// The eService and correlation id the audit names for `session`.
pub(crate) fn asker(session: &Session) -> crate::service::audit_events::Asker<'_> {
    crate::service::audit_events::Asker { client: &session.client_id, correlation_id: Some(&session.correlation_id) }
}

/// The sessions workflow.
pub(crate) struct Sessions {
    core: Arc<Core>,
    identity: Arc<IdentityClient>,
    response_ttl: Duration,
}

impl Sessions {
    /// Sessions whose signatures wait `response_ttl` for redemption.
    pub fn new(core: Arc<Core>, identity: Arc<IdentityClient>, response_ttl: Duration) -> Self {
        Self { core, identity, response_ttl }
    }

    /// Create a session for `client`.
    ///
    /// # Errors
    /// [`SessionError`] for unregistered URLs, a reused correlation id, a bad public key; store
    /// and HSM failures.
    pub async fn create(&self, client: &ClientConfig, new: NewSession) -> Result<Created, ServiceError> {
        if !new.callback_url.is_empty() && !callback_allowed(client, &new.callback_url) {
            return Err(SessionError::CallbackNotRegistered.into());
        }
        if new.webhook_url.is_some() && new.webhook_url != client.webhook_url {
            return Err(SessionError::WebhookNotRegistered.into());
        }
        check_echoed(new.eservice_nonce.as_deref(), new.eservice_state.as_deref())?;
        if let Some(pem) = &new.pub_key_pem {
            crate::jose::jwe::RecipientKey::from_pem(pem).map_err(|_| SessionError::InvalidField {
                field: "pubKey",
                reason: "a base64 PEM RSA public key of at least 2048 bits",
            })?;
        }
        let session = Session::new(client, new);
        if !self.core.store.create_session(&session.to_row(), &[created_event(&session)]).await? {
            return Err(SessionError::CorrelationIdTaken(session.correlation_id).into());
        }
        let claims = token::claims(&self.core.public_url, &session.id, session.expires_at);
        let token = self.core.sign_claims(&claims).await?;
        let redirect_url = format!("{}/sign/interactive?token={token}", self.core.public_url);
        tracing::info!(client = %client.id, correlation_id = %session.correlation_id, "signing session created");
        Ok(Created {
            token,
            redirect_url,
            nonce: session.eservice_nonce.clone().unwrap_or_default(),
            state: session.eservice_state.clone().unwrap_or_default(),
            use_case: session.use_case.clone(),
            means: session.means.clone(),
        })
    }

    /// A client's session by correlation id.
    ///
    /// # Errors
    /// Store failures; a damaged stored session.
    pub async fn status(&self, client: &ClientConfig, correlation_id: &str) -> Result<Option<Session>, ServiceError> {
        match self.core.store.session_by_correlation(&client.id, correlation_id).await? {
            Some(row) => Ok(Some(Session::from_row(&row).map_err(|e| ServiceError::damaged("session", e))?)),
            None => Ok(None),
        }
    }

    /// Redeem a signature (once) for the client that asked for it: its SignResponse.
    ///
    /// # Errors
    /// Store failures.
    pub async fn redeem(&self, client: &ClientConfig, signature_id: &str) -> Result<Option<String>, ServiceError> {
        let redeemed = crate::service::audit_events::redeemed(&client.id, signature_id);
        Ok(self.core.store.redeem_signature(signature_id, &client.id, SystemTime::now(), &[redeemed]).await?)
    }

    /// The session a session token names.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`], [`SessionError::UnknownSession`]; store failures.
    pub async fn load_by_token(&self, token: &str) -> Result<Session, ServiceError> {
        let id =
            token::session_id(token, &self.core.public_url, &self.core.jwks).map_err(SessionError::InvalidToken)?;
        let row = self.core.store.session(&id).await?.ok_or(SessionError::UnknownSession)?;
        Ok(Session::from_row(&row).map_err(|_| SessionError::UnknownSession)?)
    }
}
