//! The HTTP front door (hyper 1 + hyper-util): accept connections, route requests, answer, and
//! drain on shutdown.
//!
//! This layer knows nothing of PKCS#11: it hands work to [`crate::service`] and asks the key
//! store only for its status. It serves the GovStack `POST /v1/sign/onetime`, the operator
//! endpoints `/healthz` and `/readyz`, the built-in TSA at `POST /tsa`, the CA chain at
//! `GET /v1/ca`, published certificates at `GET /v1/certs/{serial}` and the service key at
//! `/.well-known/jwks.json`.

mod body;
mod ca;
mod certs;
pub mod demo;
mod device_api;
mod device_certs;
mod error;
mod form;
mod govstack_headers;
mod health;
mod interactive;
mod json;
mod pages;
mod response;
mod router;
mod sessions;
mod sign_onetime;
mod sign_pseudonym;
mod sign_request;
mod tsa;
mod wallet_binding;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::identity::client::IdentityClient;
use crate::jose::jwk::JwkSet;
use crate::service::devices::service::DeviceService;
use crate::service::engine::Engine;
use crate::service::payment::PaymentGate;
use crate::service::sessions::SessionService;

/// What request handlers share.
pub struct AppState {
    /// The signing service (and through it the key store).
    pub service: Arc<dyn Engine>,
    /// The store.
    pub store: Arc<dyn crate::store::Store>,
    /// The ID provider.
    pub identity: Arc<IdentityClient>,
    /// The payment check.
    pub payment: Arc<PaymentGate>,
    /// Signing sessions.
    pub sessions: Arc<SessionService>,
    /// Users' own signing devices.
    pub devices: Arc<DeviceService>,
    /// The demo profile (mock ID provider and demo eService), in `mock` mode only.
    pub demo: Option<demo::Demo>,
    /// esignd's public URL.
    pub public_url: String,
    /// The service key's public JWKS.
    pub jwks: JwkSet,
    /// Largest `POST /tsa` body.
    pub max_tsa_request: usize,
    /// Who may bind wallets.
    pub binding_partners: Vec<crate::config::BindingPartner>,
}

/// Serve `listener` until `shutdown` completes, then give open connections `drain` to finish.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: impl Future<Output = ()>, drain: Duration) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Running out of file descriptors must not end the daemon; back off a little.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let state = Arc::clone(&state);
        let service = service_fn(move |request| router::route(Arc::clone(&state), peer, request));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(open_connections = graceful.count(), drain_secs = drain.as_secs(), "draining");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(drain) => tracing::warn!("drain deadline reached; closing the remaining connections"),
    }
}
