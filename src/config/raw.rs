//! The configuration exactly as the operator wrote it: serde structs that mirror the TOML file
//! (and the `ESIGND__SECTION__KEY` environment overrides), every field optional, unknown keys
//! refused. Nothing here is trusted; [`super::validate`] turns it into [`super::Config`].

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub hsm: RawHsm,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub ca: RawCa,
    #[serde(default)]
    pub tsa: RawTsa,
    #[serde(default)]
    pub identity: RawIdentity,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub payment: RawPayment,
    #[serde(default)]
    pub clients: Vec<RawClient>,
    #[serde(default)]
    pub webhooks: RawWebhooks,
    #[serde(default)]
    pub devices: RawDevices,
    #[serde(default)]
    pub outbound: RawOutbound,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub auditors: Vec<RawAuditor>,
}

/// `[audit]`: checkpoints and retention of the audit trail.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    pub checkpoint_every: Option<u64>,
    pub checkpoint_secs: Option<u64>,
    pub retention_days: Option<u64>,
}

/// `[[auditors]]`: who may read the whole audit trail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditor {
    pub id: String,
    pub api_key_sha256: String,
}

/// `[outbound]`: whom esignd's HTTPS calls trust.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbound {
    pub system_roots: Option<bool>,
    pub ca_file: Option<PathBuf>,
}

/// `[devices]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevices {
    pub request_timeout_secs: Option<u64>,
    pub audience: Option<String>,
    #[serde(default)]
    pub binding_partners: Vec<RawPartner>,
}

/// `[[devices.binding_partners]]`: a wallet-binding partner.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPartner {
    pub id: String,
    pub api_key_sha256: String,
}

/// `[webhooks]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhooks {
    pub attempts: Option<u32>,
    pub first_retry_ms: Option<u64>,
}

/// `[[clients]]`: a registered eService.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub id: String,
    pub api_key_sha256: String,
    #[serde(default)]
    pub callback_urls: Vec<String>,
    pub webhook_url: Option<String>,
    pub jwks_url: Option<String>,
    pub jwks_file: Option<PathBuf>,
    pub allow_unsigned_query: Option<bool>,
    pub requests_per_second: Option<u32>,
    pub cert_sha256: Option<String>,
}

/// `[identity]`: the OpenID provider.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    pub mode: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub client_id: Option<String>,
    pub name_claim: Option<String>,
    pub subject_claim: Option<String>,
    pub timeout_ms: Option<u64>,
    pub client_auth: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    /// Only accepted from the environment (`ESIGND__IDENTITY__CLIENT_SECRET`).
    pub client_secret: Option<SecretString>,
    #[serde(default, deserialize_with = "list_or_comma_separated")]
    pub scopes: Option<Vec<String>>,
    pub introspection: Option<bool>,
    pub max_age_secs: Option<u64>,
    #[serde(default, deserialize_with = "list_or_comma_separated")]
    pub acr_values: Option<Vec<String>>,
    pub reuse_client_assertion: Option<bool>,
}

/// `[store]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Option<PathBuf>,
    pub url: Option<String>,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    pub connections: Option<usize>,
    pub response_ttl_secs: Option<u64>,
    pub sweep_interval_secs: Option<u64>,
}

/// `[payment]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayment {
    pub required: Option<bool>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// `[ca]`: one-time and device certificates, the CRL.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCa {
    pub one_time_validity_secs: Option<u64>,
    pub clock_skew_secs: Option<u64>,
    pub device_validity_days: Option<u64>,
    pub crl_validity_hours: Option<u64>,
    pub country: Option<String>,
    pub organization: Option<String>,
}

/// `[tsa]`: where timestamps come from.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTsa {
    pub mode: Option<String>,
    /// A TOML array, or (from the environment) a comma-separated string.
    #[serde(default, deserialize_with = "list_or_comma_separated")]
    pub urls: Option<Vec<String>>,
    pub trust: Option<PathBuf>,
    pub timeout_ms: Option<u64>,
    pub policy: Option<String>,
    pub accuracy_ms: Option<u64>,
    pub max_request_bytes: Option<u64>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub drain_secs: Option<u64>,
    pub drain_notice_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub body_timeout_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
    pub requests_per_ip_per_second: Option<u32>,
    pub ops_listen: Option<String>,
    pub tls: Option<RawTls>,
}

/// `[server.tls]`: the public listener's certificate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[hsm]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHsm {
    pub module: Option<PathBuf>,
    pub token_label: Option<String>,
    pub token_serial: Option<String>,
    pub pin_file: Option<PathBuf>,
    /// Only accepted from the environment (`ESIGND__HSM__PIN`); a PIN in the file is refused.
    pub pin: Option<SecretString>,
    pub sessions: Option<u64>,
    pub public_share_percent: Option<u64>,
    pub ephemeral_key: Option<String>,
    pub call_timeout_ms: Option<u64>,
    #[serde(default)]
    pub keys: RawHsmKeys,
    #[serde(default)]
    pub key_pool: RawKeyPool,
}

/// `[hsm.key_pool]`: one-time keys generated ahead of need.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeyPool {
    pub size: Option<u64>,
    pub refill_threads: Option<u64>,
    pub when_empty: Option<String>,
}

/// `[hsm.keys]`: labels of the persistent keys on the token.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHsmKeys {
    pub ca: Option<String>,
    pub tsa: Option<String>,
    pub service: Option<String>,
    pub audit: Option<String>,
    pub audit_subject: Option<String>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// Read `file` (if any) and the `ESIGND__*` environment into a [`RawConfig`].
///
/// # Errors
/// A missing or unparsable file, an unknown key, a value of the wrong type, or a PIN written in
/// the file itself.
pub fn read(file: Option<&std::path::Path>) -> Result<RawConfig, super::ConfigError> {
    use super::ConfigError;
    use config::{Config, Environment, File, FileFormat};

    let mut builder = Config::builder();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::FileMissing { path: path.to_owned() });
        }
        let source = File::from(path).format(FileFormat::Toml);
        // The file alone first: a PIN written in it is refused even if the environment also
        // sets one, because the file is the thing that gets copied, committed and backed up.
        let file_only = Config::builder()
            .add_source(source.clone())
            .build()
            .map_err(|source| ConfigError::Parse { path: path.to_owned(), source: Box::new(source) })?;
        for (key, env) in [
            ("hsm.pin", "ESIGND__HSM__PIN"),
            ("identity.client_secret", "ESIGND__IDENTITY__CLIENT_SECRET"),
            ("store.password", "ESIGND__STORE__PASSWORD"),
        ] {
            if file_only.get::<config::Value>(key).is_ok() {
                return Err(ConfigError::SecretInFile { key, env, path: path.to_owned() });
            }
        }
        builder = builder.add_source(source);
    }
    // Values stay strings (no `try_parsing`): a PIN such as 0012 must not become the number 12.
    let environment = Environment::with_prefix(super::ENV_PREFIX).prefix_separator("__").separator("__");
    builder.add_source(environment).build().and_then(Config::try_deserialize).map_err(|source| ConfigError::Parse {
        path: file.map(ToOwned::to_owned).unwrap_or_default(),
        source: Box::new(source),
    })
}

/// A list given as a TOML array or as one comma-separated string (`ESIGND__TSA__URLS=a,b`).
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match Option::<ListOrString>::deserialize(deserializer)? {
        None => None,
        Some(ListOrString::List(list)) => Some(list),
        Some(ListOrString::String(text)) => {
            Some(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        }
    })
}
