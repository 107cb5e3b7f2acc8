//! [`IdentityClient`]: the configured ID provider, discovered on first use (and again after a
//! failed discovery, so a provider that was down at start-up is picked up when it comes back).
//!
//! It is given an [`AssertionSigner`] for its `private_key_jwt` client assertions (the daemon's
//! is the HSM service key) rather than reaching up for the signing engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::OnceCell;

use super::access_token::{Identified, identity_from_claims};
use super::rp::{self, Authorization, AuthorizationRequest, TokenAuth};
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
    kept_assertion: KeptAssertion,
}

impl std::fmt::Debug for IdentityClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityClient").field("config", &self.config).finish_non_exhaustive()
    }
}

impl IdentityClient {
    /// A client for `config` (nothing is fetched yet); `signer` signs its client assertions.
    pub fn new(config: IdentityConfig, http: HttpClient, signer: AssertionSigner) -> Self {
        Self { config, http, signer, provider: OnceCell::new(), kept_assertion: KeptAssertion::default() }
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

    /// The identity behind a GovStack authentication token (the user's access token for
    /// signing: `[identity] audience`).
    ///
    /// # Errors
    /// [`AuthError`]: [`AuthError::is_callers_fault`] tells 401 from 503.
    pub async fn identify(&self, access_token: &str) -> Result<Identity, AuthError> {
        Ok(self.identify_for(access_token, &self.config.audience).await?.identity)
    }

    /// The identity behind an access token for `audience` (e.g. device management's), with
    /// its `auth_time` when it has one.
    ///
    /// # Errors
    /// As [`Self::identify`].
    pub async fn identify_for(&self, access_token: &str, audience: &str) -> Result<Identified, AuthError> {
        let provider = self.provider().await?;
        let client_auth = async || self.client_auth(provider).await;
        access_token::identify(provider, access_token, audience, &self.config, client_auth).await
    }

    /// A service's own token from the provider (client credentials, RFC 9068): a JWT for
    /// `audience` carrying `scope` (in `scope` or `scp`). Returns the party it was issued to
    /// (`client_id`, else `azp`, else `sub`).
    ///
    /// # Errors
    /// [`AuthError`]; [`AuthError::Scope`] without the scope.
    pub async fn service_token(&self, token: &str, audience: &str, scope: &'static str) -> Result<String, AuthError> {
        let provider = self.provider().await?;
        let expect = crate::jose::claims::Expectations {
            issuer: Some(&provider.discovery().issuer),
            audience: Some(audience),
            require_exp: true,
        };
        let claims = provider.verify_jwt(token.trim(), &expect).await?;
        let scopes: Vec<&str> = match (claims.get("scope"), claims.get("scp")) {
            (Some(serde_json::Value::String(text)), _) => text.split_whitespace().collect(),
            (_, Some(serde_json::Value::Array(list))) => list.iter().filter_map(|s| s.as_str()).collect(),
            _ => Vec::new(),
        };
        if !scopes.contains(&scope) {
            return Err(AuthError::Scope(scope));
        }
        ["client_id", "azp", "sub"]
            .iter()
            .find_map(|name| claims.get(*name).and_then(serde_json::Value::as_str))
            .map(str::to_owned)
            .ok_or(AuthError::Token(crate::jose::Error::MissingClaim("client_id")))
    }

    /// Whether a login at `auth_time` is fresh now: no older than `[identity] max_age_secs`
    /// (with the clock leeway).
    pub fn fresh(&self, auth_time: Option<i64>) -> bool {
        logged_in_within(auth_time, crate::jose::claims::now(), self.config.max_age)
    }

    /// The authorization request that sends a browser to the provider (code flow, PKCE, state,
    /// nonce), coming back to `redirect_uri`, with pages in `ui_locale`.
    ///
    /// # Errors
    /// Discovery failures.
    pub async fn authorization(&self, redirect_uri: &str, ui_locale: &str) -> Result<Authorization, AuthError> {
        let provider = self.provider().await?;
        let request = AuthorizationRequest {
            client_id: &self.config.client_id,
            redirect_uri,
            scopes: &self.config.scopes,
            ui_locale,
            max_age: self.config.max_age,
            acr_values: &self.config.acr_values,
        };
        Ok(rp::authorize(provider, &request))
    }

    /// Finish the browser flow for a citizen who pressed Sign at `pressed_at`: exchange `code`,
    /// verify the ID token against `authorization`, check that the login is fresh enough
    /// (`auth_time` no earlier than `max_age` before `pressed_at`) and of an accepted `acr`, and
    /// map the claims to an identity.
    ///
    /// # Errors
    /// [`AuthError`] when the provider refuses the code, the login is stale or of another
    /// assurance, or the claims are unusable.
    pub async fn finish_login(
        &self,
        authorization: &Authorization,
        redirect_uri: &str,
        code: &str,
        pressed_at: SystemTime,
    ) -> Result<Login, AuthError> {
        let provider = self.provider().await?;
        let auth = self.client_auth(provider).await?;
        let claims = rp::finish(provider, &self.config.client_id, auth, redirect_uri, authorization, code).await?;
        check_login(&claims, pressed_at, self.config.max_age, &self.config.acr_values)?;
        Ok(Login {
            identity: identity_from_claims(&claims, &self.config.claims)?,
            provider: provider.discovery().issuer.clone(),
            acr: claims.get("acr").and_then(serde_json::Value::as_str).map(str::to_owned),
            auth_time: claims.get("auth_time").and_then(serde_json::Value::as_i64),
        })
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
                let endpoint = &provider.discovery().token_endpoint;
                let reuse = self.config.reuse_client_assertion;
                let now = crate::jose::claims::now();
                if reuse && let Some(kept) = self.kept_assertion.valid(endpoint, now) {
                    return Ok(TokenAuth::Assertion(kept));
                }
                let claims = rp::client_assertion_claims(&self.config.client_id, endpoint);
                let assertion =
                    (self.signer)(claims.to_string().into_bytes()).await.map_err(AuthError::ClientAssertion)?;
                if reuse {
                    let expires = claims["exp"].as_i64().unwrap_or(now);
                    self.kept_assertion.keep(endpoint, &assertion, expires);
                }
                Ok(TokenAuth::Assertion(assertion))
            }
        }
    }
}

/// A client assertion kept for reuse (`[identity] reuse_client_assertion`): for one token
/// endpoint, until [`KeptAssertion::MARGIN_SECS`] before it expires.
#[derive(Default)]
struct KeptAssertion {
    kept: std::sync::Mutex<Option<(String, String, i64)>>,
}

impl KeptAssertion {
    /// Seconds before its `exp` that an assertion is no longer handed out (the provider's clock,
    /// the request's time in flight).
    const MARGIN_SECS: i64 = 15;

    /// The kept assertion for `audience`, if it is still good at `now`.
    fn valid(&self, audience: &str, now: i64) -> Option<String> {
        let kept = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref()
            .filter(|(for_audience, _, expires)| for_audience == audience && now + Self::MARGIN_SECS < *expires)
            .map(|(_, assertion, _)| assertion.clone())
    }

    /// Keep `assertion` for `audience`, expiring at `expires`.
    fn keep(&self, audience: &str, assertion: &str, expires: i64) {
        *self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((audience.to_owned(), assertion.to_owned(), expires));
    }
}

/// Whether a login at `auth_time` (absent: unknown, so not) was no more than `max_age`, plus the
/// clock leeway, before `at` (seconds since the epoch).
fn logged_in_within(auth_time: Option<i64>, at: i64, max_age: Duration) -> bool {
    let earliest = at - max_age.as_secs() as i64 - crate::jose::claims::LEEWAY_SECS;
    auth_time.is_some_and(|auth_time| auth_time >= earliest)
}

/// The login behind an ID token's `claims` happened no earlier than `max_age` (plus the clock
/// leeway) before the citizen pressed Sign, and with one of `acr_values` when any are asked for.
/// A finished login: who, where, and how (what the audit records of it).
#[derive(Clone, Debug)]
pub struct Login {
    /// The citizen.
    pub identity: Identity,
    /// The provider's issuer identifier.
    pub provider: String,
    /// The ID token's `acr`.
    pub acr: Option<String>,
    /// The ID token's `auth_time` (seconds since the epoch).
    pub auth_time: Option<i64>,
}

fn check_login(
    claims: &serde_json::Map<String, serde_json::Value>,
    pressed_at: SystemTime,
    max_age: Duration,
    acr_values: &[String],
) -> Result<(), AuthError> {
    let pressed = pressed_at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    if !logged_in_within(claims.get("auth_time").and_then(serde_json::Value::as_i64), pressed, max_age) {
        return Err(AuthError::StaleLogin);
    }
    let acr = claims.get("acr").and_then(serde_json::Value::as_str);
    if !acr_values.is_empty() && !acr.is_some_and(|acr| acr_values.iter().any(|wanted| wanted == acr)) {
        return Err(AuthError::Assurance(acr.unwrap_or("none").to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_assertion_serves_its_own_endpoint_until_shortly_before_it_expires() {
        let kept = KeptAssertion::default();
        assert_eq!(kept.valid("https://idp/token", 1000), None, "nothing kept yet");
        kept.keep("https://idp/token", "assertion-1", 1060);
        assert_eq!(kept.valid("https://idp/token", 1000).as_deref(), Some("assertion-1"));
        assert_eq!(kept.valid("https://idp/token", 1044).as_deref(), Some("assertion-1"));
        assert_eq!(kept.valid("https://idp/token", 1045), None, "too close to its exp");
        assert_eq!(kept.valid("https://other-idp/token", 1000), None, "another audience");
    }

    #[test]
    fn a_login_must_be_fresh_and_of_an_accepted_assurance() {
        let pressed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let claims = |auth_time: Option<i64>, acr: Option<&str>| {
            let mut claims = serde_json::Map::new();
            if let Some(at) = auth_time {
                claims.insert("auth_time".into(), at.into());
            }
            if let Some(acr) = acr {
                claims.insert("acr".into(), acr.into());
            }
            claims
        };
        let none: &[String] = &[];
        let leeway = crate::jose::claims::LEEWAY_SECS;
        assert!(check_login(&claims(Some(1_000_005), None), pressed, Duration::ZERO, none).is_ok());
        assert!(check_login(&claims(Some(1_000_000 - leeway), None), pressed, Duration::ZERO, none).is_ok());
        let stale = check_login(&claims(Some(1_000_000 - leeway - 1), None), pressed, Duration::ZERO, none);
        assert!(matches!(stale, Err(AuthError::StaleLogin)));
        assert!(check_login(&claims(Some(999_000), None), pressed, Duration::from_secs(3600), none).is_ok());
        assert!(matches!(
            check_login(&claims(None, None), pressed, Duration::from_secs(3600), none),
            Err(AuthError::StaleLogin)
        ));
        let wanted = ["high".to_owned()];
        assert!(check_login(&claims(Some(1_000_001), Some("high")), pressed, Duration::ZERO, &wanted).is_ok());
        let low = check_login(&claims(Some(1_000_001), Some("low")), pressed, Duration::ZERO, &wanted);
        assert!(matches!(low, Err(AuthError::Assurance(acr)) if acr == "low"));
        assert!(check_login(&claims(Some(1_000_001), None), pressed, Duration::ZERO, &wanted).is_err());
    }
}
