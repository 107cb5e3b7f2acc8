//! Putting the service together from its parts and the typed configuration, and what the daemon
//! asks of it besides requests: the periodic sweep, and the answer to waiting devices when it
//! stops.

use std::sync::Arc;
use std::time::SystemTime;

use super::callers::Callers;
use super::core::Core;
use super::demo::Demo;
use super::device_requests::DeviceRequests;
use super::devices::Devices;
use super::engine::Engine;
use super::payment::PaymentGate;
use super::request_objects::RequestObjects;
use super::sessions::Sessions;
use super::validation::ValidationData;
use super::webhooks::{Retry, Webhooks};
use super::{EsignService, ServiceError};
use crate::config::{ClientConfig, Config, DEMO_CLIENT, RequestKeys};
use crate::identity::client::{AssertionSigner, IdentityClient};
use crate::jose::jwk::{Jwk, JwkSet};
use crate::outbound::HttpClient;
use crate::store::Store;

/// What the service runs on: the signing engine (on whichever key store) and the store.
pub struct Parts {
    /// The signing engine.
    pub engine: Arc<dyn Engine>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The metrics (the store may already time its calls into them).
    pub metrics: crate::metrics::Metrics,
    /// What outbound TLS trusts (`[outbound]`, [`crate::outbound::tls_config`]).
    pub outbound: rustls::ClientConfig,
}

impl EsignService {
    /// The service on `parts`, as `config` says.
    ///
    /// # Errors
    /// A service key that cannot sign ES256 tokens (it must be P-256); a CA certificate that
    /// does not encode (`malformed CA certificate`: the chain every SignResponse carries is
    /// encoded here, once).
    pub fn new(parts: Parts, config: &Config) -> Result<Self, crate::jose::Error> {
        let Parts { engine, store, metrics, outbound } = parts;
        let http = HttpClient::with_tls(outbound);
        let jwks = JwkSet { keys: vec![Jwk::from_spki(&engine.service_public_key(), "ES256")?] };
        let retry = Retry { attempts: config.webhooks.attempts, first_delay: config.webhooks.first_retry };
        let public_url = config.server.public_url.clone();
        let core = Arc::new(Core {
            engine: Arc::clone(&engine),
            store: Arc::clone(&store),
            public_url: public_url.clone(),
            jwks,
            webhooks: Arc::new(Webhooks::new(http.clone(), retry, store)),
            validation: ValidationData::new(engine.ca_chain())
                .map_err(|_| crate::jose::Error::Malformed("CA certificate"))?,
        });
        let identity = Arc::new(IdentityClient::new(config.identity.clone(), http.clone(), assertion_signer(engine)));
        let mut clients = config.clients.clone();
        let demo = config.identity.mock.then(|| {
            clients.push(demo_client(&public_url));
            Demo::new(&public_url)
        });
        let requests =
            Arc::new(DeviceRequests::new(Arc::clone(&core), config.devices.request_timeout, config.store.response_ttl));
        requests.watch_other_daemons();
        let request_objects = RequestObjects::new(&clients, &public_url, &http, config.identity.timeout);
        Ok(Self {
            identity: Arc::clone(&identity),
            callers: Callers::new(clients, config.devices.binding_partners.clone(), config.auditors.clone()),
            payment: PaymentGate::new(config.payment.clone(), http, config.identity.timeout),
            sessions: Sessions::new(Arc::clone(&core), identity, config.store.response_ttl),
            devices: Devices::new(Arc::clone(&core), Arc::clone(&requests), config.ca.crl_validity),
            requests,
            demo,
            request_objects,
            device_audience: config.devices.audience.clone(),
            public_work: tokio::sync::Semaphore::new(config.hsm.public_sessions),
            last_readiness: tokio::sync::Mutex::new(None),
            draining: std::sync::atomic::AtomicBool::new(false),
            tsa_request_limit: config.tsa.max_request_bytes,
            audit: config.audit,
            started_at: SystemTime::now(),
            metrics,
            core,
        })
    }

    /// One line per persistent key for the start-up log: labels and fingerprints only.
    pub fn key_summary(&self) -> Vec<(String, String)> {
        self.core.engine.key_summary()
    }

    /// Fail expired sessions, end unanswered device requests, delete what the store no longer
    /// needs and renew the CRL when half of its validity has passed; each failure is logged and
    /// the others still run.
    pub async fn sweep(&self) {
        match self.sessions.expire_overdue().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired signing sessions failed"),
            Err(e) => tracing::warn!(error = %e, "expiring sessions failed"),
        }
        match self.requests.expire_overdue().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "unanswered device requests expired"),
            Err(e) => tracing::warn!(error = %e, "expiring device requests failed"),
        }
        match self.core.store.sweep(SystemTime::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "store swept"),
            Err(e) => tracing::warn!(error = %e, "sweeping the store failed"),
        }
        if let Err(e) = self.devices.crl().await {
            tracing::warn!(error = %e, "renewing the CRL failed");
        }
        match self.prune_audit().await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "audit records past their retention pruned up to a checkpoint"),
            Err(e) => tracing::warn!(error = %e, "pruning the audit trail failed"),
        }
    }

    /// Deliver the webhooks in the outbox, for the process's life (the daemon spawns it; any
    /// number of daemons may run it on one store).
    pub async fn deliver_webhooks(&self) {
        let core = &self.core;
        Arc::clone(&core.webhooks).run(Arc::clone(&core.engine), core.public_url.clone()).await;
    }

    /// The daemon is stopping: `/readyz` answers 503 `draining` from now on (a load balancer
    /// sends new requests elsewhere), and devices waiting in long polls are answered now, so
    /// that they poll again — through the balancer, at another daemon — and the drain need not
    /// wait for them. Everything else is still served until the listener closes.
    pub fn drain(&self) {
        self.draining.store(true, std::sync::atomic::Ordering::Release);
        self.requests.stop_polls();
    }

    /// Whether [`EsignService::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Sign the CRL if there is none, so that every device certificate's distribution point
    /// answers from the start.
    ///
    /// # Errors
    /// HSM and store failures.
    pub async fn ensure_crl(&self) -> Result<(), ServiceError> {
        self.devices.crl().await.map(drop)
    }
}

/// The demo eService (demo profile only): its API key is random and never shown, so only the
/// demo pages, inside esignd, act for it.
fn demo_client(public_url: &str) -> ClientConfig {
    tracing::warn!(
        "DEMO PROFILE: the built-in mock ID provider accepts any name; never expose this daemon beyond this machine"
    );
    let mut unusable_key = [0u8; 32];
    getrandom::fill(&mut unusable_key).expect("the operating system's random source failed");
    ClientConfig {
        id: DEMO_CLIENT.to_owned(),
        api_key_sha256: unusable_key,
        callback_urls: vec![format!("{public_url}/demo/done")],
        webhook_url: None,
        request_keys: RequestKeys::None,
        allow_unsigned_query: false,
        requests_per_second: 0,
        cert_sha256: None,
    }
}

/// The HSM service key, signing the identity client's `private_key_jwt` assertions.
fn assertion_signer(engine: Arc<dyn Engine>) -> AssertionSigner {
    Arc::new(move |claims| {
        let engine = Arc::clone(&engine);
        Box::pin(async move { engine.sign_jws("JWT", claims).await.map_err(|e| e.to_string()) })
    })
}
