//! Who may call: registered eServices (`[[clients]]`, known by their `apikey` and allowed only
//! their registered callback and webhook URLs, exactly — never an open redirect) and
//! wallet-binding partners (`[[devices.binding_partners]]`, `partner-id` + `partner-api-key`).
//! Keys are compared as SHA-256 digests in constant time; the keys themselves are never
//! configured. Each eService's calls are limited to its `requests_per_second` (`governor`; over
//! it, 429 with `Retry-After`), so that one eService, or a stolen key, cannot take the HSM from
//! the others.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::error::CallerError;
use crate::config::{Auditor, BindingPartner, ClientConfig};
use crate::hsm::HashAlgorithm;

/// What an eService presents: its `apikey` and, over mutual TLS, the SHA-256 of its client
/// certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credential<'a> {
    /// The `apikey` header.
    pub api_key: Option<&'a str>,
    /// SHA-256 of the DER client certificate of the TLS connection, if one was presented.
    pub certificate_sha256: Option<[u8; 32]>,
}

impl<'a> Credential<'a> {
    /// A key alone (no client certificate).
    pub fn key(api_key: Option<&'a str>) -> Self {
        Self { api_key, certificate_sha256: None }
    }
}

/// The registered callers.
pub(crate) struct Callers {
    clients: Vec<ClientConfig>,
    /// One limiter per client, in the order of `clients` (`None`: no limit).
    limits: Vec<Option<DefaultDirectRateLimiter>>,
    partners: Vec<BindingPartner>,
    auditors: Vec<Auditor>,
}

impl Callers {
    /// These eServices and binding partners.
    pub fn new(clients: Vec<ClientConfig>, partners: Vec<BindingPartner>, auditors: Vec<Auditor>) -> Self {
        let limits = clients
            .iter()
            .map(|client| NonZeroU32::new(client.requests_per_second))
            .map(|rate| rate.map(|rate| RateLimiter::direct(Quota::per_second(rate).allow_burst(rate))))
            .collect();
        Self { clients, limits, partners, auditors }
    }

    /// The auditor whose `apikey` this is.
    ///
    /// # Errors
    /// [`CallerError::Missing`] without a key, [`CallerError::UnknownApiKey`] for any other.
    pub fn auditor(&self, api_key: Option<&str>) -> Result<&Auditor, CallerError> {
        let key = api_key.filter(|k| !k.is_empty()).ok_or(CallerError::Missing("the apikey header"))?;
        let digest = HashAlgorithm::Sha256.digest(key.as_bytes());
        self.auditors
            .iter()
            .find(|auditor| constant_time_eq(&auditor.api_key_sha256, &digest))
            .ok_or(CallerError::UnknownApiKey)
    }

    /// The eService whose `apikey` header this is (with its registered client certificate,
    /// when it has one), if it is within its rate.
    ///
    /// # Errors
    /// [`CallerError::Missing`] without a key, [`CallerError::UnknownApiKey`] for any other,
    /// [`CallerError::CertificateRequired`] without the client's certificate,
    /// [`CallerError::TooManyRequests`] over the client's rate.
    pub fn client(&self, credential: Credential<'_>) -> Result<&ClientConfig, CallerError> {
        let key = credential.api_key.filter(|k| !k.is_empty()).ok_or(CallerError::Missing("the apikey header"))?;
        let digest = HashAlgorithm::Sha256.digest(key.as_bytes());
        let index = self
            .clients
            .iter()
            .position(|client| constant_time_eq(&client.api_key_sha256, &digest))
            .ok_or(CallerError::UnknownApiKey)?;
        let client = &self.clients[index];
        if let Some(pinned) = &client.cert_sha256
            && !credential.certificate_sha256.is_some_and(|presented| constant_time_eq(pinned, &presented))
        {
            return Err(CallerError::CertificateRequired);
        }
        if let Some(limiter) = &self.limits[index]
            && limiter.check().is_err()
        {
            tracing::debug!(client = %client.id, "over the client's rate");
            return Err(CallerError::TooManyRequests(client.requests_per_second));
        }
        Ok(client)
    }

    /// The eService `id`.
    ///
    /// # Errors
    /// [`CallerError::UnknownClient`].
    pub fn client_by_id(&self, id: &str) -> Result<&ClientConfig, CallerError> {
        self.clients.iter().find(|client| client.id == id).ok_or(CallerError::UnknownClient)
    }

    /// The registered binding partner `id` (authenticated otherwise, e.g. by a token issued to
    /// it).
    ///
    /// # Errors
    /// [`CallerError::BindingOff`] when no partner is registered, [`CallerError::UnknownPartner`].
    pub fn partner_by_id(&self, id: &str) -> Result<&BindingPartner, CallerError> {
        if self.partners.is_empty() {
            return Err(CallerError::BindingOff);
        }
        self.partners.iter().find(|partner| partner.id == id).ok_or(CallerError::UnknownPartner)
    }

    /// The binding partner `id`, if `api_key` is its key.
    ///
    /// # Errors
    /// [`CallerError::BindingOff`] when no partner is registered (binding is off),
    /// [`CallerError::UnknownPartner`] otherwise.
    pub fn partner(&self, id: &str, api_key: &str) -> Result<&BindingPartner, CallerError> {
        if self.partners.is_empty() {
            return Err(CallerError::BindingOff);
        }
        let digest = HashAlgorithm::Sha256.digest(api_key.as_bytes());
        self.partners
            .iter()
            .find(|partner| partner.id == id && constant_time_eq(&partner.api_key_sha256, &digest))
            .ok_or(CallerError::UnknownPartner)
    }
}

/// Whether `url` is one of the client's callback URLs, exactly.
pub(crate) fn callback_allowed(client: &ClientConfig, url: &str) -> bool {
    client.callback_urls.iter().any(|registered| registered == url)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceError;

    fn callers() -> Callers {
        let client = |id: &str, key: &[u8], callback: &str, rate: u32| ClientConfig {
            id: id.into(),
            api_key_sha256: HashAlgorithm::Sha256.digest(key).try_into().unwrap(),
            callback_urls: vec![callback.into()],
            webhook_url: None,
            request_keys: crate::config::RequestKeys::None,
            allow_unsigned_query: false,
            requests_per_second: rate,
            cert_sha256: None,
        };
        let partner = BindingPartner {
            id: "mimoto".into(),
            api_key_sha256: HashAlgorithm::Sha256.digest(b"partner-key").try_into().unwrap(),
        };
        let clients = vec![
            client("eservice", b"key-1", "https://e.example/cb", 3),
            client("unlimited", b"key-2", "https://u.example/cb", 0),
        ];
        Callers::new(clients, vec![partner], vec![])
    }

    #[test]
    fn api_keys_and_callbacks_match_exactly() {
        let callers = callers();
        assert_eq!(callers.client(Credential::key(Some("key-1"))).unwrap().id, "eservice");
        assert_eq!(callers.client(Credential::key(Some("key-9"))).unwrap_err(), CallerError::UnknownApiKey);
        assert_eq!(callers.client(Credential::key(Some(""))).unwrap_err(), CallerError::Missing("the apikey header"));
        assert_eq!(callers.client(Credential::key(None)).unwrap_err().to_string(), "the apikey header is required");
        let client = callers.client_by_id("eservice").unwrap();
        assert!(callback_allowed(client, "https://e.example/cb"));
        assert!(!callback_allowed(client, "https://e.example/cb/"));
        assert!(!callback_allowed(client, "https://e.example/cb?next=https://evil.example"));
    }

    #[test]
    fn an_eservice_over_its_rate_is_told_to_slow_down_and_the_others_are_not() {
        let callers = callers();
        // A burst as large as the rate passes (the first test call is one of them).
        for _ in 0..3 {
            assert_eq!(callers.client(Credential::key(Some("key-1"))).unwrap().id, "eservice");
        }
        let refused = callers.client(Credential::key(Some("key-1"))).unwrap_err();
        assert_eq!(refused, CallerError::TooManyRequests(3));
        assert_eq!(ServiceError::from(refused).kind(), crate::service::ErrorKind::Busy);
        // Another eService, and a wrong key, are not held up by it.
        for _ in 0..50 {
            assert_eq!(callers.client(Credential::key(Some("key-2"))).unwrap().id, "unlimited");
        }
        assert_eq!(callers.client(Credential::key(Some("key-9"))).unwrap_err(), CallerError::UnknownApiKey);
    }

    #[test]
    fn partners_need_their_key_and_none_registered_means_binding_is_off() {
        let callers = callers();
        assert_eq!(callers.partner("mimoto", "partner-key").unwrap().id, "mimoto");
        assert_eq!(callers.partner("mimoto", "wrong").unwrap_err(), CallerError::UnknownPartner);
        assert_eq!(callers.partner("stranger", "partner-key").unwrap_err(), CallerError::UnknownPartner);
        let none = Callers::new(vec![], vec![], vec![]);
        assert_eq!(none.partner("mimoto", "partner-key").unwrap_err(), CallerError::BindingOff);
    }
}
