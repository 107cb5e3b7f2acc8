//! Registered claims (RFC 7519 §4.1) checked the same way for every token esignd accepts:
//! `iss` exact, `aud` containing ours, `exp` in the future and `nbf`/`iat` not in the future,
//! with a small leeway for clocks.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::Error;

/// How far clocks may disagree.
pub const LEEWAY_SECS: i64 = 60;

/// What a token must say about itself.
#[derive(Clone, Debug)]
pub struct Expectations<'a> {
    /// Required `iss`, if any.
    pub issuer: Option<&'a str>,
    /// Required member of `aud`, if any.
    pub audience: Option<&'a str>,
    /// Whether `exp` must be present.
    pub require_exp: bool,
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Parse the payload as a JSON object and check its registered claims.
///
/// # Errors
/// The first claim that fails.
pub fn check(payload: &[u8], expect: &Expectations<'_>, now: i64) -> Result<serde_json::Map<String, Value>, Error> {
    let Value::Object(claims) = serde_json::from_slice(payload).map_err(|_| Error::Malformed("claims"))? else {
        return Err(Error::Malformed("claims"));
    };
    if let Some(issuer) = expect.issuer
        && claims.get("iss").and_then(Value::as_str) != Some(issuer)
    {
        return Err(Error::WrongIssuer);
    }
    if let Some(audience) = expect.audience {
        let ours = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ours {
            return Err(Error::WrongAudience);
        }
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp + LEEWAY_SECS < now => return Err(Error::Expired),
        None if expect.require_exp => return Err(Error::MissingClaim("exp")),
        _ => {}
    }
    for early in ["nbf", "iat"] {
        if claims.get(early).and_then(Value::as_i64).is_some_and(|t| t - LEEWAY_SECS > now) {
            return Err(Error::NotYetValid);
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect<'a>() -> Expectations<'a> {
        Expectations { issuer: Some("https://idp"), audience: Some("esignd"), require_exp: true }
    }

    #[test]
    fn registered_claims_are_enforced() {
        let ok = br#"{"iss":"https://idp","aud":["x","esignd"],"exp":2000,"iat":900}"#;
        assert!(check(ok, &expect(), 1000).is_ok());
        assert_eq!(check(ok, &expect(), 3000).unwrap_err(), Error::Expired);
        assert_eq!(
            check(br#"{"iss":"https://other","aud":"esignd","exp":2000}"#, &expect(), 1000).unwrap_err(),
            Error::WrongIssuer
        );
        assert_eq!(
            check(br#"{"iss":"https://idp","aud":"eservice","exp":2000}"#, &expect(), 1000).unwrap_err(),
            Error::WrongAudience
        );
        assert_eq!(
            check(br#"{"iss":"https://idp","aud":"esignd"}"#, &expect(), 1000).unwrap_err(),
            Error::MissingClaim("exp")
        );
        assert_eq!(
            check(br#"{"iss":"https://idp","aud":"esignd","exp":9000,"nbf":5000}"#, &expect(), 1000).unwrap_err(),
            Error::NotYetValid
        );
        assert_eq!(check(b"[1]", &expect(), 1000).unwrap_err(), Error::Malformed("claims"));
    }
}
