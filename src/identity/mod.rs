//! Who signs: the identity an ID provider vouched for, reduced to what goes into a one-time
//! certificate's subject.
//!
//! [`provider`] is the OpenID provider (discovery, JWKS, userinfo); [`access_token`] turns a
//! GovStack authentication token into an [`Identity`], with [`introspection`] for opaque tokens
//! when configured; [`rp`] is the browser flow.
//!
//! An [`Identity`] is personal data: its `Debug` shows nothing, and it is never logged.

pub mod access_token;
pub mod client;
pub mod introspection;
pub mod provider;
pub mod rp;

use std::fmt;

/// Why a caller could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token was given.
    #[error("the authentication token is missing")]
    Missing,
    /// The token does not verify or fails a claim check.
    #[error("the authentication token is not valid: {0}")]
    Token(#[from] crate::jose::Error),
    /// The provider refused the token (userinfo answered 401/403, or named another subject).
    #[error("the ID provider does not accept the authentication token")]
    Rejected,
    /// The claims lack what a certificate subject needs.
    #[error("the ID provider gave no {0:?} claim for the certificate subject")]
    MissingClaim(String),
    /// The claims cannot go into a certificate.
    #[error("the identity cannot go into a certificate: {0}")]
    Identity(IdentityError),
    /// The provider could not be reached.
    #[error("the ID provider is unavailable: {0}")]
    ProviderUnavailable(#[from] crate::outbound::OutboundError),
    /// The provider's documents are unusable.
    #[error("the ID provider is misconfigured: {0}")]
    Discovery(String),
    /// No provider is configured.
    #[error("no ID provider is configured (identity.issuer)")]
    NotConfigured,
    /// The login is older than `[identity] max_age_secs` allows, or the ID token says nothing of
    /// when it happened (`auth_time`).
    #[error(
        "the ID provider did not confirm a fresh login (auth_time missing or older than identity.max_age_secs allows)"
    )]
    StaleLogin,
    /// The login's authentication context class is not one esignd asked for.
    #[error("the login's assurance level (acr {0:?}) is not one of identity.acr_values")]
    Assurance(String),
    /// An opaque access token while introspection is off: userinfo would accept any live token
    /// of the user, whichever relying party holds it.
    #[error(
        "opaque access tokens are not accepted here: send a JWT access token (typ at+jwt) for esignd's audience, \
         or the operator turns on identity.introspection"
    )]
    Opaque,
    /// A JWT that is not an access token for esignd: an ID token, or a token issued to esignd
    /// itself.
    #[error("the authentication token is not an access token for esignd: send one typed at+jwt ({0})")]
    NotAnAccessToken(&'static str),
    /// A service token (a partner's) without the scope the route needs.
    #[error("the bearer token lacks the {0} scope")]
    Scope(&'static str),
    /// esignd could not sign its `private_key_jwt` client assertion.
    #[error("the client assertion could not be signed with the service key: {0}")]
    ClientAssertion(String),
}

impl From<crate::jose::remote::RemoteError> for AuthError {
    fn from(e: crate::jose::remote::RemoteError) -> Self {
        match e {
            crate::jose::remote::RemoteError::Token(e) => AuthError::Token(e),
            crate::jose::remote::RemoteError::Unavailable(e) => AuthError::ProviderUnavailable(e),
            other => AuthError::Discovery(other.to_string()),
        }
    }
}

impl AuthError {
    /// Whether the caller is at fault (401) rather than the provider or esignd (503).
    pub fn is_callers_fault(&self) -> bool {
        matches!(
            self,
            AuthError::Missing
                | AuthError::Token(_)
                | AuthError::Rejected
                | AuthError::MissingClaim(_)
                | AuthError::Identity(_)
                | AuthError::StaleLogin
                | AuthError::Assurance(_)
                | AuthError::Opaque
                | AuthError::NotAnAccessToken(_)
                | AuthError::Scope(_)
        )
    }
}

/// The authorized party of a JWT (OpenID Connect Core §3.1.3.7, 4–5): a token for several
/// audiences must name the one it was issued to in `azp`; when `expected` is given, a present
/// `azp` must be it.
///
/// # Errors
/// [`AuthError::Token`] naming `azp`.
pub(crate) fn authorized_party<'a>(
    claims: &'a serde_json::Map<String, serde_json::Value>,
    expected: Option<&str>,
) -> Result<Option<&'a str>, AuthError> {
    let azp = claims.get("azp").and_then(serde_json::Value::as_str);
    let several = claims.get("aud").and_then(serde_json::Value::as_array).is_some_and(|auds| auds.len() > 1);
    if several && azp.is_none() {
        return Err(AuthError::Token(crate::jose::Error::MissingClaim("azp (the token has several audiences)")));
    }
    if let (Some(expected), Some(azp)) = (expected, azp)
        && azp != expected
    {
        return Err(AuthError::Token(crate::jose::Error::MissingClaim("azp (matching)")));
    }
    Ok(azp)
}

/// A verified signer: display name and the partner-specific subject identifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    name: String,
    subject_id: String,
}

/// Why an identity cannot go into a certificate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// A value is empty.
    #[error("the identity's {0} is empty")]
    Empty(&'static str),
    /// A value is longer than X.520 allows (64 characters for CN and serialNumber).
    #[error("the identity's {0} is longer than 64 characters")]
    TooLong(&'static str),
    /// A value contains control characters.
    #[error("the identity's {0} contains control characters")]
    Control(&'static str),
}

impl Identity {
    /// An identity with display `name` (the certificate's CN) and `subject_id` (its
    /// serialNumber).
    ///
    /// # Errors
    /// [`IdentityError`] for empty, over-long (RFC 5280 upper bounds: 64) or control-character
    /// values.
    pub fn new(name: impl Into<String>, subject_id: impl Into<String>) -> Result<Self, IdentityError> {
        let name = checked(name.into(), "name")?;
        let subject_id = checked(subject_id.into(), "subject id")?;
        Ok(Self { name, subject_id })
    }

    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Partner-specific subject identifier.
    pub fn subject_id(&self) -> &str {
        &self.subject_id
    }
}

fn checked(value: String, what: &'static str) -> Result<String, IdentityError> {
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(IdentityError::Empty(what));
    }
    if value.chars().count() > 64 {
        return Err(IdentityError::TooLong(what));
    }
    if value.chars().any(char::is_control) {
        return Err(IdentityError::Control(what));
    }
    Ok(value)
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity([personal data])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_checked_and_never_printed() {
        let id = Identity::new(" Jane Doe ", "PNOEE-38001085718").unwrap();
        assert_eq!(id.name(), "Jane Doe");
        assert!(!format!("{id:?}").contains("Jane"));
        assert_eq!(Identity::new("", "x").unwrap_err(), IdentityError::Empty("name"));
        assert_eq!(Identity::new("a", "x".repeat(65)).unwrap_err(), IdentityError::TooLong("subject id"));
        assert_eq!(Identity::new("a\u{7}", "x").unwrap_err(), IdentityError::Control("name"));
    }

    #[test]
    fn several_audiences_need_an_authorized_party_and_it_must_be_the_expected_one() {
        let claims = |value: serde_json::Value| value.as_object().unwrap().clone();
        let one = claims(serde_json::json!({"aud": "esignd"}));
        assert_eq!(authorized_party(&one, Some("esignd")).unwrap(), None);
        let several = claims(serde_json::json!({"aud": ["esignd", "other"]}));
        assert!(authorized_party(&several, None).is_err());
        let named = claims(serde_json::json!({"aud": ["esignd", "other"], "azp": "esignd"}));
        assert_eq!(authorized_party(&named, Some("esignd")).unwrap(), Some("esignd"));
        let other = claims(serde_json::json!({"aud": "esignd", "azp": "other"}));
        assert!(authorized_party(&other, Some("esignd")).is_err(), "an ID token issued to another client");
        assert_eq!(authorized_party(&other, None).unwrap(), Some("other"));
    }
}
