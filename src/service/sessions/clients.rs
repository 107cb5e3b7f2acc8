//! Registered eServices: who a request comes from (its `apikey`), and where it may be
//! redirected or notified (exact URLs only — never an open redirect); and registered
//! wallet-binding partners (`partner-id` + `partner-api-key`).

use crate::config::ClientConfig;
use crate::hsm::HashAlgorithm;

/// The client whose API key this is, comparing SHA-256 digests in constant time.
pub fn by_api_key<'a>(clients: &'a [ClientConfig], api_key: &str) -> Option<&'a ClientConfig> {
    let digest = HashAlgorithm::Sha256.digest(api_key.as_bytes());
    clients.iter().find(|client| constant_time_eq(&client.api_key_sha256, &digest))
}

/// A client by id.
pub fn by_id<'a>(clients: &'a [ClientConfig], id: &str) -> Option<&'a ClientConfig> {
    clients.iter().find(|client| client.id == id)
}

/// Whether `url` is one of the client's callback URLs, exactly.
pub fn callback_allowed(client: &ClientConfig, url: &str) -> bool {
    client.callback_urls.iter().any(|registered| registered == url)
}

/// The binding partner `id`, if `api_key` is its key (SHA-256 digests compared in constant time).
pub fn binding_partner<'a>(
    partners: &'a [crate::config::BindingPartner],
    id: &str,
    api_key: &str,
) -> Option<&'a crate::config::BindingPartner> {
    let digest = HashAlgorithm::Sha256.digest(api_key.as_bytes());
    partners.iter().find(|partner| partner.id == id && constant_time_eq(&partner.api_key_sha256, &digest))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_and_callbacks_match_exactly() {
        let client = ClientConfig {
            id: "eservice".into(),
            api_key_sha256: HashAlgorithm::Sha256.digest(b"key-1").try_into().unwrap(),
            callback_urls: vec!["https://e.example/cb".into()],
            webhook_url: None,
        };
        let clients = [client];
        assert!(by_api_key(&clients, "key-1").is_some());
        assert!(by_api_key(&clients, "key-2").is_none());
        assert!(callback_allowed(&clients[0], "https://e.example/cb"));
        assert!(!callback_allowed(&clients[0], "https://e.example/cb/"));
        assert!(!callback_allowed(&clients[0], "https://e.example/cb?next=https://evil.example"));
    }
}
