//! `X-GovStack-AuthenticationToken`: the user's access token from the ID provider, turned into
//! an [`Identity`]. A JWT is verified locally (signature by the provider's JWKS, `iss`, `exp`,
//! `aud` = `[identity] audience`); an opaque token is introspected when `[identity]
//! introspection` is on (active, issuer, expiry, audience), and resolved at the userinfo
//! endpoint. The certificate subject comes from the configured claims; when the JWT or the
//! introspection answer lacks them, userinfo is asked with the same token and must name the
//! same subject.

use serde_json::{Map, Value};

use super::introspection::introspect;
use super::rp::TokenAuth;
use super::{AuthError, Identity, provider::Provider};
use crate::config::{IdentityClaims, IdentityConfig};
use crate::jose::claims::Expectations;
use crate::jose::jws;

/// Who the token belongs to.
///
/// # Errors
/// [`AuthError`] for a missing, invalid, expired or wrong-audience token, a provider that
/// refuses it, or claims that cannot make a certificate subject.
pub async fn identify<'a>(
    provider: &Provider,
    token: &str,
    config: &IdentityConfig,
    client_auth: impl AsyncFnOnce() -> Result<TokenAuth<'a>, AuthError>,
) -> Result<Identity, AuthError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    let claims = &config.claims;
    let mut found = if jws::is_compact_jws(token) {
        let expect = Expectations {
            issuer: Some(&provider.discovery().issuer),
            audience: Some(&config.audience),
            require_exp: true,
        };
        provider.verify_jwt(token, &expect).await?
    } else if config.introspection {
        introspect(provider, &config.client_id, client_auth().await?, token, &config.audience).await?
    } else {
        Map::new()
    };
    if text(&found, &claims.name).is_none() || text(&found, &claims.subject_id).is_none() {
        // Opaque token, or a JWT without profile claims: ask userinfo (which also checks the token).
        let userinfo = provider.userinfo(token, &config.client_id).await?;
        if let (Some(a), Some(b)) = (found.get("sub"), userinfo.get("sub"))
            && a != b
        {
            return Err(AuthError::Rejected);
        }
        found.extend(userinfo);
    }
    identity_from_claims(&found, claims)
}

/// The certificate subject from a claims set, by the configured claim names.
///
/// # Errors
/// [`AuthError::MissingClaim`], [`AuthError::Identity`].
pub fn identity_from_claims(found: &Map<String, Value>, claims: &IdentityClaims) -> Result<Identity, AuthError> {
    let name = text(found, &claims.name).ok_or_else(|| AuthError::MissingClaim(claims.name.clone()))?;
    let subject_id =
        text(found, &claims.subject_id).ok_or_else(|| AuthError::MissingClaim(claims.subject_id.clone()))?;
    Identity::new(name, subject_id).map_err(AuthError::Identity)
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}
