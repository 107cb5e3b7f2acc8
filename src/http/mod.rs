//! The door (hyper 1 + hyper-util): accept connections, route each request by the one table in
//! [`routes`], decode it, make one call to the [`EsignService`], encode the answer — and drain
//! on shutdown. Failures become statuses and bodies in one place, [`error`].
//!
//! HTTP knows the service's public API and nothing below it: no key store, CA, CMS, store,
//! identity or configuration type appears here, and no handler has a type parameter.
//! [`handle`] takes any request body, so the in-process tests drive the whole app through the
//! router without sockets.

mod audit;
mod body;
mod call;
mod cookie;
mod demo;
mod device_api;
mod device_certs;
mod error;
mod form;
mod headers;
mod health;
mod interactive;
mod limits;
mod mock_idp;
mod onetime;
mod ops;
mod pages;
mod pseudonym;
mod public;
mod response;
mod router;
mod routes;
mod sessions;
mod sign_request;
pub mod tls;
mod tsa;
mod wallet_binding;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use body::RequestBody;
pub use limits::Limits;
pub use ops::serve_ops;
pub use response::Body;

use crate::service::EsignService;

/// Answer one request: route, decode, call the service, encode. Any body type will do (hyper's
/// `Incoming` from a socket, `Full<Bytes>` in tests); `peer` is only logged. The body must
/// arrive within the default body deadline.
pub async fn handle<B>(
    service: Arc<EsignService>,
    peer: SocketAddr,
    request: hyper::Request<B>,
) -> hyper::Response<Body>
where
    B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    handle_within(service, peer, request, Limits::default().body_timeout).await
}

async fn handle_within<B>(
    service: Arc<EsignService>,
    peer: SocketAddr,
    request: hyper::Request<B>,
    body_timeout: Duration,
) -> hyper::Response<Body>
where
    B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request = request.map(|body| body::with_deadline(body::boxed(body), body_timeout));
    router::route(service, peer, request).await
}

/// Serve `listener` (over TLS when `tls` is given) within `limits` until `shutdown`
/// completes, then give open connections `drain` to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: Arc<EsignService>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    let gate = limits::Gate::new(limits);
    let mut forget = tokio::time::interval(Duration::from_secs(60));
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
            _ = forget.tick() => {
                gate.forget_idle();
                continue;
            }
            () = &mut shutdown => break,
        };
        let Some(admitted) = gate.admit(peer.ip()) else {
            // Over a connection limit: closed before anything is read.
            tracing::debug!(%peer, "connection refused: too many open");
            drop(stream);
            continue;
        };
        let service = Arc::clone(&service);
        let requests = Arc::clone(&gate);
        let body_timeout = gate.limits().body_timeout;
        // One connection's answers; `certificate` is its TLS client certificate's SHA-256.
        let answer = move |certificate: Option<[u8; 32]>| {
            service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                let service = Arc::clone(&service);
                let allowed = requests.allow_request(peer.ip());
                if let Some(certificate) = certificate {
                    request.extensions_mut().insert(headers::ClientCertificate(certificate));
                }
                async move {
                    Ok::<_, std::convert::Infallible>(match allowed {
                        Ok(()) => handle_within(service, peer, request, body_timeout).await,
                        Err(wait) => error::too_many_requests(wait),
                    })
                }
            })
        };
        let mut builder = http1::Builder::new();
        let idle_timeout = gate.limits().idle_timeout;
        builder.timer(TokioTimer::new()).header_read_timeout(idle_timeout);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _place = admitted;
            let served = match tls {
                None => watcher.watch(builder.serve_connection(TokioIo::new(stream), answer(None))).await,
                // The handshake gets the head's deadline: a peer that never finishes it is closed.
                Some(acceptor) => match tokio::time::timeout(idle_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let certificate = tls::client_certificate_sha256(&stream);
                        watcher.watch(builder.serve_connection(TokioIo::new(stream), answer(certificate))).await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %peer, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake not finished in time");
                        return;
                    }
                },
            };
            if let Err(e) = served {
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
