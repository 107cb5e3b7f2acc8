//! A JWKS published at a URL (an ID provider's `jwks_uri`, a payment provider's `jwks_url`):
//! fetched on first use, cached, and fetched again when a token names a key not in the cache —
//! at most every [`REFRESH_INTERVAL`], so forged key ids cannot turn into a flood of requests.

use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use super::jwk::JwkSet;
use super::{Error, jws};
use crate::outbound::{HttpClient, OutboundError};

/// The least time between two fetches caused by unknown key ids.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Why a remote key set could not verify a token.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The token or its signature is not acceptable.
    #[error(transparent)]
    Token(#[from] Error),
    /// The key set could not be fetched.
    #[error(transparent)]
    Unavailable(#[from] OutboundError),
    /// The URL did not answer a key set.
    #[error("{url} did not answer a JWKS: {reason}")]
    NotAKeySet {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A cached remote JWKS.
#[derive(Debug)]
pub struct RemoteKeySet {
    url: String,
    http: HttpClient,
    timeout: Duration,
    cache: RwLock<(JwkSet, Option<Instant>)>,
}

impl RemoteKeySet {
    /// A key set at `url`, not fetched yet.
    pub fn new(url: String, http: HttpClient, timeout: Duration) -> Self {
        Self { url, http, timeout, cache: RwLock::new((JwkSet::default(), None)) }
    }

    async fn fetch(&self) -> Result<JwkSet, RemoteError> {
        let response = self.http.get(&self.url, None, self.timeout).await?;
        let not_a_key_set = |reason: String| RemoteError::NotAKeySet { url: self.url.clone(), reason };
        if !response.status.is_success() {
            return Err(not_a_key_set(format!("status {}", response.status)));
        }
        serde_json::from_slice(&response.body).map_err(|e| not_a_key_set(e.to_string()))
    }

    /// Verify a compact JWS with these keys and return its payload.
    ///
    /// # Errors
    /// [`RemoteError`].
    pub async fn verify(&self, token: &str) -> Result<Vec<u8>, RemoteError> {
        {
            let cached = self.cache.read().await;
            if cached.1.is_some() {
                match jws::decode(token)?.verify(&cached.0) {
                    Err(Error::UnknownKey(_)) => {}
                    other => return Ok(other?),
                }
            }
        }
        let mut cached = self.cache.write().await;
        if cached.1.is_none_or(|at| at.elapsed() >= REFRESH_INTERVAL) {
            *cached = (self.fetch().await?, Some(Instant::now()));
        }
        Ok(jws::decode(token)?.verify(&cached.0)?)
    }
}
