//! [`Core`]: what every workflow of the service shares — the signing engine, the store, esignd's
//! public URL and its own keys (which verify the tokens it issued), and the webhooks that tell
//! eServices how their sessions ended.

use std::sync::Arc;

use super::engine::Engine;
use super::sessions::Session;
use super::webhooks::Webhooks;
use crate::jose::jwk::JwkSet;
use crate::store::Store;

/// The workflows' common ground.
pub(crate) struct Core {
    /// The signing engine (HSM, CA, CMS, TSA).
    pub engine: Arc<dyn Engine>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// esignd's public URL: issuer of its tokens, base of its redirects.
    pub public_url: String,
    /// The service key as a JWKS: verifies session and pseudonym tokens, published for
    /// eServices to verify webhooks.
    pub jwks: JwkSet,
    /// Webhook delivery.
    pub webhooks: Webhooks,
}

impl Core {
    /// Tell the session's eService how it ended, if it registered a webhook (in the background).
    pub fn notify(&self, session: &Session) {
        self.webhooks.deliver(Arc::clone(&self.engine), session.clone(), self.public_url.clone());
    }

    /// A compact JWS over `claims` by the HSM service key.
    ///
    /// # Errors
    /// HSM failures.
    pub async fn sign_claims(&self, claims: &serde_json::Value) -> Result<String, super::ServiceError> {
        Ok(self.engine.sign_jws("JWT", claims.to_string().into_bytes()).await?)
    }
}
