//! The daemon's life: check the configuration, open the HSM and the store, build the service
//! from the typed configuration, serve, and drain on SIGTERM. `main` stays thin; everything it
//! does is here so it can be tested. [`build`] is the one place that names the concrete parts;
//! the in-process tests build the same service on the in-memory key store with it.
//!
//! Start-up fails closed: a missing PIN, an unreachable token, or a CA/TSA certificate that
//! does not match its key stops the daemon before any port is bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError, PasswordSource, StoreConfig, StoreEngine};
use crate::hsm::KeyStore;
use crate::hsm::pkcs11::Pkcs11KeyStore;
use crate::service::engine::{Engine, EngineError, SigningEngine};
use crate::service::{EsignService, Parts};
use crate::store::postgres::PostgresStore;
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
    /// The signing engine could not be set up.
    #[error("the signing service cannot start: {0}")]
    Engine(EngineError),
    /// The store could not be opened.
    #[error("the store is not usable: {0}")]
    Store(#[from] StoreError),
    /// The service key cannot be published as a JWK.
    #[error("the service key cannot sign tokens (ES256 needs a P-256 key): {0}")]
    ServiceKey(#[from] crate::jose::Error),
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
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::http::tls::TlsError),
    /// The daemon's start could not be recorded in the audit trail.
    #[error("the audit trail cannot record the start: {0}")]
    Audit(crate::service::ServiceError),
}

impl DaemonError {
    /// Process exit status: 64 (EX_USAGE) for configuration errors, 69 (EX_UNAVAILABLE) for an
    /// HSM or token that is not ready, 73 (EX_CANTCREAT) for a store that cannot be opened, 1
    /// otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Config(_) | DaemonError::Tls(_) => 64,
            DaemonError::Hsm(_) | DaemonError::Inventory(_) | DaemonError::Engine(_) | DaemonError::ServiceKey(_) => 69,
            DaemonError::Store(_) | DaemonError::Audit(_) => 73,
            DaemonError::Bind { .. } | DaemonError::Runtime(_) => 1,
        }
    }
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

/// `--check-config`: everything that can be checked without touching the HSM or the database —
/// the file and environment validate, the PIN source and the store's password source are
/// readable, the module exists.
///
/// # Errors
/// The first problem found.
pub fn check_config(config: &Config) -> Result<(), ConfigError> {
    config.hsm.read_pin()?;
    if let StoreEngine::Postgres(postgres) = &config.store.engine
        && let Some(password) = &postgres.password
    {
        password.read()?;
    }
    if !config.hsm.module.is_file() {
        return Err(ConfigError::Invalid {
            key: "hsm.module",
            value: config.hsm.module.display().to_string(),
            reason: "no such file; install the HSM's PKCS#11 library (Debian: apt-get install softhsm2)",
        });
    }
    Ok(())
}

/// The whole service from typed configuration, on `keys`: the signing engine (after checking
/// the token's objects), the store the configuration names, and the service over both. Blocks
/// on the HSM: call it at start-up or from a blocking context.
///
/// # Errors
/// Missing or unfit objects on the token, an unusable store or service key.
pub async fn build<K: KeyStore>(keys: Arc<K>, config: &Config) -> Result<Arc<EsignService>, DaemonError> {
    let engine: Arc<dyn Engine> = Arc::new(Arc::new(SigningEngine::new(keys, config)?));
    let metrics = crate::metrics::Metrics::new();
    let trust = crate::outbound::tls_config(config.outbound.system_roots, &config.outbound.anchors);
    let store = open_store(&config.store, &metrics, trust.clone()).await?;
    tracing::info!(store = %config.store.engine.describe(), "store open");
    for (label, description) in engine.key_summary() {
        tracing::info!(key = %label, %description, "key checked");
    }
    Ok(Arc::new(EsignService::new(Parts { engine, store, metrics, outbound: trust }, config)?))
}

/// The store the configuration names (the embedded SQLite file, or PostgreSQL, trusting
/// `trust`'s roots when it speaks TLS), timing its calls into `metrics`.
///
/// # Errors
/// A store that cannot be opened, reached or migrated; a password file that cannot be read.
pub async fn open_store(
    config: &StoreConfig,
    metrics: &crate::metrics::Metrics,
    trust: rustls::ClientConfig,
) -> Result<Arc<dyn Store>, DaemonError> {
    Ok(match &config.engine {
        StoreEngine::Sqlite(path) => Arc::new(SqliteStore::open(path)?.timed(metrics.store_latency())),
        StoreEngine::Postgres(postgres) => {
            let password = postgres.password.as_ref().map(PasswordSource::read).transpose()?;
            let store = PostgresStore::connect(&postgres.url, password.as_ref(), postgres.connections, trust).await?;
            Arc::new(store.timed(metrics.store_latency()))
        }
    })
}

/// Connections the kernel completes and queues before the daemon accepts them (capped by
/// `net.core.somaxconn`): a burst of connects waits in the queue instead of being dropped and
/// retransmitted seconds later (std's default is 128).
const LISTEN_BACKLOG: i32 = 4096;

/// A non-blocking listener on `addr` with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
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
    let listener = listen(addr).map_err(|source| DaemonError::Bind { addr, source })?;
    let ops_addr = config.server.ops_listen;
    let ops_listener = listen(ops_addr).map_err(|source| DaemonError::Bind { addr: ops_addr, source })?;
    if addr.port() == 0 && config.server.public_url == format!("http://{addr}") {
        let bound = listener.local_addr().map_err(|source| DaemonError::Bind { addr, source })?;
        config.server.public_url = format!("http://{bound}");
        if config.identity.mock {
            config.identity.issuer = Some(crate::config::mock_issuer(&config.server.public_url));
        }
    }
    let certificate = match &config.server.tls {
        Some(files) => {
            if !config.server.public_url.starts_with("https://") {
                tracing::warn!(public_url = %config.server.public_url, "TLS is on but server.public_url is not https://; certificates and redirects will name it");
            }
            Some(crate::http::tls::ReloadableCertificate::load(&files.cert, &files.key)?)
        }
        None => None,
    };
    let keys = Arc::new(Pkcs11KeyStore::open(config.hsm.pkcs11_settings()?)?);
    let token = keys.status()?;
    tracing::info!(token = %token.label, serial = %token.serial, model = %token.model, sessions = config.hsm.sessions, "HSM session pool open");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(DaemonError::Runtime)?;
    let service = runtime.block_on(build(keys, &config))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| DaemonError::Bind { addr, source })?;
        // A CRL exists from the start, so that every device certificate's distribution point answers.
        if let Err(e) = service.ensure_crl().await {
            tracing::warn!(error = %e, "the CRL could not be signed at start; GET /v1/crl will try again");
        }
        let config_sha256 = config.file.as_ref().and_then(|file| std::fs::read(file).ok()).map(|bytes| {
            hex::encode(crate::hsm::HashAlgorithm::Sha256.digest(&bytes))
        });
        service.record_start(config_sha256).await.map_err(DaemonError::Audit)?;
        tokio::spawn(sweep(Arc::clone(&service), config.store.sweep_interval));
        tokio::spawn(checkpoints(Arc::clone(&service)));
        let delivering = Arc::clone(&service);
        tokio::spawn(async move { delivering.deliver_webhooks().await });
        let ops_listener =
            tokio::net::TcpListener::from_std(ops_listener).map_err(|source| DaemonError::Bind { addr: ops_addr, source })?;
        let ops_bound = ops_listener.local_addr().unwrap_or(ops_addr);
        let (ops_stop, ops_stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(crate::http::serve_ops(ops_listener, Arc::clone(&service), async move {
            let _ = ops_stopped.await;
        }));
        tracing::info!(listen = %ops_bound, "operator listener (/metrics, /readyz)");
        tracing::info!(listen = %listener.local_addr().unwrap_or(addr), public_url = %config.server.public_url, "serving");
        notify(&[sd_notify::NotifyState::Ready]);
        let stopping = Arc::clone(&service);
        let drain_notice = config.server.drain_notice;
        let shutdown = async move {
            shutdown_signal().await;
            stopping.drain();
            if !drain_notice.is_zero() {
                tracing::info!(notice_secs = drain_notice.as_secs(), "draining: /readyz says so; still serving");
                tokio::time::sleep(drain_notice).await;
            }
        };
        let server = &config.server;
        let limits = crate::http::Limits {
            max_connections: server.max_connections,
            max_connections_per_ip: server.max_connections_per_ip,
            body_timeout: server.body_timeout,
            idle_timeout: server.idle_timeout,
            requests_per_ip_per_second: server.requests_per_ip_per_second,
        };
        tokio::spawn(reload_on_sighup(certificate.clone()));
        let pinned = config.clients.iter().any(|client| client.cert_sha256.is_some());
        let tls = certificate.as_ref().map(|certificate| certificate.acceptor(pinned));
        let stopped = Arc::clone(&service);
        crate::http::serve(listener, tls, service, limits, shutdown, server.drain).await;
        let _ = ops_stop.send(());
        if let Err(e) = stopped.record_stop().await {
            tracing::error!(error = %e, "the audit trail could not record the stop");
        }
        Ok(())
    })
}

/// Sweep every `interval`, for the daemon's life.
async fn sweep(service: Arc<EsignService>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        service.sweep().await;
    }
}

/// Make audit checkpoints when due (checked every second), for the daemon's life.
async fn checkpoints(service: Arc<EsignService>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = service.checkpoint_if_due().await {
            tracing::warn!(error = %e, "an audit checkpoint could not be made; trying again");
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
/// Read the TLS certificate and key again on every SIGHUP (`systemctl reload`); a failed
/// reload keeps the old ones. Without TLS there is nothing to reload, and SIGHUP (whose default
/// would end the process) is only logged.
async fn reload_on_sighup(certificate: Option<Arc<crate::http::tls::ReloadableCertificate>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("no SIGHUP handler: the TLS certificate is reloaded only by a restart");
        return;
    };
    while hangup.recv().await.is_some() {
        let Some(certificate) = &certificate else {
            tracing::info!("SIGHUP: nothing to reload (no [server.tls])");
            continue;
        };
        match certificate.reload() {
            Ok(()) => tracing::info!("TLS certificate reloaded"),
            Err(e) => tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays in use"),
        }
    }
}

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
