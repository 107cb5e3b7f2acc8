//! Configuration: a TOML file (`--config FILE` or `ESIGND_CONFIG`), then environment overrides
//! `ESIGND__SECTION__KEY` (`ESIGND__HSM__PIN`, `ESIGND__SERVER__LISTEN`, ...).
//!
//! Loading is strict: an unknown key anywhere is an error that names it, a file that does not
//! parse is fatal, and every rule lives in [`validate`], which turns the operator's
//! [`raw::RawConfig`] into the typed [`Config`] the rest of esignd uses. PINs are held in
//! zeroizing secret types and are never written in the file itself.

mod error;
mod pin;
mod raw;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

pub use error::ConfigError;
pub use pin::{PinSource, pin_from_bytes};
pub use validate::DEFAULT_TSA_POLICY;

use crate::hsm::KeyAlgorithm;
use crate::hsm::pkcs11::TokenSelector;

/// Prefix of environment overrides: `ESIGND__HSM__PIN` sets `hsm.pin`.
pub const ENV_PREFIX: &str = "ESIGND";
/// Environment variable naming the configuration file when `--config` is not given.
pub const ENV_CONFIG_FILE: &str = "ESIGND_CONFIG";
/// The client id the demo profile registers for its own demo eService (no `[[clients]]` entry
/// may take it then).
pub const DEMO_CLIENT: &str = "demo";

/// The built-in mock ID provider's issuer for an esignd reached at `public_url` (demo profile).
pub fn mock_issuer(public_url: &str) -> String {
    format!("{public_url}/mock-idp")
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it was read from, if any.
    pub file: Option<PathBuf>,
    /// `[server]`
    pub server: ServerConfig,
    /// `[hsm]`
    pub hsm: HsmConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[ca]`
    pub ca: CaConfig,
    /// `[tsa]`
    pub tsa: TsaConfig,
    /// `[identity]`
    pub identity: IdentityConfig,
    /// `[store]`
    pub store: StoreConfig,
    /// `[payment]`
    pub payment: PaymentConfig,
    /// `[outbound]`
    pub outbound: OutboundConfig,
    /// `[[clients]]`: the registered eServices.
    pub clients: Vec<ClientConfig>,
    /// `[webhooks]`
    pub webhooks: WebhookConfig,
    /// `[devices]`
    pub devices: DevicesConfig,
    /// `[audit]`
    pub audit: AuditConfig,
    /// `[[auditors]]`
    pub auditors: Vec<Auditor>,
}

/// `[devices]`: signing with the user's own device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicesConfig {
    /// How long a device has to answer a signing request (default 300 s, 5 s to 30 min).
    pub request_timeout: Duration,
    /// The partners allowed to bind wallets (`POST /binding/wallet-binding`); none: binding is
    /// off.
    pub binding_partners: Vec<BindingPartner>,
    /// The `aud` of the owner's tokens that manage device certificates (`/v1/cert/*`, wallet
    /// binding): never the signing audience, so that a token an eService holds to sign cannot
    /// enrol or reactivate a device (default: `{identity.audience}-devices`).
    pub audience: String,
}

/// `[audit]`: when checkpoints are made and how long records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// A checkpoint after this many records.
    pub checkpoint_every: u64,
    /// A checkpoint at least this often while records arrive.
    pub checkpoint_interval: Duration,
    /// Records older than this, up to a checkpoint, are pruned (`None`: kept forever).
    pub retention: Option<Duration>,
}

/// An auditor (`[[auditors]]`): reads the whole trail with `X-API-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auditor {
    /// Its name, as the logs show it.
    pub id: String,
    /// SHA-256 of its API key.
    pub api_key_sha256: [u8; 32],
}

/// A wallet-binding partner (`[[devices.binding_partners]]`), e.g. MOSIP's Mimoto: it sends
/// `partner-id` and `partner-api-key` with every binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingPartner {
    /// Its partner id (also part of the walletUserIds it gets).
    pub id: String,
    /// SHA-256 of its API key (the key itself is never configured).
    pub api_key_sha256: [u8; 32],
}

/// `[webhooks]`: delivery of session outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Attempts in all (default 6).
    pub attempts: u32,
    /// Pause before the second attempt, doubled after each failure (default 1 s).
    pub first_retry: Duration,
}

/// A registered eService (`[[clients]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Its client id.
    pub id: String,
    /// SHA-256 of its API key (the key itself is never configured).
    pub api_key_sha256: [u8; 32],
    /// The exact callback URLs it may be redirected to.
    pub callback_urls: Vec<String>,
    /// The webhook URL its sessions may notify.
    pub webhook_url: Option<String>,
    /// The keys its signed request objects (RFC 9101) verify with.
    pub request_keys: RequestKeys,
    /// Whether the GovStack query forms may come unsigned from it (such sessions get no webhook
    /// and cannot use the user's device).
    pub allow_unsigned_query: bool,
    /// Calls per second its API key may make (bursts as large; 0: no limit). Default
    /// [`DEFAULT_CLIENT_REQUESTS_PER_SECOND`].
    pub requests_per_second: u32,
    /// SHA-256 of the DER client certificate it must present over mutual TLS (with its API
    /// key); `None`: the API key alone.
    pub cert_sha256: Option<[u8; 32]>,
}

/// What `[[clients]] requests_per_second` is when not set.
pub const DEFAULT_CLIENT_REQUESTS_PER_SECOND: u32 = 100;

/// Where an eService's request-object keys are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RequestKeys {
    /// None registered: its query forms cannot be signed.
    #[default]
    None,
    /// Published at this URL (`jwks_url`), fetched and cached.
    Url(String),
    /// Read from `jwks_file` at start.
    Inline(crate::jose::jwk::JwkSet),
}

/// How esignd authenticates to the ID provider's token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// `private_key_jwt` with the HSM service key (ES256), as e-Signet requires.
    PrivateKeyJwt,
    /// `client_secret_basic` with this secret.
    ClientSecretBasic(secrecy::SecretString),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PrivateKeyJwt => "PrivateKeyJwt",
            Self::ClientSecretBasic(_) => "ClientSecretBasic([REDACTED])",
        })
    }
}

/// `[identity]`: the OpenID provider whose users sign.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// `oidc` (a real provider) or `mock` (the built-in demo provider, loopback only).
    pub mock: bool,
    /// The provider's issuer URL (discovery at `{issuer}/.well-known/openid-configuration`);
    /// `None` when no provider is configured (then nothing that needs a signer's identity works).
    pub issuer: Option<String>,
    /// The `aud` that JWT access tokens must carry.
    pub audience: String,
    /// esignd's client id at the provider (userinfo JWTs are addressed to it).
    pub client_id: String,
    /// Which claims make the certificate subject.
    pub claims: IdentityClaims,
    /// Deadline for each call to the provider.
    pub timeout: Duration,
    /// Client authentication at the token endpoint.
    pub client_auth: ClientAuth,
    /// Scopes asked for in the browser flow.
    pub scopes: Vec<String>,
    /// Resolve opaque access tokens by introspection (RFC 7662) rather than userinfo alone.
    pub introspection: bool,
    /// How old the citizen's login at the provider may be when they sign (`max_age`, checked
    /// against the ID token's `auth_time`); 0: a fresh login for every signature.
    pub max_age: Duration,
    /// The authentication context classes asked for (`acr_values`); the ID token's `acr` must
    /// be one of them. Empty: none asked for, any accepted.
    pub acr_values: Vec<String>,
    /// Reuse a `private_key_jwt` client assertion until shortly before it expires (one HSM
    /// signature a minute instead of one per login). Off by default: OpenID Connect Core §9
    /// has assertions used once unless the provider agreed, and many providers refuse a `jti`
    /// seen before.
    pub reuse_client_assertion: bool,
}

/// Claim names mapped to the certificate subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityClaims {
    /// The claim that becomes the CN (default `name`).
    pub name: String,
    /// The claim that becomes the serialNumber (default `sub`).
    pub subject_id: String,
}

/// `[store]`: where records live.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Which database.
    pub engine: StoreEngine,
    /// How long a finished signature can be redeemed.
    pub response_ttl: Duration,
    /// How often expired and redeemed records are deleted.
    pub sweep_interval: Duration,
}

/// The store's database: `[store] path` (SQLite, the embedded default) or `[store] url`.
#[derive(Debug, Clone)]
pub enum StoreEngine {
    /// One SQLite file, for one daemon.
    Sqlite(PathBuf),
    /// PostgreSQL, shared by every daemon of a deployment.
    Postgres(PostgresConfig),
}

impl StoreEngine {
    /// Where it is, for logs and messages (never a password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(postgres) => postgres.url.clone(),
        }
    }
}

/// `[store] url, password_file, connections`: the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// A libpq URL (`postgres://user@host:port/database?options`) without a password.
    pub url: String,
    /// Where its password comes from, if the server asks for one.
    pub password: Option<PasswordSource>,
    /// At most this many connections per daemon (default 16).
    pub connections: usize,
}

/// Where the store's password comes from: `store.password_file` or `ESIGND__STORE__PASSWORD`.
#[derive(Clone)]
pub enum PasswordSource {
    /// A file holding it (a trailing newline is ignored).
    File(PathBuf),
    /// The environment.
    Environment(SecretString),
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Environment(_) => f.write_str("Environment([REDACTED])"),
        }
    }
}

impl PasswordSource {
    /// Read the password.
    ///
    /// # Errors
    /// [`ConfigError::SecretFile`] naming the file that cannot be read or is empty.
    pub fn read(&self) -> Result<SecretString, ConfigError> {
        match self {
            Self::File(path) => {
                let unreadable =
                    |reason: String| ConfigError::SecretFile { key: "store.password_file", path: path.clone(), reason };
                let text =
                    zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?);
                let password = text.trim_end_matches(['\n', '\r']);
                if password.is_empty() {
                    return Err(unreadable("the file is empty".to_owned()));
                }
                Ok(SecretString::from(password.to_owned()))
            }
            Self::Environment(password) => Ok(password.clone()),
        }
    }
}

/// `[outbound]`: the trust anchors of esignd's HTTPS calls (ID provider, JWKS, webhooks,
/// payment provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Trust the operating system's roots (default true).
    pub system_roots: bool,
    /// DER certificates from `ca_file`, trusted as well (a private PKI).
    pub anchors: Vec<Vec<u8>>,
}

/// `[payment]`: the GovStack payment token.
#[derive(Debug, Clone)]
pub struct PaymentConfig {
    /// Whether `X-GovStack-PaymentToken` is required on `/v1/sign/onetime`.
    pub required: bool,
    /// The payment provider's JWKS.
    pub jwks_url: Option<String>,
    /// Required `iss` of payment tokens, if set.
    pub issuer: Option<String>,
    /// Required `aud` of payment tokens, if set.
    pub audience: Option<String>,
}

/// `[ca]`: how one-time (DESIGN §3) and device (§7) certificates are made, and the CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaConfig {
    /// Validity after issuance (default 60 s).
    pub one_time_validity: Duration,
    /// How far notBefore is set back (default 5 s); validity + skew is at most 300 s.
    pub clock_skew: Duration,
    /// Validity of device certificates (default 365 days).
    pub device_validity: Duration,
    /// How long each CRL is valid (nextUpdate - thisUpdate; default 24 h). A new one is signed
    /// on every suspension, reactivation and revocation, and when half of this has passed.
    pub crl_validity: Duration,
    /// countryName of signers' certificates; default: the CA certificate's.
    pub country: Option<String>,
    /// organizationName of signers' certificates; default: the CA certificate's.
    pub organization: Option<String>,
}

/// `[tsa]`: where timestamps come from, and the built-in TSA's settings.
#[derive(Debug, Clone)]
pub struct TsaConfig {
    /// Built-in or external TSAs.
    pub mode: TsaMode,
    /// The built-in TSA's policy OID.
    pub policy: const_oid::ObjectIdentifier,
    /// The built-in TSA's declared accuracy (at most 1 s).
    pub accuracy: Duration,
    /// Largest request body `POST /tsa` accepts.
    pub max_request_bytes: usize,
}

/// Which TSA stamps signatures.
#[derive(Debug, Clone)]
pub enum TsaMode {
    /// esignd's own TSA with the TSA key in the HSM (and `POST /tsa` is served).
    Builtin,
    /// External TSAs, tried in order.
    External {
        /// `http://` URLs.
        urls: Vec<String>,
        /// Deadline per TSA.
        timeout: Duration,
        /// Trust anchors for their tokens (`[tsa] trust`, a PEM file).
        trust: Vec<x509_cert::Certificate>,
    },
}

/// `[server]`: where the daemon listens and how others reach it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address the daemon binds.
    pub listen: SocketAddr,
    /// Base URL others use to reach the daemon (no trailing slash); used in certificate AIA
    /// extensions and redirects.
    pub public_url: String,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain: Duration,
    /// How long a stopping daemon keeps serving while `/readyz` says `draining` (default 0), so
    /// that a load balancer's health checks move new requests to the other daemons first.
    pub drain_notice: Duration,
    /// Open connections at most (default 1024); more are closed at once.
    pub max_connections: usize,
    /// Open connections from one address (an IPv6 /64) at most (default 64).
    pub max_connections_per_ip: usize,
    /// How long a request's body may take to arrive, from its head (default 10 s): 408 after.
    pub body_timeout: Duration,
    /// How long a connection may wait for a complete request head, idle keep-alive included
    /// (default 10 s).
    pub idle_timeout: Duration,
    /// Requests per second one address may make, with a burst of twice that (default 100;
    /// 0: no limit, e.g. behind a proxy that limits).
    pub requests_per_ip_per_second: u32,
    /// The operator's listener (`GET /metrics`, the detailed `GET /readyz`). Default
    /// `127.0.0.1:0`: loopback, on a port chosen at start and logged; set a port to scrape it.
    pub ops_listen: SocketAddr,
    /// `[server.tls]`: serve HTTPS with this certificate chain and key (PEM files, read again
    /// on SIGHUP); `None`: plain HTTP (behind a TLS-terminating proxy).
    pub tls: Option<TlsFiles>,
}

/// The public listener's certificate chain (leaf first) and private key, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The chain.
    pub cert: PathBuf,
    /// The key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// `[hsm]`: the PKCS#11 token and the objects on it.
#[derive(Debug, Clone)]
pub struct HsmConfig {
    /// PKCS#11 module path.
    pub module: PathBuf,
    /// Which token, by label or serial (never by slot index).
    pub token: TokenSelector,
    /// Where the user PIN comes from; `None` when not configured (enough for `esignctl token
    /// list`, not for the daemon).
    pub pin: Option<PinSource>,
    /// Session pool size.
    pub sessions: usize,
    /// How many of them unauthenticated work (the built-in TSA's `/tsa`, readiness probes)
    /// may hold at once: `public_share_percent` of the pool, at least one, so that it can never
    /// starve signing.
    pub public_sessions: usize,
    /// Algorithm of one-time keys.
    pub ephemeral_key: KeyAlgorithm,
    /// Per-call deadline for HSM work.
    pub call_timeout: Duration,
    /// Labels of the persistent keys.
    pub keys: KeyLabels,
    /// One-time keys generated ahead of need (`size` 0: none, every key is generated in line).
    pub key_pool: KeyPoolConfig,
}

/// `[hsm.key_pool]`: how many one-time keys wait ready, made by how many threads, and what a
/// signature does when none is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPoolConfig {
    /// Keys kept ready; 0 turns the pool off.
    pub size: usize,
    /// Threads generating keys, each in its own HSM session (not one of `hsm.sessions`).
    pub refill_threads: usize,
    /// What a signature does when the pool is empty.
    pub when_empty: WhenEmpty,
}

/// What a signature does when the key pool is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    /// Generate its key in line, as without a pool (slower, never refused).
    Generate,
    /// Answer 503 at once, so that callers retry elsewhere rather than wait.
    Busy,
}

/// `[hsm.keys]`: labels of the persistent keys (and of the certificates stored beside them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLabels {
    /// The CA key that issues one-time and device certificates.
    pub ca: String,
    /// The built-in TSA's key.
    pub tsa: String,
    /// The service key that signs session tokens and webhooks.
    pub service: String,
    /// The audit key that signs the audit chain's checkpoints.
    pub audit: String,
    /// The secret (HMAC-SHA256) key under which citizens' subject ids appear in the audit.
    pub audit_subject: String,
}

impl Default for KeyLabels {
    /// The labels `esignctl provision --dev` makes, and the configuration's defaults.
    fn default() -> Self {
        Self {
            ca: "esignd-ca".into(),
            tsa: "esignd-tsa".into(),
            service: "esignd-service".into(),
            audit: "esignd-audit".into(),
            audit_subject: "esignd-audit-subject".into(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `esignd=debug,info`.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, for terminals.
    Pretty,
    /// One JSON object per line, for journald and log collectors.
    Json,
    /// Pretty when stderr is a terminal, JSON otherwise.
    Auto,
}

impl Config {
    /// Load `file` (or the file named by `ESIGND_CONFIG`, or built-in defaults when neither is
    /// given), apply `ESIGND__*` environment overrides and validate.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key or value at fault.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let from_env = std::env::var_os(ENV_CONFIG_FILE).map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(from_env);
        let raw = raw::read(file.as_deref())?;
        validate::validate(raw, file)
    }
}

impl HsmConfig {
    /// Read the user PIN from its source.
    ///
    /// # Errors
    /// [`ConfigError::PinMissing`] when none is configured; file errors.
    pub fn read_pin(&self) -> Result<crate::hsm::Pin, ConfigError> {
        self.pin.as_ref().ok_or(ConfigError::PinMissing)?.read()
    }

    /// Everything [`crate::hsm::pkcs11::Pkcs11KeyStore::open`] needs, PIN included.
    ///
    /// # Errors
    /// As [`HsmConfig::read_pin`].
    pub fn pkcs11_settings(&self) -> Result<crate::hsm::pkcs11::Pkcs11Settings, ConfigError> {
        Ok(crate::hsm::pkcs11::Pkcs11Settings {
            module: self.module.clone(),
            token: self.token.clone(),
            pin: self.read_pin()?,
            sessions: self.sessions,
            call_timeout: self.call_timeout,
        })
    }
}
