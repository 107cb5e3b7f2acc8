//! `X-GovStack-AuthenticationToken`: the user's access token from the ID provider, turned into
//! an [`Identity`]. A JWT is verified locally (signature by the provider's JWKS, `iss`, `exp`,
//! `aud` = `[identity] audience`) and must be an access token: typed `at+jwt` (RFC 9068), or
//! for an audience that is not esignd's own `client_id` — an ID token issued to esignd is never
//! taken; with several audiences its `azp` must name who holds it, and not esignd. An opaque
//! token is taken only through introspection (`[identity] introspection`: active, issuer,
//! expiry, and esignd's audience in `aud` or `client_id`); userinfo alone would accept any live
//! token of the user, whichever relying party got it. The certificate subject comes from the
//! configured claims; when the JWT or the introspection answer lacks them, userinfo is asked
//! with the same token and must name the same subject.

use serde_json::{Map, Value};

use super::introspection::introspect;
use super::rp::TokenAuth;
use super::{AuthError, Identity, provider::Provider};
use crate::config::{IdentityClaims, IdentityConfig};
use crate::jose::claims::Expectations;
use crate::jose::jws;

/// Who a token belongs to, and when they last logged in, if it says.
#[derive(Debug)]
pub struct Identified {
    /// The certificate subject.
    pub identity: Identity,
    /// The token's `auth_time` (seconds since the epoch), when it carries one.
    pub auth_time: Option<i64>,
}

/// Who the token for `audience` belongs to.
///
/// # Errors
/// [`AuthError`] for a missing, invalid, expired or wrong-audience token, a provider that
/// refuses it, or claims that cannot make a certificate subject.
pub async fn identify<'a>(
    provider: &Provider,
    token: &str,
    audience: &str,
    config: &IdentityConfig,
    client_auth: impl AsyncFnOnce() -> Result<TokenAuth<'a>, AuthError>,
) -> Result<Identified, AuthError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    let claims = &config.claims;
    let mut found = if let Ok(jwt) = jws::decode(token) {
        let typ = jwt.header.typ.clone();
        let expect =
            Expectations { issuer: Some(&provider.discovery().issuer), audience: Some(audience), require_exp: true };
        let claims = provider.verify_jwt(token, &expect).await?;
        access_token_for_us(typ.as_deref(), &claims, audience, &config.client_id)?;
        claims
    } else if config.introspection {
        introspect(provider, &config.client_id, client_auth().await?, token, audience).await?
    } else {
        return Err(AuthError::Opaque);
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
    let auth_time = found.get("auth_time").and_then(Value::as_i64);
    Ok(Identified { identity: identity_from_claims(&found, claims)?, auth_time })
}

/// A verified JWT is an access token for esignd: typed `at+jwt`, or for an audience other than
/// esignd's `client_id` (which is what an ID token for esignd carries); and not issued to esignd
/// itself (`azp`).
///
/// # Errors
/// [`AuthError::NotAnAccessToken`]; [`AuthError::Token`] for a missing `azp`.
fn access_token_for_us(
    typ: Option<&str>,
    claims: &Map<String, Value>,
    audience: &str,
    client_id: &str,
) -> Result<(), AuthError> {
    let typed = typ.is_some_and(|t| matches!(t.to_ascii_lowercase().as_str(), "at+jwt" | "application/at+jwt"));
    if !typed && audience == client_id {
        return Err(AuthError::NotAnAccessToken(
            "its audience is esignd's client_id, as an ID token's is, and it is not typed at+jwt",
        ));
    }
    if super::authorized_party(claims, None)? == Some(client_id) {
        return Err(AuthError::NotAnAccessToken("it was issued to esignd itself"));
    }
    Ok(())
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
