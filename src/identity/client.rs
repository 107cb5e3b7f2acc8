//! [`IdentityClient`]: the configured ID provider, discovered on first use (and again after a
//! failed discovery, so a provider that was down at start-up is picked up when it comes back).

use tokio::sync::OnceCell;

use std::sync::Arc;

use super::rp::{self, TokenAuth};
use super::{AuthError, Identity, access_token, provider::Provider};
use crate::config::{ClientAuth, IdentityConfig};
use crate::hsm::KeyStore;
use crate::outbound::HttpClient;
use crate::service::SigningService;

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
    /// `signing` signs esignd's client assertion when an opaque token is introspected with
    /// `private_key_jwt`.
    ///
    /// # Errors
    /// [`AuthError`]: [`AuthError::is_callers_fault`] tells 401 from 503.
    pub async fn identify<K: KeyStore>(
        &self,
        access_token: &str,
        signing: &Arc<SigningService<K>>,
    ) -> Result<Identity, AuthError> {
        let provider = self.provider().await?;
        access_token::identify(provider, access_token, &self.config, async || self.client_auth(provider, signing).await)
            .await
    }

    /// How esignd authenticates at `provider`'s token and introspection endpoints: the client
    /// secret, or a `private_key_jwt` assertion signed now by the HSM service key.
    ///
    /// # Errors
    /// [`AuthError::ClientAssertion`] when the service key cannot sign.
    pub async fn client_auth<K: KeyStore>(
        &self,
        provider: &Provider,
        signing: &Arc<SigningService<K>>,
    ) -> Result<TokenAuth<'_>, AuthError> {
        match &self.config.client_auth {
            ClientAuth::ClientSecretBasic(secret) => Ok(TokenAuth::Basic(secret)),
            ClientAuth::PrivateKeyJwt => {
                let claims = rp::client_assertion_claims(&self.config.client_id, &provider.discovery().token_endpoint);
                let assertion = signing
                    .sign_jws("JWT", claims.to_string().into_bytes())
                    .await
                    .map_err(|e| AuthError::ClientAssertion(e.to_string()))?;
                Ok(TokenAuth::Assertion(assertion))
            }
        }
    }
}
