//! The RFC 3161 client: SHA-256 imprint, a random 64-bit nonce, certReq, HTTP POST
//! `application/timestamp-query` to each configured TSA in turn until one answers with a token
//! that passes [`super::verify::verify_token`]. Each attempt has its own deadline; every
//! failure is kept and reported if all TSAs fail.
//!
//! Only `http://` URLs: a token is signed, so its integrity does not depend on the transport.

use std::time::Duration;

use der::asn1::Uint;
use der::{Decode, Encode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use x509_cert::Certificate;

use super::Error;
use super::asn1::{MessageImprint, TimeStampReq, TimeStampResp, TstInfo, failure, status};
use super::builtin::sha256_imprint;
use super::verify::verify_token;

/// The largest response accepted from a TSA.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Why an HTTP exchange with a TSA failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No complete answer before the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connecting or sending failed.
    #[error("the request failed: {0}")]
    Request(#[source] hyper_util::client::legacy::Error),
    /// Reading the body failed or it was too large.
    #[error("reading the response failed or it exceeded {MAX_RESPONSE_BYTES} bytes")]
    Body,
    /// The TSA answered with an HTTP error.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The configured URL does not parse.
    #[error("invalid URL")]
    Url,
    /// The answer is not a DER TimeStampResp.
    #[error("the answer is not a TimeStampResp")]
    NotTimeStampResp,
}

/// A token from an external TSA, checked.
#[derive(Clone, Debug)]
pub struct TimeStamped {
    /// The DER TimeStampToken.
    pub token: Vec<u8>,
    /// Its TSTInfo.
    pub tst_info: TstInfo,
    /// The TSA that gave it.
    pub url: String,
}

/// A client for a list of external TSAs.
#[derive(Clone, Debug)]
pub struct TsaClient {
    urls: Vec<String>,
    timeout: Duration,
    anchors: Vec<Certificate>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl TsaClient {
    /// A client trying `urls` in order, each within `timeout`, trusting tokens whose TSA
    /// certificate chains to `anchors`.
    pub fn new(urls: Vec<String>, timeout: Duration, anchors: Vec<Certificate>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Self { urls, timeout, anchors, http }
    }

    /// Time-stamp `data` (the caller's bytes; the imprint is their SHA-256).
    ///
    /// # Errors
    /// [`Error::AllFailed`] with each TSA's reason when none gave a valid token.
    pub async fn timestamp(&self, data: &[u8]) -> Result<TimeStamped, Error> {
        let imprint = sha256_imprint(data)?;
        let (request, nonce) = request_for(&imprint)?;
        let mut failures = Vec::new();
        for url in &self.urls {
            let attempt = async {
                let body = match tokio::time::timeout(self.timeout, self.post(url, &request)).await {
                    Ok(result) => result?,
                    Err(_) => return Err(Error::Transport(TransportError::Timeout(self.timeout))),
                };
                let token = granted_token(&body)?;
                let verified = verify_token(&token, &imprint, Some(&nonce), &self.anchors)?;
                Ok(TimeStamped { token, tst_info: verified.tst_info, url: url.clone() })
            };
            match attempt.await {
                Ok(stamped) => return Ok(stamped),
                Err(e) => {
                    tracing::warn!(tsa = %url, error = %e, "TSA failed; trying the next one");
                    failures.push((url.clone(), Box::new(e)));
                }
            }
        }
        Err(Error::AllFailed(failures))
    }

    async fn post(&self, url: &str, request: &[u8]) -> Result<Bytes, TransportError> {
        let uri: hyper::Uri = url.parse().map_err(|_| TransportError::Url)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/timestamp-query")
            .body(Full::new(Bytes::copy_from_slice(request)))
            .map_err(|_| TransportError::Url)?;
        let response = self.http.request(request).await.map_err(TransportError::Request)?;
        if !response.status().is_success() {
            return Err(TransportError::Status(response.status().as_u16()));
        }
        let body =
            Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect().await.map_err(|_| TransportError::Body)?;
        Ok(body.to_bytes())
    }
}

/// A DER TimeStampReq for `imprint` with a fresh nonce (and the TSA's certificate asked for),
/// and the nonce.
///
/// # Errors
/// Encoding errors only.
pub fn request_for(imprint: &MessageImprint) -> Result<(Vec<u8>, Uint), Error> {
    let mut nonce_bytes = [0u8; 8];
    getrandom::fill(&mut nonce_bytes).expect("the operating system's random source failed");
    nonce_bytes[0] &= 0x7f;
    nonce_bytes[0] |= 0x01;
    let nonce = Uint::new(&nonce_bytes)?;
    let request = TimeStampReq {
        version: 1,
        message_imprint: imprint.clone(),
        req_policy: None,
        nonce: Some(nonce.clone()),
        cert_req: true,
        extensions: None,
    }
    .to_der()?;
    Ok((request, nonce))
}

/// The token (DER ContentInfo) of a granted TimeStampResp.
///
/// # Errors
/// Not a TimeStampResp; refused; no token.
pub fn granted_token(body: &[u8]) -> Result<Vec<u8>, Error> {
    let response = TimeStampResp::from_der(body).map_err(|_| TransportError::NotTimeStampResp)?;
    let info = response.status;
    if info.status != status::GRANTED && info.status != status::GRANTED_WITH_MODS {
        return Err(Error::Refused {
            status: status::name(info.status),
            fail_info: info.fail_info.as_ref().map(failure::name),
            text: info.status_string.map(|texts| texts.join(" ")),
        });
    }
    Ok(response.time_stamp_token.ok_or(Error::NoToken)?.to_der()?)
}
