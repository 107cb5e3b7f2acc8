//! `esignctl ca csr`: a PKCS#10 request for a CA key to be certified by another CA (a national
//! root, say). The key is generated in the HSM if it does not exist yet, so the request can be
//! made again with the same key; once the CA has a certificate, no new request is made.

use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::ext::pkix::KeyUsages::{CRLSign, KeyCertSign};
use x509_cert::request::CertReq;

use super::issue::parse_subject;
use super::{Error, Result, chain};
use crate::hsm::signer::{HsmSignature, HsmSigner};
use crate::hsm::{KeyAlgorithm, KeySession};
use crate::pki::verify::verify_message;

/// A CSR for the CA key `label` (generated as `algorithm` if missing) with `subject`, asking for
/// CA basic constraints and keyCertSign/cRLSign.
///
/// # Errors
/// An existing CA certificate; subject and HSM errors; [`Error::SelfCheck`] when the request's
/// signature does not verify.
pub fn ca_csr<S: KeySession>(session: &S, label: &str, algorithm: KeyAlgorithm, subject: &str) -> Result<CertReq> {
    let name = parse_subject(subject)?;
    if chain::load(session, label)?.is_some() {
        return Err(Error::Hsm(crate::hsm::Error::ObjectExists { label: label.to_owned() }));
    }
    let key = match session.find_key(label, None)? {
        Some(key) => key,
        None => session.generate_persistent(algorithm, label)?,
    };
    let signer = HsmSigner::with_default_scheme(session, &key);
    let mut builder = RequestBuilder::new(name)?;
    builder.add_extension(&x509_cert::ext::pkix::BasicConstraints { ca: true, path_len_constraint: Some(0) })?;
    builder.add_extension(&x509_cert::ext::pkix::KeyUsage(KeyCertSign | CRLSign))?;
    let request = builder.build::<_, HsmSignature>(&signer)?;
    let info = der::Encode::to_der(&request.info)?;
    let signature = request.signature.as_bytes().unwrap_or_default();
    verify_message(key.public_key(), &request.algorithm, &info, signature).map_err(Error::SelfCheck)?;
    Ok(request)
}
