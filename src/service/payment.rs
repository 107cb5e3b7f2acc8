//! `X-GovStack-PaymentToken`: when `[payment] required = true`, each one-time signature must be
//! paid for with a JWT signed by a key of the payment provider (`[payment] jwks_url`),
//! unexpired, and used once (its `jti` is remembered until it expires). Anything else is 402.

use std::time::{Duration, SystemTime};

use crate::config::PaymentConfig;
use crate::jose::claims::{self, Expectations};
use crate::jose::remote::{RemoteError, RemoteKeySet};
use crate::outbound::HttpClient;
use crate::store::{Store, StoreError};

/// Why a payment token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// None was given but one is required.
    #[error("a payment token (X-GovStack-PaymentToken) is required")]
    Required,
    /// It does not verify or fails a claim.
    #[error("the payment token is not valid: {0}")]
    Invalid(#[from] crate::jose::Error),
    /// It has no `jti`, so it could be used twice.
    #[error("the payment token has no jti")]
    NoId,
    /// It was used before.
    #[error("the payment token has already been used")]
    Replayed,
    /// The payment provider's keys could not be fetched.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The replay cache failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PaymentError {
    /// Whether the caller is at fault (402) rather than a provider or esignd (503).
    pub fn is_callers_fault(&self) -> bool {
        matches!(self, PaymentError::Required | PaymentError::Invalid(_) | PaymentError::NoId | PaymentError::Replayed)
    }
}

/// The payment check.
#[derive(Debug)]
pub struct PaymentGate {
    config: PaymentConfig,
    keys: Option<RemoteKeySet>,
}

impl PaymentGate {
    /// A gate for `config`.
    pub fn new(config: PaymentConfig, http: HttpClient, timeout: Duration) -> Self {
        let keys = config.jwks_url.clone().map(|url| RemoteKeySet::new(url, http, timeout));
        Self { config, keys }
    }

    /// Check the (optional) payment token and spend it.
    ///
    /// # Errors
    /// [`PaymentError`].
    pub async fn check(&self, store: &dyn Store, token: Option<&str>) -> Result<(), PaymentError> {
        let (token, keys) = match (token.map(str::trim).filter(|t| !t.is_empty()), &self.keys) {
            (None, _) if self.config.required => return Err(PaymentError::Required),
            (Some(token), Some(keys)) => (token, keys),
            // Not required and not configured (or not given): nothing to check.
            _ => return Ok(()),
        };
        let payload = keys.verify(token).await.map_err(|e| match e {
            RemoteError::Token(e) => PaymentError::Invalid(e),
            other => PaymentError::Unavailable(other.to_string()),
        })?;
        let expect = Expectations {
            issuer: self.config.issuer.as_deref(),
            audience: self.config.audience.as_deref(),
            require_exp: true,
        };
        let claims = claims::check(&payload, &expect, claims::now())?;
        let jti = claims.get("jti").and_then(|v| v.as_str()).ok_or(PaymentError::NoId)?;
        let exp = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or_default();
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs((exp + claims::LEEWAY_SECS).max(0) as u64);
        if !store.remember_once("payment-jti", jti, until).await? {
            return Err(PaymentError::Replayed);
        }
        Ok(())
    }
}
