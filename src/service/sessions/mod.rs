//! Signing sessions: the eService creates one (`POST /v1/sessions`), the citizen's browser goes
//! through `/sign/interactive` to the ID provider and back to `/sign/oidc/callback`, the
//! signature is kept for redemption (`GET /v1/sign/response/{signatureId}`), and the eService
//! hears of the outcome by webhook, by the redirect to its callback, or by polling
//! (`GET /v1/sessions/{correlationId}`).
//!
//! [`SessionService`] is the orchestrator; the HTTP layer only parses and renders.

pub mod clients;
pub mod device;
mod flow;
pub mod model;
pub mod token;
pub mod webhook;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::ClientConfig;
use crate::identity::client::IdentityClient;
use crate::ids::random_hex;
use crate::jose::jwk::JwkSet;
use crate::outbound::HttpClient;
use crate::service::engine::Engine;
use crate::store::Store;
use crate::vocabulary::{Digest, Format};

pub use model::{Failure, Lang, Session, Status};
pub use webhook::Retry;

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
    /// The client id is not registered.
    #[error("client_id is not registered")]
    UnknownClient,
    /// The session token does not verify or has expired.
    #[error("this signing link is not valid ({0})")]
    InvalidToken(crate::jose::Error),
    /// No such session.
    #[error("no such signing session")]
    UnknownSession,
    /// The session has moved on (a used link or a replayed callback).
    #[error("this signing link has already been used")]
    AlreadyUsed,
    /// The OpenID callback names no session in progress.
    #[error("this sign-in answer does not belong to a signing in progress")]
    UnknownState,
    /// The session expired; the browser goes back to the eService with an error.
    #[error("the signing session has expired")]
    Expired {
        /// Where to send the browser.
        redirect: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Signing a session token failed.
    #[error(transparent)]
    Engine(#[from] crate::service::engine::EngineError),
    /// The ID provider failed before the user got there.
    #[error(transparent)]
    Auth(#[from] crate::identity::AuthError),
    /// No device is enrolled under the pseudonym.
    #[error("no device is enrolled under this pseudonym")]
    UnknownPseudonym,
    /// The device's certificate cannot sign.
    #[error("the device certificate behind this pseudonym is {0}; only an ACTIVE certificate can sign")]
    DeviceUnfit(crate::vocabulary::CertificateStatus),
    /// Too many requests wait for the device already.
    #[error("{} requests already wait for this device; try again when it has answered", device::MAX_PENDING_PER_DEVICE)]
    DeviceBusy,
    /// The pseudonym token is not acceptable.
    #[error(transparent)]
    PseudonymToken(crate::service::devices::pseudonym_token::PseudonymTokenError),
    /// No such request for this device.
    #[error("no signing request with this id for this device")]
    UnknownDeviceRequest,
    /// The request is no longer waiting for an answer (`None`: it is gone altogether).
    #[error("this signing request is {}; it no longer takes an answer", .0.map_or("gone", |s| s.as_str()))]
    DeviceRequestClosed(Option<crate::vocabulary::RequestState>),
}

/// What a new session needs, already checked for form by the HTTP layer.
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
    /// GovStack query form: nonce and state to echo back.
    pub eservice_nonce: Option<String>,
    /// GovStack query form: state to echo back.
    pub eservice_state: Option<String>,
}

/// The signing-session orchestrator.
pub struct SessionService {
    signing: Arc<dyn Engine>,
    store: Arc<dyn Store>,
    identity: Arc<IdentityClient>,
    clients: Vec<ClientConfig>,
    public_url: String,
    jwks: JwkSet,
    response_ttl: Duration,
    http: HttpClient,
    retry: Retry,
    device_request_lifetime: Duration,
    device_waiters: tokio::sync::Notify,
    stopping: std::sync::atomic::AtomicBool,
}

/// Everything a session service is made of.
pub struct Parts {
    /// The signing engine.
    pub signing: Arc<dyn Engine>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The ID provider.
    pub identity: Arc<IdentityClient>,
    /// Registered eServices.
    pub clients: Vec<ClientConfig>,
    /// esignd's public URL (issuer of session tokens, base of redirects).
    pub public_url: String,
    /// esignd's own JWKS (verifies session tokens).
    pub jwks: JwkSet,
    /// How long signatures wait for redemption.
    pub response_ttl: Duration,
    /// Outbound HTTP (webhooks).
    pub http: HttpClient,
    /// Webhook retries.
    pub retry: Retry,
    /// How long a user's device has to answer.
    pub device_request_lifetime: Duration,
}

impl SessionService {
    /// Assemble the service.
    pub fn new(parts: Parts) -> Self {
        let Parts {
            signing,
            store,
            identity,
            clients,
            public_url,
            jwks,
            response_ttl,
            http,
            retry,
            device_request_lifetime,
        } = parts;
        Self {
            signing,
            store,
            identity,
            clients,
            public_url,
            jwks,
            response_ttl,
            http,
            retry,
            device_request_lifetime,
            device_waiters: tokio::sync::Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The registered clients.
    pub fn clients(&self) -> &[ClientConfig] {
        &self.clients
    }

    /// Create a session for `client`; returns it with its token and redirect URL.
    ///
    /// # Errors
    /// [`SessionError`] for unregistered URLs, a reused correlation id, a bad public key.
    pub async fn create(
        &self,
        client: &ClientConfig,
        new: NewSession,
    ) -> Result<(Session, String, String), SessionError> {
        if !clients::callback_allowed(client, &new.callback_url) {
            return Err(SessionError::CallbackNotRegistered);
        }
        if new.webhook_url.is_some() && new.webhook_url != client.webhook_url {
            return Err(SessionError::WebhookNotRegistered);
        }
        if let Some(pem) = &new.pub_key_pem {
            crate::jose::jwe::RecipientKey::from_pem(pem).map_err(|_| SessionError::InvalidField {
                field: "pubKey",
                reason: "a base64 PEM RSA public key of at least 2048 bits",
            })?;
        }
        let expires_at = epoch_secs(SystemTime::now() + new.lifetime);
        let session = Session {
            id: random_hex(16),
            client_id: client.id.clone(),
            correlation_id: new.correlation_id,
            digest: new.digest,
            format: new.format,
            data_to_be_displayed: new.data_to_be_displayed,
            callback_url: new.callback_url,
            webhook_url: new.webhook_url.or_else(|| client.webhook_url.clone()),
            lang: new.lang,
            pub_key_pem: new.pub_key_pem,
            eservice_nonce: new.eservice_nonce,
            eservice_state: new.eservice_state,
            expires_at,
            status: Status::Pending,
        };
        if !self.store.create_session(&session.to_row()).await? {
            return Err(SessionError::CorrelationIdTaken(session.correlation_id));
        }
        let claims = token::claims(&self.public_url, &session.id, expires_at);
        let token = self.signing.sign_jws("JWT", claims.to_string().into_bytes()).await?;
        let redirect = format!("{}/sign/interactive?token={token}", self.public_url);
        tracing::info!(client = %client.id, correlation_id = %session.correlation_id, "signing session created");
        Ok((session, token, redirect))
    }

    /// A client's session by correlation id.
    ///
    /// # Errors
    /// Store errors.
    pub async fn status(&self, client: &ClientConfig, correlation_id: &str) -> Result<Option<Session>, SessionError> {
        match self.store.session_by_correlation(&client.id, correlation_id).await? {
            Some(row) => Ok(Some(Session::from_row(&row).map_err(|_| SessionError::UnknownSession)?)),
            None => Ok(None),
        }
    }

    /// Redeem a signature (once) for the client that asked for it.
    ///
    /// # Errors
    /// Store errors.
    pub async fn redeem(&self, client: &ClientConfig, signature_id: &str) -> Result<Option<String>, SessionError> {
        Ok(self.store.redeem_signature(signature_id, &client.id, SystemTime::now()).await?)
    }

    /// Send the outcome of a finished session to its webhook, if it has one.
    fn notify(&self, session: &Session) {
        webhook::deliver(
            Arc::clone(&self.signing),
            self.http.clone(),
            self.retry,
            session.clone(),
            self.public_url.clone(),
        );
    }
}

/// Seconds since the epoch, as sessions and device requests store their expiry.
fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}
