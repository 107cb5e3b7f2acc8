//! Pseudonym tokens (GovStack `X-Pseodonym-Token`): what `GET /v1/token/pseodonym/{pseudonym}`
//! hands an eService, and `POST /v1/sign/pseudonym` takes back. An ES256 JWT by the service key
//! naming the pseudonym (`sub`) and the eService it was issued to (`azp`), valid five minutes;
//! only that eService can sign with it.

use std::time::Duration;

use serde_json::json;

use crate::jose::claims::{self, Expectations};
use crate::jose::jwk::JwkSet;
use crate::jose::{self, jws};

/// The audience of pseudonym tokens.
pub const AUDIENCE: &str = "esignd-pseudonym";

/// How long a pseudonym token is valid.
pub const LIFETIME: Duration = Duration::from_secs(300);

/// The claims of a token for `pseudonym`, issued to `client_id`.
pub fn claims(issuer: &str, pseudonym: &str, client_id: &str) -> serde_json::Value {
    let now = claims::now();
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": pseudonym,
        "azp": client_id,
        "iat": now,
        "exp": now + LIFETIME.as_secs() as i64,
    })
}

/// Why a pseudonym token was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PseudonymTokenError {
    /// Signature, issuer, audience or expiry.
    #[error("X-Pseodonym-Token is not valid: {0}")]
    Invalid(jose::Error),
    /// Issued to another eService.
    #[error("X-Pseodonym-Token was issued to another eService")]
    OtherClient,
}

/// The pseudonym a token names, after checking its signature, issuer, audience, expiry and
/// that it was issued to `client_id`.
///
/// # Errors
/// [`PseudonymTokenError`].
pub fn pseudonym(token: &str, issuer: &str, keys: &JwkSet, client_id: &str) -> Result<String, PseudonymTokenError> {
    let payload = jws::decode(token).and_then(|t| t.verify(keys)).map_err(PseudonymTokenError::Invalid)?;
    let expect = Expectations { issuer: Some(issuer), audience: Some(AUDIENCE), require_exp: true };
    let found = claims::check(&payload, &expect, claims::now()).map_err(PseudonymTokenError::Invalid)?;
    if found.get("azp").and_then(|a| a.as_str()) != Some(client_id) {
        return Err(PseudonymTokenError::OtherClient);
    }
    found
        .get("sub")
        .and_then(|s| s.as_str())
        .map(str::to_owned)
        .ok_or(PseudonymTokenError::Invalid(jose::Error::MissingClaim("sub")))
}

impl super::Devices {
    /// A pseudonym token for `client_id` (`GET /v1/token/pseodonym/{pseudonym}`); the pseudonym
    /// must name an ACTIVE device.
    ///
    /// # Errors
    /// [`super::DeviceError::UnknownPseudonym`], [`super::DeviceError::Unfit`]; HSM failures.
    pub async fn pseudonym_token(
        &self,
        client_id: &str,
        pseudonym: &str,
    ) -> Result<String, crate::service::ServiceError> {
        self.signer(pseudonym).await?;
        self.core.sign_claims(&claims(&self.core.public_url, pseudonym, client_id)).await
    }

    /// The pseudonym a token sent by `client_id` names.
    ///
    /// # Errors
    /// [`PseudonymTokenError`].
    pub fn pseudonym_of(&self, token: &str, client_id: &str) -> Result<String, super::DeviceError> {
        Ok(pseudonym(token, &self.core.public_url, &self.core.jwks, client_id)?)
    }
}
