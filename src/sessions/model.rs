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

use crate::store::SessionRow;

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
        /// `cancelled`, `expired`, `login_failed`, `signing_failed`.
        error: String,
        /// For humans.
        description: String,
    },
}

impl Status {
    /// The stored status name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authenticating { .. } => "authenticating",
            Self::Signing => "signing",
            Self::Device { .. } => "device",
            Self::Signed { .. } => "signed",
            Self::Failed { .. } => "failed",
        }
    }

    /// Add the outcome to a JSON object for the eService (status poll, webhook):
    /// `signatureId` when signed, `error` and `errorDescription` when failed, nothing otherwise.
    pub fn add_outcome(&self, body: &mut serde_json::Value) {
        match self {
            Self::Signed { signature_id } => body["signatureId"] = signature_id.as_str().into(),
            Self::Failed { error, description } => {
                body["error"] = error.as_str().into();
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
    /// The document digest, hex.
    pub digest_hex: String,
    /// `SHA2-256`...
    pub hash_type: String,
    /// `CAdES` or `PAdES`.
    pub format: String,
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
}

/// The profile of a stored `format` (`CAdES` or `PAdES`, checked when the request came in).
pub fn profile_of(format: &str) -> crate::cms::Profile {
    if format.eq_ignore_ascii_case("PAdES") { crate::cms::Profile::Pades } else { crate::cms::Profile::Cades }
}

impl Session {
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
            status: self.status.name().to_owned(),
            oidc_state,
            expires_at: self.expires(),
            body: serde_json::to_string(self).expect("a session serialises"),
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
