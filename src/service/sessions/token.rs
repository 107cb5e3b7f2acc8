//! Session tokens: the JWT in a session's `redirectUrl`, signed by the service key (ES256) and
//! verified against esignd's own JWKS. It names the session and expires with it; it can start
//! the signing only once, because the session leaves `pending` when it is used.

use serde_json::json;

use crate::jose::claims::{self, Expectations};
use crate::jose::jwk::JwkSet;
use crate::jose::{self, jws};

/// The audience of session tokens.
pub const AUDIENCE: &str = "esignd-session";

/// The claims of a session token.
pub fn claims(issuer: &str, session_id: &str, expires_at: u64) -> serde_json::Value {
    json!({ "iss": issuer, "aud": AUDIENCE, "sub": session_id, "exp": expires_at, "iat": claims::now() })
}

/// The session id a token names, after checking its signature, issuer, audience and expiry.
///
/// # Errors
/// [`jose::Error`].
pub fn session_id(token: &str, issuer: &str, keys: &JwkSet) -> Result<String, jose::Error> {
    let payload = jws::decode(token)?.verify(keys)?;
    let expect = Expectations { issuer: Some(issuer), audience: Some(AUDIENCE), require_exp: true };
    let claims = claims::check(&payload, &expect, claims::now())?;
    claims.get("sub").and_then(|s| s.as_str()).map(str::to_owned).ok_or(jose::Error::MissingClaim("sub"))
}
