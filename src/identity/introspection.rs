//! Token introspection (RFC 7662), for opaque access tokens when `[identity] introspection =
//! true`: the provider itself says whether the token is active, and for whom it was issued.
//! Unlike userinfo — which accepts any of the user's tokens that may read their profile — this
//! binds the token to esignd: `[identity] audience` must be in the answer's `aud` or, when it
//! has none, be its `client_id`. esignd authenticates as at the token endpoint (`client_secret_basic`, or
//! `private_key_jwt` by the HSM service key).

use hyper::Method;
use serde_json::{Map, Value};

use super::rp::{TokenAuth, authenticate, form_encode};
use super::{AuthError, provider::Provider};
use crate::jose::Error as JoseError;

/// The introspection answer for an active token addressed to `audience`.
///
/// # Errors
/// [`AuthError::Rejected`] for an inactive token, [`AuthError::Token`] for one of another
/// issuer or audience or expired; [`AuthError::Discovery`] when the provider has no
/// introspection endpoint or answers nonsense; [`AuthError::ProviderUnavailable`].
pub async fn introspect(
    provider: &Provider,
    client_id: &str,
    auth: TokenAuth<'_>,
    token: &str,
    audience: &str,
) -> Result<Map<String, Value>, AuthError> {
    let endpoint = provider.discovery().introspection_endpoint.as_deref().ok_or_else(|| {
        AuthError::Discovery(
            "identity.introspection is on, but the provider announces no introspection_endpoint".into(),
        )
    })?;
    let mut form = vec![("token", token.to_owned()), ("token_type_hint", "access_token".to_owned())];
    let headers = authenticate(&mut form, client_id, auth);
    let body = form_encode(&form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let response =
        provider.http().send(Method::POST, endpoint, &headers, body.into_bytes(), provider.timeout()).await?;
    if !response.status.is_success() {
        // Not the caller's fault: the provider refuses esignd's own request or credentials.
        let oauth: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        return Err(AuthError::Discovery(format!(
            "the introspection endpoint answered {}: {} {}",
            response.status,
            oauth["error"].as_str().unwrap_or("(no OAuth error)"),
            oauth["error_description"].as_str().unwrap_or("")
        )));
    }
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(&response.body) else {
        return Err(AuthError::Discovery("the introspection endpoint did not answer a JSON object".into()));
    };
    check(answer, &provider.discovery().issuer, audience, crate::jose::claims::now())
}

/// RFC 7662 §2.2: `active` decides; `iss` and `exp` are checked when present; esignd's
/// audience must be in `aud` (or, without `aud`, be `client_id`).
fn check(answer: Map<String, Value>, issuer: &str, audience: &str, now: i64) -> Result<Map<String, Value>, AuthError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(AuthError::Rejected);
    }
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(issuer)
    {
        return Err(AuthError::Token(JoseError::WrongIssuer));
    }
    if answer.get("exp").and_then(Value::as_i64).is_some_and(|exp| exp <= now) {
        return Err(AuthError::Token(JoseError::Expired));
    }
    let addressed = match answer.get("aud") {
        None => answer.get("client_id").and_then(Value::as_str) == Some(audience),
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        Some(_) => false,
    };
    if !addressed {
        return Err(AuthError::Token(JoseError::WrongAudience));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn only_an_active_unexpired_token_of_our_issuer_and_audience_passes() {
        let ok = json!({"active": true, "sub": "jane", "iss": "https://id", "aud": ["esignd", "x"], "exp": 2000});
        assert!(check(answer(ok), "https://id", "esignd", 1000).is_ok());
        let for_us = json!({"active": true, "sub": "jane", "client_id": "esignd"});
        assert!(check(answer(for_us), "https://id", "esignd", 1000).is_ok());
        // A live token for no audience (a token only userinfo would take) is not esignd's.
        let anyones = json!({"active": true, "sub": "jane", "client_id": "another-rp"});
        assert!(matches!(check(answer(anyones), "https://id", "esignd", 1000), Err(AuthError::Token(_))));
        let bare = json!({"active": true, "sub": "jane"});
        assert!(matches!(check(answer(bare), "https://id", "esignd", 1000), Err(AuthError::Token(_))));
        assert!(matches!(
            check(answer(json!({"active": false})), "https://id", "esignd", 1000),
            Err(AuthError::Rejected)
        ));
        assert!(matches!(
            check(answer(json!({"sub": "jane"})), "https://id", "esignd", 1000),
            Err(AuthError::Rejected)
        ));
        let other = json!({"active": true, "aud": "another-service"});
        assert!(matches!(check(answer(other), "https://id", "esignd", 1000), Err(AuthError::Token(_))));
        let expired = json!({"active": true, "aud": "esignd", "exp": 999});
        assert!(matches!(check(answer(expired), "https://id", "esignd", 1000), Err(AuthError::Token(_))));
        let foreign = json!({"active": true, "aud": "esignd", "iss": "https://elsewhere"});
        assert!(matches!(check(answer(foreign), "https://id", "esignd", 1000), Err(AuthError::Token(_))));
    }
}
