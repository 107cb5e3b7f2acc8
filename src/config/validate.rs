//! Every configuration rule, in one place: [`validate`] turns a [`RawConfig`] into a
//! [`Config`] or says which key is wrong and what would be right.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{
    RawCa, RawClient, RawConfig, RawDevices, RawHsm, RawIdentity, RawLog, RawPayment, RawServer, RawStore, RawTsa,
    RawWebhooks,
};
use super::{
    BindingPartner, CaConfig, ClientAuth, ClientConfig, Config, ConfigError, DevicesConfig, HsmConfig, IdentityClaims,
    IdentityConfig, KeyLabels, LogConfig, LogFormat, PaymentConfig, PinSource, ServerConfig, StoreConfig, TsaConfig,
    TsaMode, WebhookConfig,
};
use crate::hsm::KeyAlgorithm;
use crate::hsm::pkcs11::TokenSelector;

/// Where Debian's softhsm2 package installs the module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const MAX_SESSIONS: u64 = 256;

/// Validate `raw`, read from `file` (relative paths in it are relative to the file's folder).
///
/// # Errors
/// The first rule broken, naming its key.
pub fn validate(raw: RawConfig, file: Option<PathBuf>) -> Result<Config, ConfigError> {
    let base = file.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let server = server(raw.server)?;
    let mut identity = identity(raw.identity, &base)?;
    if identity.mock {
        // The mock provider lets anyone sign as anyone: it never faces a network.
        if !server.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                key: "identity.mode",
                value: "mock".into(),
                reason: "the mock ID provider is for demonstrations on this machine only; server.listen must be a loopback address",
            });
        }
        identity.issuer = Some(super::mock_issuer(&server.public_url));
    }
    let clients = clients(raw.clients)?;
    if identity.mock && clients.iter().any(|c| c.id == super::DEMO_CLIENT) {
        return Err(ConfigError::Invalid {
            key: "clients.id",
            value: super::DEMO_CLIENT.into(),
            reason: "the demo profile registers its own client by that name; rename yours",
        });
    }
    Ok(Config {
        server,
        hsm: hsm(raw.hsm, &base)?,
        log: log(raw.log)?,
        ca: ca(raw.ca)?,
        tsa: tsa(raw.tsa, &base)?,
        identity,
        store: store(raw.store, &base)?,
        payment: payment(raw.payment)?,
        clients,
        webhooks: webhooks(raw.webhooks)?,
        devices: devices(raw.devices)?,
        file,
    })
}

fn server(raw: RawServer) -> Result<ServerConfig, ConfigError> {
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
        key: "server.listen",
        value: listen_text.clone(),
        reason: "expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8443",
    })?;
    let public_url = raw.public_url.unwrap_or_else(|| format!("http://{listen}"));
    Ok(ServerConfig {
        listen,
        public_url: public_url_checked(&public_url)?,
        drain: Duration::from_secs(raw.drain_secs.unwrap_or(10)),
    })
}

/// An absolute http(s) URL without query or fragment; a trailing slash is dropped so that paths
/// can be appended.
fn public_url_checked(url: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::Invalid { key: "server.public_url", value: url.to_owned(), reason };
    let uri: hyper::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("must start with http:// or https://")),
    }
    if uri.authority().is_none() {
        return Err(invalid("must name a host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn hsm(raw: RawHsm, base: &Path) -> Result<HsmConfig, ConfigError> {
    let token = match (raw.token_label, raw.token_serial) {
        (_, Some(serial)) if !serial.is_empty() => TokenSelector::Serial(serial),
        (Some(label), _) if label.is_empty() => {
            return Err(ConfigError::Invalid { key: "hsm.token_label", value: label, reason: "must not be empty" });
        }
        (Some(label), _) => TokenSelector::Label(label),
        (None, _) => TokenSelector::Label("esignd".to_owned()),
    };
    let pin = match (raw.pin_file, raw.pin) {
        (Some(_), Some(_)) => return Err(ConfigError::PinTwice),
        (Some(file), None) => Some(PinSource::File(base.join(file))),
        (None, Some(pin)) => Some(PinSource::Environment(pin)),
        (None, None) => None,
    };
    let sessions = raw.sessions.unwrap_or(4);
    if !(1..=MAX_SESSIONS).contains(&sessions) {
        return Err(ConfigError::Invalid {
            key: "hsm.sessions",
            value: sessions.to_string(),
            reason: "must be between 1 and 256",
        });
    }
    let ephemeral_text = raw.ephemeral_key.unwrap_or_else(|| "p256".to_owned());
    let ephemeral_key: KeyAlgorithm = ephemeral_text.parse().map_err(|_| ConfigError::Invalid {
        key: "hsm.ephemeral_key",
        value: ephemeral_text.clone(),
        reason: "use one of p256, p384, rsa3072, rsa2048",
    })?;
    let call_timeout_ms = raw.call_timeout_ms.unwrap_or(5_000);
    if !(100..=600_000).contains(&call_timeout_ms) {
        return Err(ConfigError::Invalid {
            key: "hsm.call_timeout_ms",
            value: call_timeout_ms.to_string(),
            reason: "must be between 100 and 600000 milliseconds",
        });
    }
    let keys = KeyLabels {
        ca: label(raw.keys.ca, "esignd-ca", "hsm.keys.ca")?,
        tsa: label(raw.keys.tsa, "esignd-tsa", "hsm.keys.tsa")?,
        service: label(raw.keys.service, "esignd-service", "hsm.keys.service")?,
    };
    if keys.ca == keys.tsa || keys.ca == keys.service || keys.tsa == keys.service {
        return Err(ConfigError::Invalid {
            key: "hsm.keys",
            value: format!("{keys:?}"),
            reason: "the CA, TSA and service keys need three different labels",
        });
    }
    Ok(HsmConfig {
        module: base.join(raw.module.unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE))),
        token,
        pin,
        sessions: sessions as usize,
        ephemeral_key,
        call_timeout: Duration::from_millis(call_timeout_ms),
        keys,
    })
}

fn label(value: Option<String>, default: &str, key: &'static str) -> Result<String, ConfigError> {
    match value {
        None => Ok(default.to_owned()),
        Some(v) if v.is_empty() || v.len() > 64 => {
            Err(ConfigError::Invalid { key, value: v, reason: "a key label has 1 to 64 characters" })
        }
        Some(v) => Ok(v),
    }
}

/// The built-in TSA's policy when none is configured: the unregistered placeholder OpenSSL's
/// TSA examples use. Fine for development; the daemon warns at start-up while it is in use, and
/// production deployments set the policy OID their TSA operates under.
pub const DEFAULT_TSA_POLICY: &str = "1.2.3.4.1";

fn ca(raw: RawCa) -> Result<CaConfig, ConfigError> {
    let validity = raw.one_time_validity_secs.unwrap_or(60);
    let skew = raw.clock_skew_secs.unwrap_or(5);
    if !(1..=300).contains(&validity) {
        return Err(ConfigError::Invalid {
            key: "ca.one_time_validity_secs",
            value: validity.to_string(),
            reason: "a one-time certificate lives 1 to 300 seconds",
        });
    }
    if skew > 60 || validity + skew > 300 {
        return Err(ConfigError::Invalid {
            key: "ca.clock_skew_secs",
            value: skew.to_string(),
            reason: "at most 60, and validity plus skew at most 300 seconds",
        });
    }
    let device_days = raw.device_validity_days.unwrap_or(365);
    if !(1..=3650).contains(&device_days) {
        return Err(ConfigError::Invalid {
            key: "ca.device_validity_days",
            value: device_days.to_string(),
            reason: "a device certificate lives 1 to 3650 days",
        });
    }
    let crl_hours = raw.crl_validity_hours.unwrap_or(24);
    if !(1..=24 * 31).contains(&crl_hours) {
        return Err(ConfigError::Invalid {
            key: "ca.crl_validity_hours",
            value: crl_hours.to_string(),
            reason: "a CRL is valid 1 to 744 hours",
        });
    }
    if let Some(country) = &raw.country
        && !is_country_code(country)
    {
        return Err(ConfigError::Invalid {
            key: "ca.country",
            value: country.clone(),
            reason: "two capital letters (ISO 3166), e.g. EE",
        });
    }
    if raw.organization.as_ref().is_some_and(|o| o.trim().is_empty() || o.chars().count() > 64) {
        return Err(ConfigError::Invalid {
            key: "ca.organization",
            value: raw.organization.unwrap_or_default(),
            reason: "1 to 64 characters",
        });
    }
    Ok(CaConfig {
        one_time_validity: Duration::from_secs(validity),
        clock_skew: Duration::from_secs(skew),
        device_validity: Duration::from_secs(device_days * 86_400),
        crl_validity: Duration::from_secs(crl_hours * 3600),
        country: raw.country,
        organization: raw.organization,
    })
}

fn tsa(raw: RawTsa, base: &Path) -> Result<TsaConfig, ConfigError> {
    let policy_text = raw.policy.unwrap_or_else(|| DEFAULT_TSA_POLICY.to_owned());
    let policy = policy_text.parse().map_err(|_| ConfigError::Invalid {
        key: "tsa.policy",
        value: policy_text.clone(),
        reason: "an OID in dotted form, e.g. 1.3.6.1.4.1.99999.1",
    })?;
    let accuracy_ms = raw.accuracy_ms.unwrap_or(1000);
    if !(1..=1000).contains(&accuracy_ms) {
        return Err(ConfigError::Invalid {
            key: "tsa.accuracy_ms",
            value: accuracy_ms.to_string(),
            reason: "the declared accuracy is 1 to 1000 milliseconds",
        });
    }
    let max_request_bytes = raw.max_request_bytes.unwrap_or(16 * 1024);
    if !(256..=1024 * 1024).contains(&max_request_bytes) {
        return Err(ConfigError::Invalid {
            key: "tsa.max_request_bytes",
            value: max_request_bytes.to_string(),
            reason: "between 256 and 1048576",
        });
    }
    let mode = match raw.mode.as_deref().unwrap_or("builtin") {
        "builtin" => TsaMode::Builtin,
        "external" => external_tsa(raw.urls.unwrap_or_default(), raw.trust, raw.timeout_ms, base)?,
        other => {
            return Err(ConfigError::Invalid {
                key: "tsa.mode",
                value: other.to_owned(),
                reason: "use builtin or external",
            });
        }
    };
    Ok(TsaConfig {
        mode,
        policy,
        accuracy: Duration::from_millis(accuracy_ms),
        max_request_bytes: max_request_bytes as usize,
    })
}

fn external_tsa(
    urls: Vec<String>,
    trust: Option<PathBuf>,
    timeout_ms: Option<u64>,
    base: &Path,
) -> Result<TsaMode, ConfigError> {
    if urls.is_empty() {
        return Err(ConfigError::Invalid {
            key: "tsa.urls",
            value: "[]".into(),
            reason: "external mode needs at least one TSA URL",
        });
    }
    for url in &urls {
        let uri: Result<hyper::Uri, _> = url.parse();
        if !uri.is_ok_and(|u| u.scheme_str() == Some("http") && u.authority().is_some()) {
            return Err(ConfigError::Invalid {
                key: "tsa.urls",
                value: url.clone(),
                reason: "an http:// URL (tokens are signed; https is not supported yet)",
            });
        }
    }
    let timeout_ms = timeout_ms.unwrap_or(5_000);
    if !(100..=60_000).contains(&timeout_ms) {
        return Err(ConfigError::Invalid {
            key: "tsa.timeout_ms",
            value: timeout_ms.to_string(),
            reason: "100 to 60000 milliseconds",
        });
    }
    let path = base.join(trust.ok_or(ConfigError::Invalid {
        key: "tsa.trust",
        value: String::new(),
        reason: "external mode needs a PEM file of the TSAs' trust anchors",
    })?);
    let pem = std::fs::read(&path).map_err(|e| ConfigError::File {
        key: "tsa.trust",
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let trust = crate::pki::pem::read_chain(&pem).map_err(|e| ConfigError::File {
        key: "tsa.trust",
        path: path.clone(),
        reason: format!("not PEM certificates: {e}"),
    })?;
    Ok(TsaMode::External { urls, timeout: Duration::from_millis(timeout_ms), trust })
}

fn http_url(key: &'static str, url: &str) -> Result<String, ConfigError> {
    let uri: Result<hyper::Uri, _> = url.parse();
    if uri.is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some()) {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError::Invalid { key, value: url.to_owned(), reason: "an absolute http(s) URL" })
    }
}

fn identity(raw: RawIdentity, base: &Path) -> Result<IdentityConfig, ConfigError> {
    let mock = match raw.mode.as_deref().unwrap_or("oidc") {
        "oidc" => false,
        "mock" if raw.issuer.is_none() => true,
        "mock" => {
            return Err(ConfigError::Invalid {
                key: "identity.issuer",
                value: raw.issuer.unwrap_or_default(),
                reason: "the mock provider is built in; leave identity.issuer unset",
            });
        }
        other => {
            return Err(ConfigError::Invalid {
                key: "identity.mode",
                value: other.to_owned(),
                reason: "use oidc or mock",
            });
        }
    };
    // The issuer is compared exactly with the discovery document's and the tokens' `iss`, so it
    // is kept as written (a trailing slash included).
    if let Some(issuer) = &raw.issuer {
        http_url("identity.issuer", issuer)?;
    }
    let client_id = raw.client_id.unwrap_or_else(|| "esignd".to_owned());
    let client_auth = match (
        raw.client_auth.as_deref().unwrap_or("private_key_jwt"),
        raw.client_secret_file,
        raw.client_secret,
    ) {
        ("private_key_jwt", None, None) => ClientAuth::PrivateKeyJwt,
        ("client_secret_basic", Some(file), None) => {
            let path = base.join(file);
            let secret = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                key: "identity.client_secret_file",
                path: path.clone(),
                reason: e.to_string(),
            })?;
            ClientAuth::ClientSecretBasic(secret.trim_end().to_owned().into())
        }
        ("client_secret_basic", None, Some(secret)) => ClientAuth::ClientSecretBasic(secret),
        ("client_secret_basic", None, None) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_secret_file",
                value: String::new(),
                reason: "client_secret_basic needs identity.client_secret_file (or ESIGND__IDENTITY__CLIENT_SECRET)",
            });
        }
        ("private_key_jwt", _, _) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_secret_file",
                value: String::new(),
                reason: "private_key_jwt signs with the HSM service key; a client secret is not used",
            });
        }
        ("client_secret_basic", Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_secret",
                value: String::new(),
                reason: "set either identity.client_secret_file or ESIGND__IDENTITY__CLIENT_SECRET, not both",
            });
        }
        (other, _, _) => {
            return Err(ConfigError::Invalid {
                key: "identity.client_auth",
                value: other.to_owned(),
                reason: "use private_key_jwt or client_secret_basic",
            });
        }
    };
    let timeout_ms = raw.timeout_ms.unwrap_or(5_000);
    if !(100..=60_000).contains(&timeout_ms) {
        return Err(ConfigError::Invalid {
            key: "identity.timeout_ms",
            value: timeout_ms.to_string(),
            reason: "100 to 60000 milliseconds",
        });
    }
    Ok(IdentityConfig {
        mock,
        issuer: raw.issuer,
        audience: raw.audience.unwrap_or_else(|| client_id.clone()),
        client_id,
        claims: IdentityClaims {
            name: raw.name_claim.unwrap_or_else(|| "name".to_owned()),
            subject_id: raw.subject_claim.unwrap_or_else(|| "sub".to_owned()),
        },
        timeout: Duration::from_millis(timeout_ms),
        client_auth,
        scopes: raw.scopes.unwrap_or_else(|| vec!["openid".to_owned(), "profile".to_owned()]),
        introspection: raw.introspection.unwrap_or(false),
    })
}

fn devices(raw: RawDevices) -> Result<DevicesConfig, ConfigError> {
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
    Ok(DevicesConfig { request_timeout: Duration::from_secs(secs), binding_partners })
}

/// A configured API key hash: 64 hex characters.
fn api_key_hash(key: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    hex::decode(text.trim()).ok().and_then(|h| <[u8; 32]>::try_from(h).ok()).ok_or(ConfigError::Invalid {
        key,
        value: text.to_owned(),
        reason: "the SHA-256 of the API key in hex (64 characters): printf %s \"$KEY\" | sha256sum",
    })
}

fn webhooks(raw: RawWebhooks) -> Result<WebhookConfig, ConfigError> {
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

fn clients(raw: Vec<RawClient>) -> Result<Vec<ClientConfig>, ConfigError> {
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
        clients.push(ClientConfig {
            id: client.id,
            api_key_sha256: hash,
            callback_urls: client.callback_urls,
            webhook_url: client.webhook_url,
        });
    }
    Ok(clients)
}

fn store(raw: RawStore, base: &Path) -> Result<StoreConfig, ConfigError> {
    let response_ttl = raw.response_ttl_secs.unwrap_or(600);
    if !(10..=7 * 86_400).contains(&response_ttl) {
        return Err(ConfigError::Invalid {
            key: "store.response_ttl_secs",
            value: response_ttl.to_string(),
            reason: "10 seconds to 7 days",
        });
    }
    let sweep = raw.sweep_interval_secs.unwrap_or(60);
    if !(1..=86_400).contains(&sweep) {
        return Err(ConfigError::Invalid {
            key: "store.sweep_interval_secs",
            value: sweep.to_string(),
            reason: "1 to 86400 seconds",
        });
    }
    Ok(StoreConfig {
        path: base.join(raw.path.unwrap_or_else(|| PathBuf::from("esignd.db"))),
        response_ttl: Duration::from_secs(response_ttl),
        sweep_interval: Duration::from_secs(sweep),
    })
}

fn payment(raw: RawPayment) -> Result<PaymentConfig, ConfigError> {
    let required = raw.required.unwrap_or(false);
    let jwks_url = raw.jwks_url.as_deref().map(|u| http_url("payment.jwks_url", u)).transpose()?;
    if required && jwks_url.is_none() {
        return Err(ConfigError::Invalid {
            key: "payment.jwks_url",
            value: String::new(),
            reason: "payment.required = true needs the payment provider's JWKS URL",
        });
    }
    Ok(PaymentConfig { required, jwks_url, issuer: raw.issuer, audience: raw.audience })
}

fn log(raw: RawLog) -> Result<LogConfig, ConfigError> {
    let format = match raw.format.as_deref() {
        None | Some("auto") => LogFormat::Auto,
        Some("pretty") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::Invalid {
                key: "log.format",
                value: other.to_owned(),
                reason: "use auto, pretty or json",
            });
        }
    };
    let level = raw.level.unwrap_or_else(|| "info".to_owned());
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        return Err(ConfigError::Invalid {
            key: "log.level",
            value: level,
            reason: "expected a level (error, warn, info, debug, trace) or a tracing filter such as esignd=debug,info",
        });
    }
    Ok(LogConfig { format, level })
}

/// Whether `value` is a valid countryName: two ASCII capital letters (ISO 3166).
fn is_country_code(value: &str) -> bool {
    value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_profile() {
        let config = validate(RawConfig::default(), None).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.hsm.module, PathBuf::from(DEFAULT_MODULE));
        assert_eq!(config.hsm.token, TokenSelector::Label("esignd".into()));
        assert_eq!(config.hsm.sessions, 4);
        assert_eq!(config.hsm.ephemeral_key, KeyAlgorithm::P256);
        assert!(config.hsm.pin.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut raw = RawConfig::default();
        raw.hsm.sessions = Some(0);
        let err = validate(raw, None).unwrap_err().to_string();
        assert!(err.contains("hsm.sessions") && err.contains('0'), "{err}");

        let mut raw = RawConfig::default();
        raw.hsm.ephemeral_key = Some("ed448".into());
        let err = validate(raw, None).unwrap_err().to_string();
        assert!(err.contains("hsm.ephemeral_key") && err.contains("ed448"), "{err}");

        let mut raw = RawConfig::default();
        raw.server.public_url = Some("ftp://example".into());
        assert!(validate(raw, None).unwrap_err().to_string().contains("server.public_url"));
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let mut raw = RawConfig::default();
        raw.hsm.pin_file = Some("pin".into());
        let config = validate(raw, Some(PathBuf::from("/etc/esignd/esignd.toml"))).unwrap();
        match config.hsm.pin {
            Some(PinSource::File(path)) => assert_eq!(path, PathBuf::from("/etc/esignd/pin")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        assert_eq!(public_url_checked("https://sign.example.org/").unwrap(), "https://sign.example.org");
        assert!(public_url_checked("https://sign.example.org/?x=1").is_err());
    }
}
