//! The operator's listener (`[server] ops_listen`, loopback by default): `GET /metrics` (the
//! Prometheus text exposition) and `GET /readyz` with every check's detail, whoever asks. It
//! shares nothing with the public listener but the service: no route table, no limits meant
//! for the public, no audit of refusals; an operator scraping every few seconds costs nothing
//! the public side would notice.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::service::EsignService;

/// Serve the operator's routes on `listener` until `shutdown`.
pub async fn serve_ops(listener: TcpListener, service: Arc<EsignService>, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting an operator connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let service = Arc::clone(&service);
        let answer = service_fn(move |request| {
            let service = Arc::clone(&service);
            async move { Ok::<_, Infallible>(answer(&service, &request).await) }
        });
        tokio::spawn(async move {
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), answer).await {
                tracing::debug!(error = %e, "operator connection ended with an error");
            }
        });
    }
}

async fn answer(service: &EsignService, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("cache-control", "no-store")
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => reply(StatusCode::OK, crate::metrics::CONTENT_TYPE, service.metrics_text().await),
        (&Method::GET, "/readyz") => {
            let (status, body) = super::health::readiness(service, true).await;
            reply(status, "application/json", body.to_string())
        }
        (_, path) => {
            let (status, text) = super::error::ops_refusal(matches!(path, "/metrics" | "/readyz"));
            reply(status, "text/plain", text.into())
        }
    }
}
