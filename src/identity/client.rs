//! [`IdentityClient`]: the configured ID provider, discovered on first use (and again after a
//! failed discovery, so a provider that was down at start-up is picked up when it comes back).
//!
//! It is given an [`AssertionSigner`] for its `private_key_jwt` client assertions (the daemon's
//! is the HSM service key) rather than reaching up for the signing engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::access_token::identity_from_claims;
use super::rp::{self, Authorization, TokenAuth};
use super::{AuthError, Identity, access_token, provider::Provider};
use crate::config::{ClientAuth, IdentityConfig};
use crate::outbound::HttpClient;

/// What a signature of an [`AssertionSigner`] comes to: a compact JWS, or why there is none.
pub type Signed = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// Signs esignd's `private_key_jwt` client assertions: the claims (JSON bytes) in, a compact
/// ES256 JWS out.
pub type AssertionSigner = Arc<dyn Fn(Vec<u8>) -> Signed + Send + Sync>;

/// The ID provider and how its tokens map to identities.
pub struct IdentityClient {
    config: IdentityConfig,
    http: HttpClient,
    signer: AssertionSigner,
    provider: OnceCell<Provider>,
}

impl std::fmt::Debug for IdentityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityClient").field("config", &self.config).finish_non_exhaustive()
    }
}

impl IdentityClient {
    /// A client for `config` (nothing is fetched yet); `signer` signs its client assertions.
    pub fn new(config: IdentityConfig, http: HttpClient, signer: AssertionSigner) -> Self {
        Self { config, http, signer, provider: OnceCell::new() }
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
        access_token::identify(provider, access_token, &self.config, async || self.client_auth(provider).await).await
    }

    /// The authorization request that sends a browser to the provider (code flow, PKCE, state,
    /// nonce), coming back to `redirect_uri`, with pages in `ui_locale`.
    ///
    /// # Errors
    /// Discovery failures.
    pub async fn authorization(&self, redirect_uri: &str, ui_locale: &str) -> Result<Authorization, AuthError> {
        let provider = self.provider().await?;
        Ok(rp::authorize(provider, &self.config.client_id, redirect_uri, &self.config.scopes, ui_locale))
    }

    /// Finish the browser flow: exchange `code`, verify the ID token against `authorization`,
    /// and map the claims to an identity.
    ///
    /// # Errors
    /// [`AuthError`] when the provider refuses the code or the claims are unusable.
    pub async fn finish_login(
        &self,
        authorization: &Authorization,
        redirect_uri: &str,
        code: &str,
    ) -> Result<Identity, AuthError> {
        let provider = self.provider().await?;
        let auth = self.client_auth(provider).await?;
        let claims = rp::finish(provider, &self.config.client_id, auth, redirect_uri, authorization, code).await?;
        identity_from_claims(&claims, &self.config.claims)
    }

    /// How esignd authenticates at `provider`'s token and introspection endpoints: the client
    /// secret, or a `private_key_jwt` assertion signed now by the signer.
    ///
    /// # Errors
    /// [`AuthError::ClientAssertion`] when the signer cannot sign.
    async fn client_auth(&self, provider: &Provider) -> Result<TokenAuth<'_>, AuthError> {
        match &self.config.client_auth {
            ClientAuth::ClientSecretBasic(secret) => Ok(TokenAuth::Basic(secret)),
            ClientAuth::PrivateKeyJwt => {
                let claims = rp::client_assertion_claims(&self.config.client_id, &provider.discovery().token_endpoint);
                let assertion =
                    (self.signer)(claims.to_string().into_bytes()).await.map_err(AuthError::ClientAssertion)?;
                Ok(TokenAuth::Assertion(assertion))
            }
        }
    }
}
