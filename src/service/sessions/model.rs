//! A signing session: what the eService asked for, whom to tell, and where the user is.
//!
//! ```text
//! pending ──Sign──▶ authenticating ──callback──▶ signing ──▶ signed
//!    │                    │                          │
//!    └──Cancel / expiry───┴──login failure / expiry──┴──▶ failed
//!
//! pending ──Sign with my device──▶ device ──device signs──▶ signed
//!                                    └──refusal / expiry / device unfit──▶ failed
//! ```
//! `POST /v1/sign/pseudonym` creates its session directly in `device`.
//! Every move is a compare-and-set on the stored status, so a replayed link or callback finds
//! the session already moved and is refused.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::ClientConfig;
use crate::ids::random_hex;
use crate::store::SessionRow;
use crate::vocabulary::{Digest, Format, SessionState};

/// The languages the pages speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English
    En,
    /// French
    Fr,
    /// Dutch
    Nl,
    /// German
    De,
}

impl Lang {
    /// Parse `en`, `fr`, `nl`, `de` (a region suffix like `fr-BE` is ignored).
    pub fn parse(text: &str) -> Option<Self> {
        match text.split(['-', '_']).next()?.to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "fr" => Some(Self::Fr),
            "nl" => Some(Self::Nl),
            "de" => Some(Self::De),
            _ => None,
        }
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::Nl => "nl",
            Self::De => "de",
        }
    }
}

/// Where a session is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Created; the user has not chosen yet.
    Pending,
    /// The user is at the ID provider.
    Authenticating {
        /// OpenID `state`.
        oidc_state: String,
        /// OpenID `nonce`.
        oidc_nonce: String,
        /// PKCE verifier.
        verifier: String,
        /// When the citizen pressed Sign, seconds since the epoch (the login must not be older
        /// than `max_age` before it).
        #[serde(default)]
        pressed_at: u64,
    },
    /// The user came back; the signature is being made.
    Signing,
    /// Waiting for the user's own device to sign.
    Device {
        /// The device request.
        request_id: String,
    },
    /// Done.
    Signed {
        /// What the eService redeems.
        signature_id: String,
    },
    /// Over without a signature.
    Failed {
        /// Why, as the eService reads it.
        error: Failure,
        /// For humans.
        description: String,
    },
}

/// Why a session ended without a signature: the `error` the eService's callback, webhook and
/// status poll carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The user pressed Cancel.
    Cancelled,
    /// The session or the device request ran out of time.
    Expired,
    /// The ID provider did not confirm the user.
    LoginFailed,
    /// The signature could not be made (or the user's device refused or was withdrawn).
    SigningFailed,
    /// Sign, Cancel or the login's return came from a browser or site that did not open the
    /// signing page: no signature is made for it.
    ConsentNotVerified,
}

impl Failure {
    /// The wire spelling.
    pub fn code(self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::LoginFailed => "login_failed",
            Self::SigningFailed => "signing_failed",
            Self::ConsentNotVerified => "consent_not_verified",
        }
    }
}

impl Status {
    /// The state this status is in (the store's column).
    pub fn state(&self) -> SessionState {
        match self {
            Self::Pending => SessionState::Pending,
            Self::Authenticating { .. } => SessionState::Authenticating,
            Self::Signing => SessionState::Signing,
            Self::Device { .. } => SessionState::Device,
            Self::Signed { .. } => SessionState::Signed,
            Self::Failed { .. } => SessionState::Failed,
        }
    }

    /// Add the outcome to a JSON object for the eService (status poll, webhook):
    /// `signatureId` when signed, `error` and `errorDescription` when failed, nothing otherwise.
    pub fn add_outcome(&self, body: &mut serde_json::Value) {
        match self {
            Self::Signed { signature_id } => body["signatureId"] = signature_id.as_str().into(),
            Self::Failed { error, description } => {
                body["error"] = error.code().into();
                body["errorDescription"] = description.as_str().into();
            }
            _ => {}
        }
    }
}

/// A session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Random id (128 bits, hex).
    pub id: String,
    /// The eService.
    pub client_id: String,
    /// Its id for the session.
    pub correlation_id: String,
    /// The document digest (stored as `digest_hex` and `hash_type`).
    #[serde(flatten)]
    pub digest: Digest,
    /// CAdES or PAdES.
    pub format: Format,
    /// Shown to the user.
    pub data_to_be_displayed: String,
    /// Where the browser goes back to (registered exactly).
    pub callback_url: String,
    /// Where the result is POSTed, if anywhere.
    pub webhook_url: Option<String>,
    /// Page language.
    pub lang: Lang,
    /// The eService's RSA key for encrypting the webhook result (PEM).
    pub pub_key_pem: Option<String>,
    /// GovStack query form: the eService's nonce, echoed on the callback.
    pub eservice_nonce: Option<String>,
    /// GovStack query form: the eService's state, echoed on the callback.
    pub eservice_state: Option<String>,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// Where it is.
    pub status: Status,
    /// SHA-256 (hex) of the binding cookie of the browser that opened the signing page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// Made from an unsigned query form (anyone could have): no webhook, no device.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsigned_query: bool,
    /// The verified payment, spent when the signature is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<crate::service::payment::Paid>,
    /// Trust1Team's `useCase`, echoed in the session's status and webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
    /// Trust1Team's `means`, echoed likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub means: Option<String>,
}

impl Session {
    /// A pending session for `client`, as `new` asks; it expires `new.lifetime` from now.
    pub fn new(client: &ClientConfig, new: super::NewSession) -> Self {
        Self {
            id: random_hex(16),
            client_id: client.id.clone(),
            correlation_id: new.correlation_id,
            digest: new.digest,
            format: new.format,
            data_to_be_displayed: new.data_to_be_displayed,
            callback_url: new.callback_url,
            webhook_url: if new.unsigned_query { None } else { new.webhook_url.or_else(|| client.webhook_url.clone()) },
            lang: new.lang,
            pub_key_pem: new.pub_key_pem,
            // The callback always carries both (GovStack): made here when the eService sent none.
            eservice_nonce: new.eservice_nonce.or_else(|| Some(random_hex(16))),
            eservice_state: new.eservice_state.or_else(|| Some(random_hex(16))),
            expires_at: epoch_secs(SystemTime::now() + new.lifetime),
            status: Status::Pending,
            binding: None,
            unsigned_query: new.unsigned_query,
            payment: new.payment,
            use_case: new.use_case,
            means: new.means,
        }
    }

    /// When it expires.
    pub fn expires(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(self.expires_at)
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: SystemTime) -> bool {
        now > self.expires()
    }

    /// The stored form.
    pub fn to_row(&self) -> SessionRow {
        let oidc_state = match &self.status {
            Status::Authenticating { oidc_state, .. } => Some(oidc_state.clone()),
            _ => None,
        };
        SessionRow {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            correlation_id: self.correlation_id.clone(),
            status: self.status.state(),
            oidc_state,
            expires_at: self.expires(),
            body: serde_json::to_string(self).expect("a session serialises"),
            webhook_url: self.webhook_url.clone(),
        }
    }

    /// Read a stored session.
    ///
    /// # Errors
    /// When the stored JSON is not a session (a damaged store).
    pub fn from_row(row: &SessionRow) -> Result<Self, serde_json::Error> {
        serde_json::from_str(&row.body)
    }
}

/// Seconds since the epoch, as sessions and device requests store their expiry.
pub(crate) fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}
