//! The daemon's life: check the configuration, open the HSM, check the objects on it, serve,
//! and drain on SIGTERM. `main` stays thin; everything it does is here so it can be tested.
//!
//! Start-up fails closed: a missing PIN, an unreachable token, or a CA/TSA certificate that
//! does not match its key stops the daemon before any port is bound.

use std::sync::Arc;

use crate::config::{Config, ConfigError};
use crate::hsm::KeyStore;
use crate::hsm::pkcs11::Pkcs11KeyStore;
use crate::http::{self, AppState};
use crate::identity::client::IdentityClient;
use crate::jose::jwk::{Jwk, JwkSet};
use crate::outbound::HttpClient;
use crate::service::devices::service::DeviceService;
use crate::service::engine::Engine;
use crate::service::engine::{EngineError, SigningEngine};
use crate::service::payment::PaymentGate;
use crate::service::sessions::{Parts, Retry, SessionService};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

/// Why the daemon could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is unusable (exit 64).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HSM could not be opened.
    #[error("the HSM is not usable: {0}")]
    Hsm(#[from] crate::hsm::Error),
    /// The objects on the token are missing or unfit.
    #[error("the token is not ready for esignd: {0}")]
    Inventory(#[from] crate::ca::Error),
    /// The signing service could not be set up.
    #[error("the signing service cannot start: {0}")]
    Engine(EngineError),
    /// The store could not be opened.
    #[error("the store is not usable: {0}")]
    Store(#[from] StoreError),
    /// The service key cannot be published as a JWK.
    #[error("the service key cannot sign tokens (ES256 needs a P-256 key): {0}")]
    ServiceKey(crate::jose::Error),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}; is another process using it? (server.listen)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl DaemonError {
    /// Process exit status: 64 (EX_USAGE) for configuration errors, 69 (EX_UNAVAILABLE) for an
    /// HSM or token that is not ready, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Config(_) => 64,
            DaemonError::Hsm(_) | DaemonError::Inventory(_) | DaemonError::Engine(_) | DaemonError::ServiceKey(_) => 69,
            DaemonError::Store(_) => 73, // EX_CANTCREAT
            DaemonError::Bind { .. } | DaemonError::Runtime(_) => 1,
        }
    }
}

/// `--check-config`: everything that can be checked without touching the HSM — the file and
/// environment validate, the PIN source is readable, the module exists.
///
/// # Errors
/// The first problem found.
pub fn check_config(config: &Config) -> Result<(), ConfigError> {
    config.hsm.read_pin()?;
    if !config.hsm.module.is_file() {
        return Err(ConfigError::Invalid {
            key: "hsm.module",
            value: config.hsm.module.display().to_string(),
            reason: "no such file; install the HSM's PKCS#11 library (Debian: apt-get install softhsm2)",
        });
    }
    Ok(())
}

/// Run the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// [`DaemonError`] for anything that stops start-up.
pub fn run(mut config: Config) -> Result<(), DaemonError> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = ?config.file, "esignd starting");
    // Bound before anything uses the public URL: with `listen = "…:0"` and no public_url, the
    // URL (in certificates, redirects, CRL distribution points) must name the port chosen.
    let addr = config.server.listen;
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|source| DaemonError::Bind { addr, source })?;
    if addr.port() == 0 && config.server.public_url == format!("http://{addr}") {
        let bound = listener.local_addr().map_err(|source| DaemonError::Bind { addr, source })?;
        config.server.public_url = format!("http://{bound}");
        if config.identity.mock {
            config.identity.issuer = Some(crate::config::mock_issuer(&config.server.public_url));
        }
    }
    let keys = Arc::new(Pkcs11KeyStore::open(config.hsm.pkcs11_settings()?)?);
    let token = keys.status()?;
    tracing::info!(token = %token.label, serial = %token.serial, model = %token.model, sessions = config.hsm.sessions, "HSM session pool open");
    let service: Arc<dyn Engine> = Arc::new(Arc::new(SigningEngine::new(Arc::clone(&keys), &config)?));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.store.path)?);
    tracing::info!(path = %config.store.path.display(), "store open");
    for (label, description) in service.key_summary() {
        tracing::info!(key = %label, %description, "key checked");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(DaemonError::Runtime)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| DaemonError::Bind { addr, source })?;
        let http = HttpClient::new();
        let jwks = JwkSet { keys: vec![Jwk::from_spki(&service.service_public_key(), "ES256").map_err(DaemonError::ServiceKey)?] };
        let identity = Arc::new(IdentityClient::new(config.identity.clone(), http.clone(), assertion_signer(&service)));
        let mut clients = config.clients.clone();
        let demo = config.identity.mock.then(|| {
            tracing::warn!(
                issuer = ?config.identity.issuer,
                "DEMO PROFILE: the built-in mock ID provider accepts any name; never expose this daemon beyond this machine"
            );
            let mut unusable_key = [0u8; 32];
            getrandom::fill(&mut unusable_key).expect("the operating system's random source failed");
            clients.push(crate::config::ClientConfig {
                id: crate::demo::DEMO_CLIENT.to_owned(),
                api_key_sha256: unusable_key,
                callback_urls: vec![format!("{}/demo/done", config.server.public_url)],
                webhook_url: None,
            });
            crate::http::demo::Demo {
                idp: crate::demo::mock_idp::MockIdp::new(&config.server.public_url),
                shop: crate::demo::eservice::DemoShop::default(),
            }
        });
        let devices = Arc::new(DeviceService::new(Arc::clone(&service), Arc::clone(&store), config.ca.crl_validity));
        // A CRL exists from the start, so that every device certificate's distribution point answers.
        if let Err(e) = devices.crl().await {
            tracing::warn!(error = %e, "the CRL could not be signed at start; GET /v1/crl will try again");
        }
        let sessions = Arc::new(SessionService::new(Parts {
            signing: Arc::clone(&service),
            store: Arc::clone(&store),
            identity: Arc::clone(&identity),
            clients,
            public_url: config.server.public_url.clone(),
            jwks: jwks.clone(),
            response_ttl: config.store.response_ttl,
            http: http.clone(),
            retry: Retry { attempts: config.webhooks.attempts, first_delay: config.webhooks.first_retry },
            device_request_lifetime: config.devices.request_timeout,
        }));
        let state = Arc::new(AppState {
            service,
            store: Arc::clone(&store),
            identity,
            payment: Arc::new(PaymentGate::new(config.payment.clone(), http, config.identity.timeout)),
            sessions: Arc::clone(&sessions),
            devices: Arc::clone(&devices),
            demo,
            public_url: config.server.public_url.clone(),
            jwks,
            max_tsa_request: config.tsa.max_request_bytes,
            binding_partners: config.devices.binding_partners.clone(),
        });
        tokio::spawn(sweep(store, Arc::clone(&sessions), devices, config.store.sweep_interval));
        tracing::info!(listen = %listener.local_addr().unwrap_or(addr), public_url = %config.server.public_url, "serving");
        notify(&[sd_notify::NotifyState::Ready]);
        let shutdown = async move {
            shutdown_signal().await;
            // Devices waiting in long polls are answered now, so the drain need not wait for them.
            sessions.stop_device_polls();
        };
        http::serve(listener, state, shutdown, config.server.drain).await;
        Ok(())
    })
}

impl From<EngineError> for DaemonError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Hsm(e) => DaemonError::Hsm(e),
            EngineError::Ca(e) => DaemonError::Inventory(e),
            other => DaemonError::Engine(other),
        }
    }
}

/// The HSM service key, signing the `private_key_jwt` assertions of the identity client.
fn assertion_signer(service: &Arc<dyn Engine>) -> crate::identity::client::AssertionSigner {
    let service = Arc::clone(service);
    Arc::new(move |claims| {
        let service = Arc::clone(&service);
        Box::pin(async move { service.sign_jws("JWT", claims).await.map_err(|e| e.to_string()) })
    })
}

/// Fail expired sessions and delete expired records every `interval`, for the daemon's life.
async fn sweep(
    store: Arc<dyn Store>,
    sessions: Arc<SessionService>,
    devices: Arc<DeviceService>,
    interval: std::time::Duration,
) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        match sessions.expire_overdue().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired signing sessions failed"),
            Err(e) => tracing::warn!(error = %e, "expiring sessions failed"),
        }
        match sessions.expire_device_requests().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "unanswered device requests expired"),
            Err(e) => tracing::warn!(error = %e, "expiring device requests failed"),
        }
        match store.sweep(std::time::SystemTime::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "store swept"),
            Err(e) => tracing::warn!(error = %e, "sweeping the store failed"),
        }
        // Renews the CRL once half of its validity has passed.
        if let Err(e) = devices.crl().await {
            tracing::warn!(error = %e, "renewing the CRL failed");
        }
    }
}

/// Tell systemd (Type=notify) about our state; a no-op outside systemd.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "shutting down");
    notify(&[sd_notify::NotifyState::Stopping]);
}
