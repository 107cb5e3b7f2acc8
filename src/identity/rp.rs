//! esignd as an OpenID Connect relying party (the browser flow): the authorization code flow
//! with PKCE (S256), `state` and `nonce`; the code exchanged with `client_secret_basic` or
//! `private_key_jwt`; the ID token verified (signature by the provider's JWKS, `iss`, `aud`,
//! `exp`, `nonce`); claims from the ID token, completed from userinfo (JSON or signed JWT).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::Method;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{AuthError, provider::Provider};
use crate::hsm::HashAlgorithm;
use crate::ids::random_token;
use crate::jose::b64;
use crate::jose::claims::Expectations;

/// What the browser is sent to, and what must be kept to finish.
#[derive(Clone, Debug)]
pub struct Authorization {
    /// The provider URL to redirect the browser to.
    pub url: String,
    /// The `state` (found again in the callback).
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
}

/// What an authorization request asks for.
pub struct AuthorizationRequest<'a> {
    /// esignd's client id at the provider.
    pub client_id: &'a str,
    /// Where the provider sends the browser back.
    pub redirect_uri: &'a str,
    /// The scopes asked for.
    pub scopes: &'a [String],
    /// The language of the provider's pages.
    pub ui_locale: &'a str,
    /// The oldest login the provider may reuse (`max_age`; 0: log in again).
    pub max_age: std::time::Duration,
    /// The authentication context classes asked for (`acr_values`), if any.
    pub acr_values: &'a [String],
}

/// Build the authorization request (OpenID Connect Core §3.1.2.1, RFC 7636), always with
/// `max_age` so that the provider's single sign-on session alone never signs anything.
pub fn authorize(provider: &Provider, request: &AuthorizationRequest<'_>) -> Authorization {
    let (state, nonce, verifier) = (random_token(), random_token(), random_token());
    let challenge = b64(&HashAlgorithm::Sha256.digest(verifier.as_bytes()));
    let (scope, max_age, acr_values) =
        (request.scopes.join(" "), request.max_age.as_secs().to_string(), request.acr_values.join(" "));
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", request.client_id),
        ("redirect_uri", request.redirect_uri),
        ("scope", &scope),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("ui_locales", request.ui_locale),
        ("max_age", &max_age),
    ];
    if !acr_values.is_empty() {
        query.push(("acr_values", &acr_values));
    }
    let endpoint = &provider.discovery().authorization_endpoint;
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    Authorization { url: format!("{endpoint}{separator}{}", form_encode(&query)), state, nonce, verifier }
}

/// How esignd proves itself at the token and introspection endpoints.
pub enum TokenAuth<'a> {
    /// HTTP Basic with the client secret.
    Basic(&'a secrecy::SecretString),
    /// A `private_key_jwt` client assertion, already signed.
    Assertion(String),
}

/// Add esignd's client authentication to a form POST to the provider: HTTP Basic (RFC 6749
/// §2.3.1) or a client assertion (RFC 7523 §2.2). Returns the request's headers.
pub(super) fn authenticate(
    form: &mut Vec<(&'static str, String)>,
    client_id: &str,
    auth: TokenAuth<'_>,
) -> Vec<(HeaderName, String)> {
    let mut headers = vec![(CONTENT_TYPE, "application/x-www-form-urlencoded".to_owned())];
    match auth {
        TokenAuth::Basic(secret) => {
            let credentials = format!("{}:{}", form_component(client_id), form_component(secret.expose_secret()));
            headers.push((AUTHORIZATION, format!("Basic {}", STANDARD.encode(credentials))));
        }
        TokenAuth::Assertion(assertion) => {
            form.push(("client_id", client_id.to_owned()));
            form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()));
            form.push(("client_assertion", assertion));
        }
    }
    headers
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    access_token: Option<String>,
}

/// Exchange `code` and return the signer's claims.
///
/// # Errors
/// [`AuthError`] when the provider refuses the code or the ID token does not verify.
pub async fn finish(
    provider: &Provider,
    client_id: &str,
    auth: TokenAuth<'_>,
    redirect_uri: &str,
    authorization: &Authorization,
    code: &str,
) -> Result<Map<String, Value>, AuthError> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
        ("code_verifier", authorization.verifier.clone()),
    ];
    let headers = authenticate(&mut form, client_id, auth);
    let body = form_encode(&form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let token_endpoint = &provider.discovery().token_endpoint;
    let response = provider
        .http()
        .send(Method::POST, token_endpoint, &headers, body.into_bytes(), std::time::Duration::from_secs(10))
        .await?;
    if !response.status.is_success() {
        return Err(AuthError::Rejected);
    }
    let tokens: TokenResponse = serde_json::from_slice(&response.body)
        .map_err(|_| AuthError::Discovery("the token endpoint answered no JSON".into()))?;
    let id_token = tokens.id_token.ok_or(AuthError::Discovery("the token endpoint gave no id_token".into()))?;
    let expect =
        Expectations { issuer: Some(&provider.discovery().issuer), audience: Some(client_id), require_exp: true };
    let mut claims = provider.verify_jwt(&id_token, &expect).await?;
    super::authorized_party(&claims, Some(client_id))?;
    if claims.get("nonce").and_then(Value::as_str) != Some(authorization.nonce.as_str()) {
        return Err(AuthError::Token(crate::jose::Error::MissingClaim("nonce (matching)")));
    }
    if let Some(access_token) = tokens.access_token.filter(|_| provider.discovery().userinfo_endpoint.is_some()) {
        // Fill in what the ID token left out; the ID token's subject must be userinfo's.
        let userinfo = provider.userinfo(&access_token, client_id).await?;
        if userinfo.get("sub").is_some_and(|sub| Some(sub) != claims.get("sub")) {
            return Err(AuthError::Rejected);
        }
        for (name, value) in userinfo {
            claims.entry(name).or_insert(value);
        }
    }
    Ok(claims)
}

/// The claims of a `private_key_jwt` client assertion (RFC 7523 §3) for `token_endpoint`.
pub fn client_assertion_claims(client_id: &str, token_endpoint: &str) -> Value {
    let now = crate::jose::claims::now();
    serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": token_endpoint,
        "jti": random_token(), "iat": now, "exp": now + 60,
    })
}

/// `application/x-www-form-urlencoded` (and query strings).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", form_component(k), form_component(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encode one form component (unreserved characters stay).
pub fn form_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_everything_but_unreserved() {
        assert_eq!(form_encode(&[("a b", "x&y=z/é")]), "a%20b=x%26y%3Dz%2F%C3%A9");
    }
}
