//! Every configuration rule, in one place: [`validate`] turns a [`RawConfig`] into a
//! [`Config`] or says which key is wrong and what would be right, a section per file.

mod callers;
mod hsm;
mod identity;
mod signing;
mod store;

use identity::http_url;
pub use signing::DEFAULT_TSA_POLICY;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{
    RawAudit, RawAuditor, RawCa, RawClient, RawConfig, RawDevices, RawHsm, RawIdentity, RawKeyPool, RawLog,
    RawOutbound, RawPayment, RawServer, RawStore, RawTsa, RawWebhooks,
};
use super::{
    AuditConfig, Auditor, BindingPartner, CaConfig, ClientAuth, ClientConfig, Config, ConfigError, DevicesConfig,
    HsmConfig, IdentityClaims, IdentityConfig, KeyLabels, KeyPoolConfig, LogConfig, LogFormat, OutboundConfig,
    PaymentConfig, PinSource, ServerConfig, StoreConfig, TlsFiles, TsaConfig, TsaMode, WebhookConfig, WhenEmpty,
};
use crate::hsm::KeyAlgorithm;
use crate::hsm::pkcs11::TokenSelector;

/// Where Debian's softhsm2 package installs the module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const MAX_SESSIONS: u64 = 256;

/// The PEM certificates in the file at `path`, for the setting `key`.
fn pem_certificates(key: &'static str, path: &Path) -> Result<Vec<x509_cert::Certificate>, ConfigError> {
    let file = |reason: String| ConfigError::File { key, path: path.to_owned(), reason };
    let pem = std::fs::read(path).map_err(|e| file(e.to_string()))?;
    crate::pki::pem::read_chain(&pem).map_err(|e| file(format!("not PEM certificates: {e}")))
}

/// Validate `raw`, read from `file` (relative paths in it are relative to the file's folder).
///
/// # Errors
/// The first rule broken, naming its key.
pub fn validate(raw: RawConfig, file: Option<PathBuf>) -> Result<Config, ConfigError> {
    let base = file.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let server = server(raw.server, &base)?;
    let mut identity = identity::identity(raw.identity, &base)?;
    if identity.mock {
        // The mock provider lets anyone sign as anyone: it never faces a network.
        if !server.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                key: "identity.mode",
                value: "mock".into(),
                reason: "the mock ID provider is for demonstrations on this machine only; server.listen must be a loopback address",
            });
        }
        // A proxy on this machine could still publish it: the public URL must be local too.
        if !crate::outbound::is_loopback_url(&server.public_url) {
            return Err(ConfigError::Invalid {
                key: "identity.mode",
                value: "mock".into(),
                reason: "the mock ID provider is for demonstrations on this machine only; server.public_url must name a loopback address (a proxy must not publish it)",
            });
        }
        identity.issuer = Some(super::mock_issuer(&server.public_url));
    }
    let clients = callers::clients(raw.clients, &base)?;
    if identity.mock && clients.iter().any(|c| c.id == super::DEMO_CLIENT) {
        return Err(ConfigError::Invalid {
            key: "clients.id",
            value: super::DEMO_CLIENT.into(),
            reason: "the demo profile registers its own client by that name; rename yours",
        });
    }
    let devices = callers::devices(raw.devices, &identity.audience)?;
    let auditors = callers::auditors(raw.auditors, &clients)?;
    if server.tls.is_none() && clients.iter().any(|c| c.cert_sha256.is_some()) {
        return Err(ConfigError::Invalid {
            key: "clients.cert_sha256",
            value: clients.iter().find(|c| c.cert_sha256.is_some()).map(|c| c.id.clone()).unwrap_or_default(),
            reason: "a client certificate can only be presented over TLS: configure [server.tls]",
        });
    }
    Ok(Config {
        server,
        hsm: hsm::hsm(raw.hsm, &base)?,
        log: log(raw.log)?,
        ca: signing::ca(raw.ca)?,
        tsa: signing::tsa(raw.tsa, &base)?,
        identity,
        store: store::store(raw.store, &base)?,
        payment: identity::payment(raw.payment)?,
        outbound: identity::outbound(raw.outbound, &base)?,
        clients,
        webhooks: callers::webhooks(raw.webhooks)?,
        devices,
        audit: callers::audit(raw.audit)?,
        auditors,
        file,
    })
}

fn server(raw: RawServer, base: &Path) -> Result<ServerConfig, ConfigError> {
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
        key: "server.listen",
        value: listen_text.clone(),
        reason: "expected IP:PORT, e.g. 127.0.0.1:8080 or [::]:8443",
    })?;
    let public_url = raw.public_url.unwrap_or_else(|| format!("http://{listen}"));
    let max_connections =
        range("server.max_connections", raw.max_connections.unwrap_or(1024) as u64, 1..=1_000_000, "1 to 1000000")?;
    let per_ip = raw.max_connections_per_ip.unwrap_or(64) as u64;
    let per_ip = range("server.max_connections_per_ip", per_ip, 1..=max_connections, "1 to server.max_connections")?;
    let body_ms = range(
        "server.body_timeout_ms",
        raw.body_timeout_ms.unwrap_or(10_000),
        100..=600_000,
        "100 to 600000 milliseconds",
    )?;
    let idle_ms = range(
        "server.idle_timeout_ms",
        raw.idle_timeout_ms.unwrap_or(10_000),
        100..=600_000,
        "100 to 600000 milliseconds",
    )?;
    let rate = raw.requests_per_ip_per_second.unwrap_or(100);
    let ops_text = raw.ops_listen.unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let ops_listen: SocketAddr = ops_text.parse().map_err(|_| ConfigError::Invalid {
        key: "server.ops_listen",
        value: ops_text.clone(),
        reason: "expected IP:PORT, e.g. 127.0.0.1:9464",
    })?;
    let tls = raw.tls.map(|tls| TlsFiles { cert: base.join(tls.cert), key: base.join(tls.key) });
    let drain_notice = raw.drain_notice_secs.unwrap_or(0);
    if drain_notice > 60 {
        return Err(ConfigError::Invalid {
            key: "server.drain_notice_secs",
            value: drain_notice.to_string(),
            reason: "0 to 60 seconds (a few health-check intervals of the load balancer)",
        });
    }
    Ok(ServerConfig {
        tls,
        ops_listen,
        listen,
        public_url: public_url_checked(&public_url)?,
        drain: Duration::from_secs(raw.drain_secs.unwrap_or(10)),
        drain_notice: Duration::from_secs(drain_notice),
        max_connections: max_connections as usize,
        max_connections_per_ip: per_ip as usize,
        body_timeout: Duration::from_millis(body_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        requests_per_ip_per_second: rate,
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

/// `value` of `key` if `allowed` holds it, else what the operator must fix (`reason`).
pub(super) fn range(
    key: &'static str,
    value: u64,
    allowed: std::ops::RangeInclusive<u64>,
    reason: &'static str,
) -> Result<u64, ConfigError> {
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Invalid { key, value: value.to_string(), reason })
    }
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
