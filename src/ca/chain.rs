//! The CA chain on the token: the CA certificate under the CA key's label and `CKA_ID`, and the
//! certificates above it (for a CA certified elsewhere) under `<label>-chain-1`, `-2`, ...
//!
//! `esignctl ca import --chain FILE` checks a chain before storing any of it: one certificate
//! must certify the CA key in the HSM and be a CA certificate, and each certificate must be
//! signed by the next one. An existing CA certificate is never replaced.

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

use super::{Error, Result};
use crate::hsm::{KeySession, StoredCertificate};
use crate::pki::{checks, pem, verify::verify_certificate};

fn issuer_label(label: &str, n: usize) -> String {
    format!("{label}-chain-{n}")
}

/// The CA chain stored for the CA key `label`, CA certificate first; `None` when the CA has no
/// certificate.
///
/// # Errors
/// HSM errors; a stored certificate that does not decode.
pub fn load<S: KeySession>(session: &S, label: &str) -> Result<Option<Vec<Certificate>>> {
    let stored = session.certificates()?;
    let find = |wanted: &str| stored.iter().find(|c: &&StoredCertificate| c.label == wanted);
    let Some(ca) = find(label) else { return Ok(None) };
    let mut chain = vec![Certificate::from_der(&ca.der)?];
    for n in 1.. {
        match find(&issuer_label(label, n)) {
            Some(cert) => chain.push(Certificate::from_der(&cert.der)?),
            None => break,
        }
    }
    Ok(Some(chain))
}

/// Store `chain` (CA certificate first) for the CA key `label` with `CKA_ID` `key_id`. Every
/// label is checked to be free before anything is written.
///
/// # Errors
/// [`crate::hsm::Error::ObjectExists`] (wrapped) when any of the labels is taken.
pub(crate) fn store<S: KeySession>(session: &S, label: &str, key_id: &[u8], chain: &[Certificate]) -> Result<()> {
    let labels: Vec<String> =
        (0..chain.len()).map(|n| if n == 0 { label.to_owned() } else { issuer_label(label, n) }).collect();
    let taken = session.certificates()?;
    if let Some(clash) = labels.iter().find(|l| taken.iter().any(|c| &&c.label == l)) {
        return Err(Error::Hsm(crate::hsm::Error::ObjectExists { label: clash.clone() }));
    }
    for (n, (cert, cert_label)) in chain.iter().zip(&labels).enumerate() {
        let id = if n == 0 { key_id.to_vec() } else { subject_key_id(cert).unwrap_or_default() };
        session.store_certificate(cert_label, &id, &cert.to_der()?)?;
    }
    Ok(())
}

/// Check and store a CA chain signed elsewhere for the CA key `label`; returns it ordered CA
/// certificate first. Certificates in the file that are not on the path from the CA
/// certificate upwards are ignored.
///
/// # Errors
/// [`Error::ChainWithoutKey`], [`Error::Unfit`], [`Error::ChainBroken`], an existing CA
/// certificate, HSM errors. Nothing is stored unless every check passes.
pub fn import<S: KeySession>(session: &S, label: &str, pem_text: &[u8]) -> Result<Vec<Certificate>> {
    if load(session, label)?.is_some() {
        return Err(Error::Hsm(crate::hsm::Error::ObjectExists { label: label.to_owned() }));
    }
    let key = session.key(label, None)?;
    let mut pool = pem::read_chain(pem_text)?;
    let position = pool
        .iter()
        .position(|cert| checks::certifies(cert, key.public_key()).is_ok())
        .ok_or_else(|| Error::ChainWithoutKey { label: label.to_owned() })?;
    let mut chain = vec![pool.remove(position)];
    checks::is_ca(&chain[0])?;
    checks::signs_crls(&chain[0])?;
    loop {
        let current = chain.last().expect("the chain starts with the CA certificate");
        let tbs = current.tbs_certificate();
        if tbs.issuer() == tbs.subject() {
            break;
        }
        match pool.iter().position(|cert| cert.tbs_certificate().subject() == tbs.issuer()) {
            Some(i) => chain.push(pool.remove(i)),
            None => break, // the rest of the path is known to relying parties, not to us
        }
    }
    for pair in chain.windows(2) {
        let (child, parent) = (&pair[0], &pair[1]);
        verify_certificate(child, parent.tbs_certificate().subject_public_key_info()).map_err(|reason| {
            Error::ChainBroken {
                child: child.tbs_certificate().subject().to_string(),
                parent: parent.tbs_certificate().subject().to_string(),
                reason,
            }
        })?;
    }
    store(session, label, key.id(), &chain)?;
    Ok(chain)
}

/// The subjectKeyIdentifier of a certificate, if it has one.
pub(crate) fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    let (_, ski) = cert.tbs_certificate().get_extension::<SubjectKeyIdentifier>().ok()??;
    Some(ski.0.as_bytes().to_vec())
}
