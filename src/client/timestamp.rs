//! Document time-stamps (PAdES B-LTA): a `/DocTimeStamp` field prepared over the whole file,
//! its digest time-stamped by an RFC 3161 TSA (esignd's `/tsa`, or another), the token checked
//! against the digest, the nonce and the trust anchors, then filled in.

use std::time::Duration;

use der::asn1::OctetString;
use hyper::Method;
use hyper::header::CONTENT_TYPE;
use x509_cert::Certificate;

use super::ClientError;
use super::pdf::{self, Evidence, Kind, PrepareOptions};
use crate::outbound::HttpClient;
use crate::tsa::asn1::MessageImprint;
use crate::tsa::client::{granted_token, request_for};
use crate::tsa::verify::verify_token;

/// Bytes reserved for a time-stamp token (with its TSA certificate).
const TOKEN_RESERVE: usize = 12 * 1024;

/// `pdf` (signed) made PAdES B-LTA, in place: the evidence in its DSS, then a document time-stamp from
/// the TSA at `tsa_url` whose certificate chains to one of `anchors`.
///
/// # Errors
/// [`ClientError`]: the PDF, the TSA's answer, a token that does not verify.
pub async fn make_lta(
    mut pdf: Vec<u8>,
    evidence: &Evidence,
    tsa_url: &str,
    anchors: &[Certificate],
) -> Result<Vec<u8>, ClientError> {
    // Every step appends to the one copy of the document.
    pdf.reserve(64 * 1024 + 2 * TOKEN_RESERVE);
    pdf::add_dss(&mut pdf, evidence)?;
    let options = PrepareOptions { kind: Kind::DocTimeStamp, reserve: TOKEN_RESERVE, ..PrepareOptions::default() };
    let prepared = pdf::prepare_appending(&mut pdf, &options)?;
    let mut stamped = pdf;
    let imprint = MessageImprint {
        hash_algorithm: prepared.hash.algorithm_identifier(),
        hashed_message: OctetString::new(prepared.digest.clone()).map_err(|e| ClientError::Tsa(e.to_string()))?,
    };
    let (request, nonce) = request_for(&imprint).map_err(|e| ClientError::Tsa(e.to_string()))?;
    let headers = [(CONTENT_TYPE, "application/timestamp-query".to_owned())];
    let response = HttpClient::new()
        .send(Method::POST, tsa_url, &headers, request, Duration::from_secs(30))
        .await
        .map_err(|e| ClientError::Tsa(e.to_string()))?;
    if !response.status.is_success() {
        return Err(ClientError::Tsa(format!("{tsa_url} answered {}", response.status.as_u16())));
    }
    let token = granted_token(&response.body).map_err(|e| ClientError::Tsa(e.to_string()))?;
    verify_token(&token, &imprint, Some(&nonce), anchors).map_err(|e| ClientError::Tsa(e.to_string()))?;
    pdf::fill(&mut stamped, prepared.byte_range, &token)?;
    Ok(stamped)
}
