//! The mock ID provider: an OpenID provider that believes whatever name the visitor types.
//! Discovery, an authorization page, and a token endpoint whose ID tokens are signed by the
//! service key (so they verify against `/.well-known/jwks.json`). Codes are single use, expire
//! after a minute, and must come back with the PKCE verifier. Announced loudly at start-up and
//! on its page; refused on non-loopback addresses by configuration.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::hsm::HashAlgorithm;
use crate::ids::random_token;
use crate::jose::b64;

/// What the visitor typed, waiting for the code to be exchanged.
struct Grant {
    name: String,
    subject: String,
    nonce: String,
    challenge: String,
    client_id: String,
    redirect_uri: String,
    issued: Instant,
    /// When the visitor logged in, seconds since the epoch (the ID token's `auth_time`).
    logged_in_at: i64,
}

/// What the visitor sends from the mock login page.
#[derive(Clone, Debug, Default)]
pub struct MockLogin {
    /// The name typed (it goes into the certificate).
    pub name: String,
    /// The personal code typed (the certificate's serialNumber).
    pub subject: String,
    /// The relying party's `nonce`.
    pub nonce: String,
    /// The PKCE `code_challenge`.
    pub challenge: String,
    /// The relying party's `client_id`.
    pub client_id: String,
    /// Where the browser goes back to.
    pub redirect_uri: String,
    /// The relying party's `state`, handed back.
    pub state: String,
}

/// Why a token request was refused (`invalid_grant` for all of them, as OAuth says).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid_grant: {0}")]
pub struct InvalidGrant(&'static str);

pub use crate::config::mock_issuer as issuer;

/// The mock provider's state.
pub struct MockIdp {
    issuer: String,
    jwks_uri: String,
    callback: String,
    grants: Mutex<HashMap<String, Grant>>,
}

impl MockIdp {
    /// A provider at `{public_url}/mock-idp` that sends browsers back only to esignd's callback.
    pub fn new(public_url: &str) -> Self {
        Self {
            issuer: issuer(public_url),
            jwks_uri: format!("{public_url}/.well-known/jwks.json"),
            callback: format!("{public_url}/sign/oidc/callback"),
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// The discovery document.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": format!("{}/authorize", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
        })
    }

    /// Whether the browser may be sent back to `redirect_uri`.
    pub fn redirect_allowed(&self, redirect_uri: &str) -> bool {
        redirect_uri == self.callback
    }

    /// Record what the visitor typed; returns the code.
    pub fn grant(&self, login: &MockLogin) -> String {
        let code = random_token();
        let mut grants = self.grants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        grants.retain(|_, g| g.issued.elapsed() < Duration::from_secs(60));
        grants.insert(
            code.clone(),
            Grant {
                name: login.name.clone(),
                subject: login.subject.clone(),
                nonce: login.nonce.clone(),
                challenge: login.challenge.clone(),
                client_id: login.client_id.clone(),
                redirect_uri: login.redirect_uri.clone(),
                issued: Instant::now(),
                logged_in_at: crate::jose::claims::now(),
            },
        );
        code
    }

    /// Redeem a code (once): the ID token claims, to be signed by the caller.
    ///
    /// # Errors
    /// [`InvalidGrant`] for an unknown, used or expired code, a wrong redirect URI or verifier.
    pub fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<Value, InvalidGrant> {
        let grant = self
            .grants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(code)
            .ok_or(InvalidGrant("unknown or used code"))?;
        if grant.issued.elapsed() > Duration::from_secs(60) {
            return Err(InvalidGrant("expired code"));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(InvalidGrant("redirect_uri differs"));
        }
        if b64(&HashAlgorithm::Sha256.digest(verifier.as_bytes())) != grant.challenge {
            return Err(InvalidGrant("PKCE verifier does not match"));
        }
        let now = crate::jose::claims::now();
        Ok(json!({
            "iss": self.issuer, "aud": grant.client_id, "sub": grant.subject, "name": grant.name,
            "nonce": grant.nonce, "iat": now, "exp": now + 300, "auth_time": grant.logged_in_at,
        }))
    }
}

impl MockIdp {
    /// The claims of an access token for `audience`, without a browser: what the demo's
    /// `esign-device enroll` presents (the mock believes any name, as its login page does),
    /// logged in `login_age_secs` ago.
    pub fn access_token_claims(&self, name: &str, subject: &str, audience: &str, login_age_secs: u32) -> Value {
        let now = crate::jose::claims::now();
        json!({
            "iss": self.issuer, "aud": audience, "sub": subject, "name": name, "iat": now, "exp": now + 300,
            "auth_time": now - i64::from(login_age_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_use_and_bound_to_the_verifier() {
        let idp = MockIdp::new("http://127.0.0.1:8080");
        let verifier = "v".repeat(43);
        let challenge = b64(&HashAlgorithm::Sha256.digest(verifier.as_bytes()));
        let callback = "http://127.0.0.1:8080/sign/oidc/callback";
        let login = MockLogin {
            name: "Jane".into(),
            subject: "J-1".into(),
            nonce: "n".into(),
            challenge,
            client_id: "esignd".into(),
            redirect_uri: callback.into(),
            state: "s".into(),
        };
        let code = idp.grant(&login);
        assert_eq!(idp.exchange(&code, "wrong", callback), Err(InvalidGrant("PKCE verifier does not match")));
        let code = idp.grant(&login);
        assert_eq!(idp.exchange(&code, &verifier, callback).unwrap()["name"], "Jane");
        assert_eq!(idp.exchange(&code, &verifier, callback), Err(InvalidGrant("unknown or used code")));
        assert!(!idp.redirect_allowed("https://evil.example/cb"));
    }
}
