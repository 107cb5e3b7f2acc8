//! `X-GovStack-PaymentToken`: when `[payment] required = true`, every signature — one-time, a
//! session's, a device's — and every device enrolment must be paid for with a JWT signed by a
//! key of the payment provider (`[payment] jwks_url`), for esignd (`audience`) from the
//! provider (`issuer`), unexpired, and used once. Anything else is 402.
//!
//! A token is verified when the work is asked for (`POST /v1/sign/onetime`, `POST /v1/sessions`,
//! `POST /v1/sign/pseudonym`, a request object's `paymentToken`) and spent — its `jti`
//! remembered until it expires — in the same store transaction that delivers the signature
//! ([`Paid::spend`]): a signature that fails on the way costs the eService nothing, and two
//! signatures cannot be delivered for one payment.

use std::time::{Duration, SystemTime};

use crate::config::PaymentConfig;
use crate::jose::claims::{self, Expectations};
use crate::jose::remote::{RemoteError, RemoteKeySet};
use crate::outbound::HttpClient;
use crate::service::ServiceError;
use crate::store::{Spend, Store, StoreError};

/// The replay cache's name for spent payment tokens.
const SPENT: &str = "payment-jti";

/// A payment token that verified and is not spent yet: its `jti`, and until when (seconds since
/// the epoch) it must be remembered once spent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Paid {
    /// The token's `jti`.
    pub jti: String,
    /// Its `exp` plus the leeway.
    pub until: u64,
}

impl Paid {
    /// What the delivering store write spends.
    pub fn spend(&self) -> Spend {
        Spend { kind: SPENT, id: self.jti.clone(), until: SystemTime::UNIX_EPOCH + Duration::from_secs(self.until) }
    }
}

/// A failed write that spent a payment: a token spent before is the caller's fault (402).
pub fn spent_twice(error: StoreError) -> ServiceError {
    match error {
        StoreError::AlreadySpent(_) => PaymentError::Replayed.into(),
        other => other.into(),
    }
}

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

    /// Check the (optional) payment token and spend it at once (device enrolment: the
    /// certificate is delivered in the same answer).
    ///
    /// # Errors
    /// [`PaymentError`].
    pub async fn check(&self, store: &dyn Store, token: Option<&str>) -> Result<(), PaymentError> {
        if let Some(paid) = self.verify(token).await? {
            let spend = paid.spend();
            if !store.remember_once(spend.kind, &spend.id, spend.until).await? {
                return Err(PaymentError::Replayed);
            }
        }
        Ok(())
    }

    /// Verify the (optional) payment token without spending it; `None` when payment is not
    /// required and none was given (or no provider is configured).
    ///
    /// # Errors
    /// [`PaymentError`].
    pub async fn verify(&self, token: Option<&str>) -> Result<Option<Paid>, PaymentError> {
        let (token, keys) = match (token.map(str::trim).filter(|t| !t.is_empty()), &self.keys) {
            (None, _) if self.config.required => return Err(PaymentError::Required),
            (Some(token), Some(keys)) => (token, keys),
            // Not required and not configured (or not given): nothing to check.
            _ => return Ok(None),
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
        Ok(Some(Paid { jti: jti.to_owned(), until: (exp + claims::LEEWAY_SECS).max(0) as u64 }))
    }
}
