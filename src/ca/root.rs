//! The self-signed root: `esignctl ca create-root` and `esignctl provision --dev`.
//!
//! The CA key is generated in the HSM as a persistent, non-extractable key and the certificate
//! is stored beside it under the same label and `CKA_ID`. An existing CA key or certificate is
//! never overwritten.

use x509_cert::Certificate;

use super::chain;
use super::issue::{Kind, Profile, issue, parse_subject, validity_days};
use super::{Error, Result};
use crate::hsm::{KeyAlgorithm, KeySession};

/// Generate the CA key `label`, self-sign a CA certificate for `subject` valid `days` days,
/// and store it on the token. A `demo` root (`esignctl provision --dev`) carries the demo
/// policy: the demo profile signs only under such a CA, and relying parties can tell.
///
/// # Errors
/// [`crate::hsm::Error::ObjectExists`] (wrapped) when the CA key or a certificate labelled
/// `label` exists; subject, validity, HSM errors. On any failure after the key was generated,
/// the key is destroyed again, so a failed ceremony leaves nothing half-made.
pub fn create_root<S: KeySession>(
    session: &S,
    label: &str,
    algorithm: KeyAlgorithm,
    subject: &str,
    days: u32,
    demo: bool,
) -> Result<Certificate> {
    let name = parse_subject(subject)?;
    let validity = validity_days(days)?;
    if chain::load(session, label)?.is_some() {
        return Err(Error::Hsm(crate::hsm::Error::ObjectExists { label: label.to_owned() }));
    }
    let key = session.generate_persistent(algorithm, label)?;
    let made = (|| {
        let profile = Profile { kind: Kind::Root, subject: name.clone(), issuer: name, issuer_key_id: None, demo };
        let certificate = issue(session, &key, profile, validity, key.public_key().clone())?;
        chain::store(session, label, key.id(), std::slice::from_ref(&certificate))?;
        Ok(certificate)
    })();
    if made.is_err() {
        let _ = session.destroy_key(&key);
    }
    made
}
