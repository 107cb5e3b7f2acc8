//! The ID provider as esignd sees it: OpenID discovery, its signing keys (JWKS, cached and
//! refreshed when a token names an unknown key), and its userinfo endpoint.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::AuthError;
use crate::jose;
use crate::jose::claims::{self, Expectations};
use crate::jose::remote::RemoteKeySet;
use crate::outbound::HttpClient;

/// The members of the discovery document esignd uses (OpenID Connect Discovery 1.0 §3).
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where browsers are sent to log in.
    pub authorization_endpoint: String,
    /// Where codes are exchanged.
    pub token_endpoint: String,
    /// Where claims are fetched with an access token.
    pub userinfo_endpoint: Option<String>,
    /// Where opaque access tokens are introspected (RFC 7662 / RFC 8414).
    pub introspection_endpoint: Option<String>,
    /// The provider's public keys.
    pub jwks_uri: String,
}

/// A discovered provider with its cached keys.
#[derive(Debug)]
pub struct Provider {
    discovery: Discovery,
    keys: RemoteKeySet,
    http: HttpClient,
    timeout: Duration,
}

impl Provider {
    /// Fetch `{issuer}/.well-known/openid-configuration` and check that it names `issuer`.
    ///
    /// # Errors
    /// [`AuthError::ProviderUnavailable`] or [`AuthError::Discovery`].
    pub async fn discover(issuer: &str, http: HttpClient, timeout: Duration) -> Result<Self, AuthError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let response = http.get(&url, None, timeout).await?;
        if !response.status.is_success() {
            return Err(AuthError::Discovery(format!("{url} answered {}", response.status)));
        }
        let discovery: Discovery = serde_json::from_slice(&response.body)
            .map_err(|e| AuthError::Discovery(format!("{url} is not a discovery document: {e}")))?;
        if discovery.issuer != issuer {
            return Err(AuthError::Discovery(format!(
                "{url} names issuer {:?}, expected {issuer:?}",
                discovery.issuer
            )));
        }
        let endpoints =
            [Some(&discovery.jwks_uri), Some(&discovery.token_endpoint), Some(&discovery.authorization_endpoint)]
                .into_iter()
                .chain([discovery.userinfo_endpoint.as_ref(), discovery.introspection_endpoint.as_ref()])
                .flatten();
        for endpoint in endpoints {
            crate::outbound::check_url(endpoint).map_err(|reason| {
                AuthError::Discovery(format!("{url} announces {endpoint:?}; esignd calls only {reason}"))
            })?;
        }
        let keys = RemoteKeySet::new(discovery.jwks_uri.clone(), http.clone(), timeout);
        Ok(Self { discovery, keys, http, timeout })
    }

    /// The discovery document.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The outbound client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Deadline for each call to the provider.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Verify a JWT signed by the provider and check its registered claims.
    ///
    /// # Errors
    /// [`AuthError::Token`] for a token that does not verify or fails a claim.
    pub async fn verify_jwt(&self, token: &str, expect: &Expectations<'_>) -> Result<Map<String, Value>, AuthError> {
        let payload = self.keys.verify(token).await?;
        Ok(claims::check(&payload, expect, claims::now())?)
    }

    /// The claims the userinfo endpoint gives for `access_token` (JSON, or a signed JWT whose
    /// audience is `client_id`).
    ///
    /// # Errors
    /// [`AuthError::Rejected`] when the provider refuses the token.
    pub async fn userinfo(&self, access_token: &str, client_id: &str) -> Result<Map<String, Value>, AuthError> {
        let endpoint = self.discovery.userinfo_endpoint.as_deref().ok_or(AuthError::Discovery(
            "the provider has no userinfo endpoint, so opaque access tokens cannot be resolved".into(),
        ))?;
        let response = self.http.get(endpoint, Some(access_token), self.timeout).await?;
        if response.status == hyper::StatusCode::UNAUTHORIZED || response.status == hyper::StatusCode::FORBIDDEN {
            return Err(AuthError::Rejected);
        }
        if !response.status.is_success() {
            return Err(AuthError::Discovery(format!("userinfo answered {}", response.status)));
        }
        let is_jwt = response.content_type.as_deref().is_some_and(|t| t.starts_with("application/jwt"));
        if is_jwt {
            let text = std::str::from_utf8(&response.body).map_err(|_| jose::Error::Malformed("userinfo JWT"))?;
            let expect =
                Expectations { issuer: Some(&self.discovery.issuer), audience: Some(client_id), require_exp: false };
            return self.verify_jwt(text.trim(), &expect).await;
        }
        match serde_json::from_slice(&response.body) {
            Ok(Value::Object(claims)) => Ok(claims),
            _ => Err(AuthError::Discovery("userinfo did not answer a JSON object".into())),
        }
    }
}
