//! [`IdentityClient`]: the configured ID provider, discovered on first use (and again after a
//! failed discovery, so a provider that was down at start-up is picked up when it comes back).

use tokio::sync::OnceCell;

use super::{AuthError, Identity, access_token, provider::Provider};
use crate::config::IdentityConfig;
use crate::outbound::HttpClient;

/// The ID provider and how its tokens map to identities.
#[derive(Debug)]
pub struct IdentityClient {
    config: IdentityConfig,
    http: HttpClient,
    provider: OnceCell<Provider>,
}

impl IdentityClient {
    /// A client for `config` (nothing is fetched yet).
    pub fn new(config: IdentityConfig, http: HttpClient) -> Self {
        Self { config, http, provider: OnceCell::new() }
    }

    /// The configuration.
    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// The discovered provider.
    ///
    /// # Errors
    /// [`AuthError::NotConfigured`]; discovery failures.
    pub async fn provider(&self) -> Result<&Provider, AuthError> {
        let issuer = self.config.issuer.as_deref().ok_or(AuthError::NotConfigured)?;
        self.provider.get_or_try_init(|| Provider::discover(issuer, self.http.clone(), self.config.timeout)).await
    }

    /// The identity behind a GovStack authentication token (the user's access token).
    ///
    /// # Errors
    /// [`AuthError`]: [`AuthError::is_callers_fault`] tells 401 from 503.
    pub async fn identify(&self, access_token: &str) -> Result<Identity, AuthError> {
        let provider = self.provider().await?;
        access_token::identify(
            provider,
            access_token,
            &self.config.audience,
            &self.config.client_id,
            &self.config.claims,
        )
        .await
    }
}
