//! Who may call: `[[clients]]` (eServices: API key hashes, exact callback and webhook URLs,
//! the keys of their signed request objects), `[devices]` (binding partners, how long a device may take) and `[webhooks]`.

use super::*;
use crate::config::RequestKeys;
use crate::jose::jwk::JwkSet;

/// `[[auditors]]`: names of their own, keys no eService holds.
pub(super) fn auditors(raw: Vec<RawAuditor>, clients: &[ClientConfig]) -> Result<Vec<Auditor>, ConfigError> {
    let mut auditors: Vec<Auditor> = Vec::new();
    for auditor in raw {
        let fine = (1..=64).contains(&auditor.id.len())
            && auditor.id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !fine || auditors.iter().any(|a| a.id == auditor.id) {
            return Err(ConfigError::Invalid {
                key: "auditors.id",
                value: auditor.id,
                reason: "each auditor needs its own id of 1 to 64 letters, digits, '.', '_' or '-'",
            });
        }
        let api_key_sha256 = api_key_hash("auditors.api_key_sha256", &auditor.api_key_sha256)?;
        if clients.iter().any(|c| c.api_key_sha256 == api_key_sha256) {
            return Err(ConfigError::Invalid {
                key: "auditors.api_key_sha256",
                value: auditor.id,
                reason: "an auditor's key must be its own, not an eService's",
            });
        }
        auditors.push(Auditor { id: auditor.id, api_key_sha256 });
    }
    Ok(auditors)
}

/// `[audit]`: a checkpoint every 1,000 records or 300 s, records kept forever by default.
pub(super) fn audit(raw: RawAudit) -> Result<AuditConfig, ConfigError> {
    let every = raw.checkpoint_every.unwrap_or(1000);
    if !(1..=1_000_000).contains(&every) {
        return Err(ConfigError::Invalid {
            key: "audit.checkpoint_every",
            value: every.to_string(),
            reason: "1 to 1000000 records",
        });
    }
    let secs = raw.checkpoint_secs.unwrap_or(300);
    if !(1..=86_400).contains(&secs) {
        return Err(ConfigError::Invalid {
            key: "audit.checkpoint_secs",
            value: secs.to_string(),
            reason: "1 to 86400 seconds",
        });
    }
    let retention = match raw.retention_days {
        None | Some(0) => None,
        Some(days) if days <= 36_500 => Some(Duration::from_secs(days * 86_400)),
        Some(days) => {
            return Err(ConfigError::Invalid {
                key: "audit.retention_days",
                value: days.to_string(),
                reason: "0 (keep forever) to 36500 days",
            });
        }
    };
    Ok(AuditConfig { checkpoint_every: every, checkpoint_interval: Duration::from_secs(secs), retention })
}

pub(super) fn devices(raw: RawDevices, signing_audience: &str) -> Result<DevicesConfig, ConfigError> {
    let secs = raw.request_timeout_secs.unwrap_or(300);
    if !(5..=1800).contains(&secs) {
        return Err(ConfigError::Invalid {
            key: "devices.request_timeout_secs",
            value: secs.to_string(),
            reason: "5 to 1800 seconds",
        });
    }
    let mut binding_partners: Vec<BindingPartner> = Vec::new();
    for partner in raw.binding_partners {
        let fine = (1..=64).contains(&partner.id.len())
            && partner.id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !fine || binding_partners.iter().any(|p| p.id == partner.id) {
            return Err(ConfigError::Invalid {
                key: "devices.binding_partners.id",
                value: partner.id,
                reason: "each partner needs its own id of 1 to 64 letters, digits, '.', '_' or '-'",
            });
        }
        let api_key_sha256 = api_key_hash("devices.binding_partners.api_key_sha256", &partner.api_key_sha256)?;
        binding_partners.push(BindingPartner { id: partner.id, api_key_sha256 });
    }
    let audience = raw.audience.unwrap_or_else(|| format!("{signing_audience}-devices"));
    if audience.trim().is_empty() || audience == signing_audience {
        return Err(ConfigError::Invalid {
            key: "devices.audience",
            value: audience,
            reason: "an audience of its own, not identity.audience: a token an eService holds to sign must not manage the citizen's devices",
        });
    }
    Ok(DevicesConfig { request_timeout: Duration::from_secs(secs), binding_partners, audience })
}

/// A configured API key hash: 64 hex characters.
pub(super) fn api_key_hash(key: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    hex::decode(text.trim()).ok().and_then(|h| <[u8; 32]>::try_from(h).ok()).ok_or(ConfigError::Invalid {
        key,
        value: text.to_owned(),
        reason: "the SHA-256 of the API key in hex (64 characters): printf %s \"$KEY\" | sha256sum",
    })
}

/// `jwks_url` or `jwks_file` (not both): the keys an eService signs its request objects with.
fn request_keys(url: Option<String>, file: Option<PathBuf>, base: &Path) -> Result<RequestKeys, ConfigError> {
    match (url, file) {
        (Some(_), Some(file)) => Err(ConfigError::Invalid {
            key: "clients.jwks_file",
            value: file.display().to_string(),
            reason: "give jwks_url or jwks_file, not both",
        }),
        (Some(url), None) => Ok(RequestKeys::Url(http_url("clients.jwks_url", &url)?)),
        (None, Some(file)) => {
            let path = base.join(&file);
            let invalid = |reason: String| ConfigError::File { key: "clients.jwks_file", path: path.clone(), reason };
            let text = std::fs::read_to_string(&path).map_err(|e| invalid(e.to_string()))?;
            let keys: JwkSet =
                serde_json::from_str(&text).map_err(|e| invalid(format!("not a JWKS ({{\"keys\": [...]}}): {e}")))?;
            if keys.keys.is_empty() {
                return Err(invalid("the JWKS holds no keys".into()));
            }
            Ok(RequestKeys::Inline(keys))
        }
        (None, None) => Ok(RequestKeys::None),
    }
}

pub(super) fn webhooks(raw: RawWebhooks) -> Result<WebhookConfig, ConfigError> {
    let attempts = raw.attempts.unwrap_or(6);
    if !(1..=20).contains(&attempts) {
        return Err(ConfigError::Invalid { key: "webhooks.attempts", value: attempts.to_string(), reason: "1 to 20" });
    }
    let first_retry_ms = raw.first_retry_ms.unwrap_or(1000);
    if !(10..=600_000).contains(&first_retry_ms) {
        return Err(ConfigError::Invalid {
            key: "webhooks.first_retry_ms",
            value: first_retry_ms.to_string(),
            reason: "10 to 600000 milliseconds",
        });
    }
    Ok(WebhookConfig { attempts, first_retry: Duration::from_millis(first_retry_ms) })
}

pub(super) fn clients(raw: Vec<RawClient>, base: &Path) -> Result<Vec<ClientConfig>, ConfigError> {
    let mut clients: Vec<ClientConfig> = Vec::new();
    for client in raw {
        if client.id.is_empty() || clients.iter().any(|c| c.id == client.id) {
            return Err(ConfigError::Invalid {
                key: "clients.id",
                value: client.id,
                reason: "each client needs its own non-empty id",
            });
        }
        let hash = api_key_hash("clients.api_key_sha256", &client.api_key_sha256)?;
        for url in client.callback_urls.iter().chain(client.webhook_url.iter()) {
            http_url("clients.callback_urls", url)?;
        }
        let request_keys = request_keys(client.jwks_url, client.jwks_file, base)?;
        clients.push(ClientConfig {
            id: client.id,
            api_key_sha256: hash,
            callback_urls: client.callback_urls,
            webhook_url: client.webhook_url,
            request_keys,
            allow_unsigned_query: client.allow_unsigned_query.unwrap_or(false),
            requests_per_second: client.requests_per_second.unwrap_or(super::super::DEFAULT_CLIENT_REQUESTS_PER_SECOND),
            cert_sha256: client.cert_sha256.map(|hex| api_key_hash("clients.cert_sha256", &hex)).transpose()?,
        });
    }
    Ok(clients)
}
