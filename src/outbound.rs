//! Outbound HTTP: the one client esignd uses to reach ID providers, payment providers, TSAs and
//! eService webhooks. HTTPS (rustls on `ring`) trusting the operating system's roots and/or the
//! operator's `[outbound] ca_file`, or plain HTTP to loopback; every call has a deadline and a
//! cap on the response size.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;

/// Whether esignd may call `url`: https, or plain http to a loopback address only (tests, a
/// sidecar on the same host) — never a token, key set or signature in clear over a network.
///
/// # Errors
/// What is wrong with it, for the operator.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let uri: hyper::Uri = url.parse().map_err(|_| "not a URL")?;
    let host = uri.host().ok_or("an absolute URL with a host")?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err("https:// (plain http only to a loopback address such as 127.0.0.1)"),
        _ => Err("an absolute https:// URL"),
    }
}

/// Whether `url` names a loopback host (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_url(url: &str) -> bool {
    url.parse::<hyper::Uri>().ok().and_then(|uri| uri.host().map(is_loopback)).unwrap_or(false)
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The largest response body read from anyone.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why an outbound call failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// No complete answer before the deadline.
    #[error("no answer from {url} within {timeout:?}")]
    Timeout {
        /// The URL called.
        url: String,
        /// The deadline.
        timeout: Duration,
    },
    /// Connecting, TLS or sending failed.
    #[error("calling {url} failed: {source}")]
    Request {
        /// The URL called.
        url: String,
        /// What failed.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The body could not be read or was too large.
    #[error("the answer from {url} could not be read or exceeded {MAX_RESPONSE_BYTES} bytes")]
    Body {
        /// The URL called.
        url: String,
    },
    /// The URL is not usable.
    #[error("invalid URL {0:?}")]
    Url(String),
}

/// A response: status, content type and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Content-Type, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// The shared outbound client (cheap to clone).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client trusting the operating system's roots for HTTPS.
    pub fn new() -> Self {
        Self::trusting(true, &[])
    }

    /// A client trusting the operating system's roots (when `system_roots`) and the DER
    /// certificates `anchors` (`[outbound] ca_file`: an ID provider or payment provider on a
    /// private PKI).
    pub fn trusting(system_roots: bool, anchors: &[Vec<u8>]) -> Self {
        Self::with_tls(tls_config(system_roots, anchors))
    }

    /// A client trusting what `tls` trusts ([`tls_config`], made once and shared with the
    /// store's connections).
    pub fn with_tls(tls: rustls::ClientConfig) -> Self {
        let connector =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
        Self { client: Client::builder(TokioExecutor::new()).build(connector) }
    }

    /// Send one request and read the whole answer, within `timeout`.
    ///
    /// # Errors
    /// [`OutboundError`].
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(hyper::header::HeaderName, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Response, OutboundError> {
        let uri: hyper::Uri = url.parse().map_err(|_| OutboundError::Url(url.to_owned()))?;
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            let value = HeaderValue::from_str(value).map_err(|_| OutboundError::Url(url.to_owned()))?;
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|_| OutboundError::Url(url.to_owned()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|source| OutboundError::Request { url: url.to_owned(), source })?;
            let status = response.status();
            let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|_| OutboundError::Body { url: url.to_owned() })?
                .to_bytes();
            Ok(Response { status, content_type, body })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| OutboundError::Timeout { url: url.to_owned(), timeout })?
    }

    /// GET a JSON document (with an optional bearer token).
    ///
    /// # Errors
    /// [`OutboundError`].
    pub async fn get(&self, url: &str, bearer: Option<&str>, timeout: Duration) -> Result<Response, OutboundError> {
        let mut headers = vec![(ACCEPT, "application/json, application/jwt".to_owned())];
        if let Some(token) = bearer {
            headers.push((AUTHORIZATION, format!("Bearer {token}")));
        }
        self.send(Method::GET, url, &headers, Vec::new(), timeout).await
    }
}

/// The TLS client configuration of esignd's outbound connections (HTTPS calls, PostgreSQL):
/// the operating system's roots when `system_roots`, and the DER certificates `anchors`
/// (`[outbound] ca_file`).
pub fn tls_config(system_roots: bool, anchors: &[Vec<u8>]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    if system_roots {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "a system trust anchor could not be read");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                ignored,
                "no system trust anchors found (install ca-certificates, or set outbound.ca_file): HTTPS calls will fail"
            );
        }
    }
    let (_, ignored) = roots.add_parsable_certificates(anchors.iter().map(|der| CertificateDer::from(der.clone())));
    if ignored > 0 {
        tracing::warn!(ignored, "certificates of outbound.ca_file are not usable trust anchors");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_called() {
        for good in ["https://id.example.gov/x", "http://127.0.0.1:8080/cb", "http://[::1]:9/x", "http://localhost/x"] {
            assert_eq!(check_url(good), Ok(()), "{good}");
        }
        for bad in
            ["http://id.example.gov", "http://10.0.0.1/x", "ftp://x", "/relative", "http://127.0.0.1.evil.example/"]
        {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
