//! Signed GovStack query forms: RFC 9101 (JAR) request objects. The query forms of
//! `/sign/interactive` and `/v1/sign/interactivePseudonym` are plain GET links, so anyone could
//! make one in any eService's name; signed, a link is the eService's own. The link carries
//! `client_id` and `request`, a JWS by a key the eService registered (`[[clients]] jwks_url`
//! or `jwks_file`) whose claims are the query's parameters, spelled as in the query, with
//! `iss` = the client, `aud` = esignd's `public_url`, an `exp` at most ten minutes away and a
//! `jti` used once. Only the request object's parameters count; the outer query's others are
//! ignored (RFC 9101 §5).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::config::{ClientConfig, RequestKeys};
use crate::jose::claims::{self, Expectations};
use crate::jose::jwk::JwkSet;
use crate::jose::jws;
use crate::jose::remote::{RemoteError, RemoteKeySet};
use crate::outbound::HttpClient;
use crate::store::{Store, StoreError};

/// The longest a request object may be valid.
pub const MAX_LIFETIME_SECS: i64 = 600;

/// The parameters a request object may carry; others in it are ignored. `paymentToken` (the
/// GovStack payment token, which a link cannot send as a header) is taken from here only.
const PARAMETERS: [&str; 10] = [
    "hash",
    "hashType",
    "format",
    "dataToBeDisplayed",
    "callbackUrl",
    "nonce",
    "state",
    "lang",
    "requestTimestamp",
    "paymentToken",
];

/// Why a query form was not accepted as the eService's.
#[derive(Debug, thiserror::Error)]
pub enum RequestObjectError {
    /// The eService must sign its query forms and this one is not signed.
    #[error(
        "client {0} signs its query forms: send client_id and request=<JWT> (an RFC 9101 request object \
         carrying the query's parameters)"
    )]
    Required(String),
    /// The pseudonym form queues requests for the user's device, so it is never taken unsigned.
    #[error("the pseudonym form must be signed: send client_id and request=<JWT> (an RFC 9101 request object)")]
    RequiredForDevices,
    /// The eService registered no keys to verify it with.
    #[error("client {0} has no request-object keys: the operator registers them as [[clients]] jwks_url or jwks_file")]
    NoKeys(String),
    /// `request_uri`: esignd does not fetch request objects.
    #[error("request_uri is not supported: send the request object by value, as request=<JWT>")]
    ByReference,
    /// It does not verify or fails a registered claim.
    #[error("the request object is not valid: {0}")]
    Invalid(#[from] crate::jose::Error),
    /// Its `typ` says it is some other kind of token.
    #[error("the request object's typ is {0:?}; use oauth-authz-req+jwt")]
    WrongType(String),
    /// Its `client_id` is not the query's.
    #[error("the request object's client_id is not the query's client_id")]
    WrongClient,
    /// It is valid for longer than allowed.
    #[error("the request object's exp is more than ten minutes away")]
    TooLong,
    /// It has no `jti` (or one longer than 256 bytes), so it could be used twice.
    #[error("the request object needs a jti of at most 256 bytes, new for each request")]
    NoId,
    /// It was used before.
    #[error("the request object has already been used; sign a new one for each link")]
    Replayed,
    /// A parameter is not a string.
    #[error("the request object's {0} must be a string, as in the query")]
    NotAString(&'static str),
    /// The eService's published keys could not be fetched.
    #[error("the eService's keys cannot be fetched: {0}")]
    Unavailable(String),
    /// The replay cache failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RequestObjectError {
    /// Whether the eService is at fault (401) rather than its key server or esignd (503).
    pub fn is_callers_fault(&self) -> bool {
        !matches!(self, Self::Unavailable(_) | Self::Store(_))
    }
}

/// A query form that proved to be the eService's: its client and its parameters. Only this
/// module makes one.
#[derive(Clone, Debug)]
pub struct SignedQuery {
    client_id: String,
    parameters: Vec<(String, String)>,
}

impl SignedQuery {
    /// The eService that signed it.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Its parameters, as query pairs.
    pub fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }
}

enum Keys {
    Published(Box<RemoteKeySet>),
    Inline(JwkSet),
}

/// Every eService's request-object keys.
pub(crate) struct RequestObjects {
    keys: HashMap<String, Keys>,
    audience: String,
}

impl RequestObjects {
    /// The keys `clients` registered; request objects must name `audience` (the public URL).
    pub fn new(clients: &[ClientConfig], audience: &str, http: &HttpClient, timeout: Duration) -> Self {
        let keys = clients
            .iter()
            .filter_map(|client| {
                let keys = match &client.request_keys {
                    RequestKeys::None => return None,
                    RequestKeys::Url(url) => {
                        Keys::Published(Box::new(RemoteKeySet::new(url.clone(), http.clone(), timeout)))
                    }
                    RequestKeys::Inline(set) => Keys::Inline(set.clone()),
                };
                Some((client.id.clone(), keys))
            })
            .collect();
        Self { keys, audience: audience.to_owned() }
    }

    /// Verify `client`'s request object `token` and spend its `jti`.
    ///
    /// # Errors
    /// [`RequestObjectError`].
    pub async fn open(
        &self,
        store: &dyn Store,
        client: &ClientConfig,
        token: &str,
    ) -> Result<SignedQuery, RequestObjectError> {
        let keys = self.keys.get(&client.id).ok_or_else(|| RequestObjectError::NoKeys(client.id.clone()))?;
        let unverified = jws::decode(token)?;
        if let Some(typ) = unverified
            .header
            .typ
            .as_ref()
            .filter(|t| !matches!(t.to_ascii_lowercase().as_str(), "oauth-authz-req+jwt" | "jwt"))
        {
            return Err(RequestObjectError::WrongType(typ.clone()));
        }
        let payload = match keys {
            Keys::Inline(set) => unverified.verify(set)?,
            Keys::Published(remote) => remote.verify(token).await.map_err(|e| match e {
                RemoteError::Token(e) => RequestObjectError::Invalid(e),
                other => RequestObjectError::Unavailable(other.to_string()),
            })?,
        };
        let now = claims::now();
        let expect = Expectations { issuer: Some(&client.id), audience: Some(&self.audience), require_exp: true };
        let claims = claims::check(&payload, &expect, now)?;
        if claims.get("client_id").is_some_and(|id| id.as_str() != Some(&client.id)) {
            return Err(RequestObjectError::WrongClient);
        }
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or_default();
        if exp > now + MAX_LIFETIME_SECS + claims::LEEWAY_SECS {
            return Err(RequestObjectError::TooLong);
        }
        let jti = claims.get("jti").and_then(Value::as_str).filter(|j| (1..=256).contains(&j.len()));
        let jti = jti.ok_or(RequestObjectError::NoId)?;
        let parameters = parameters(&claims)?;
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs((exp + claims::LEEWAY_SECS).max(0) as u64);
        if !store.remember_once("request-object", &format!("{}:{jti}", client.id), until).await? {
            return Err(RequestObjectError::Replayed);
        }
        Ok(SignedQuery { client_id: client.id.clone(), parameters })
    }
}

/// The query parameters among `claims`.
fn parameters(claims: &serde_json::Map<String, Value>) -> Result<Vec<(String, String)>, RequestObjectError> {
    let mut pairs = Vec::new();
    for name in PARAMETERS {
        match claims.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) => pairs.push((name.to_owned(), value.clone())),
            Some(_) => return Err(RequestObjectError::NotAString(name)),
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_string_query_parameters_are_taken() {
        let claims = json!({"hash": "AAAA", "format": "CAdES", "iss": "e", "extra": 1, "nonce": null});
        let pairs = parameters(claims.as_object().unwrap()).unwrap();
        assert_eq!(pairs, vec![("hash".to_owned(), "AAAA".to_owned()), ("format".to_owned(), "CAdES".to_owned())]);
        let claims = json!({"state": 42});
        assert!(matches!(parameters(claims.as_object().unwrap()), Err(RequestObjectError::NotAString("state"))));
    }
}
