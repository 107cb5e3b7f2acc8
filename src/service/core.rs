//! [`Core`]: what every workflow of the service shares — the signing engine, the store, esignd's
//! public URL and its own keys (which verify the tokens it issued), and the webhooks that tell
//! eServices how their sessions ended.

use std::sync::Arc;

use super::engine::Engine;
use super::sessions::Session;
use super::validation::ValidationData;
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
    pub webhooks: Arc<Webhooks>,
    /// The chain and CRL every SignResponse carries.
    pub validation: ValidationData,
}

impl Core {
    /// Tell the session's eService how it ended, if it registered a webhook (in the background).
    pub fn notify(&self, session: &Session) {
        if session.webhook_url.is_some() {
            self.webhooks.kick();
        }
    }

    /// Add to a SignResponse the evidence a validator needs once the one-minute certificate has
    /// expired (`docs/long-term-validation.md`): `validationData.certificates`, the CA chain
    /// (base64 DER, CA certificate first), and `validationData.crls`, the CA's current CRL
    /// (base64 DER), which covers the signer's certificate and the built-in TSA's. The CRL is the
    /// installed one, read at most once a second ([`super::validation`]): a signature never makes
    /// the HSM sign a CRL.
    ///
    /// # Errors
    /// Store failures.
    pub async fn add_validation_data(&self, response: &mut serde_json::Value) -> Result<(), super::ServiceError> {
        response["validationData"] = self.validation.json(self.store.as_ref()).await?;
        Ok(())
    }

    /// As [`Core::notify`], once the first delivery attempt is over (a browser about to be
    /// redirected to the eService's callback waits for it).
    pub async fn notify_first(&self, session: &Session) {
        self.webhooks.deliver_first(&self.engine, session, &self.public_url).await;
    }

    /// A compact JWS over `claims` by the HSM service key.
    ///
    /// # Errors
    /// HSM failures.
    pub async fn sign_claims(&self, claims: &serde_json::Value) -> Result<String, super::ServiceError> {
        Ok(self.engine.sign_jws("JWT", claims.to_string().into_bytes()).await?)
    }
}
