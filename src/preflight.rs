//! The start-up check: before esignd serves anything, every persistent object it needs is on
//! the token and fit for purpose. The CA certificate certifies the CA key and is a CA; the TSA
//! certificate certifies the TSA key, has the critical timeStamping EKU only, and is signed by
//! the CA; the service key exists. The CA certificate may sign CRLs (device certificates name
//! esignd's CRL). Every one of these keys is `CKA_SENSITIVE`, `CKA_NEVER_EXTRACTABLE` and
//! `CKA_ALWAYS_SENSITIVE`: made on the token and never out of it. `esignctl provision --dev`
//! runs the same check after it has made things, and the daemon refuses to start when it
//! fails.

use x509_cert::Certificate;

use crate::ca::{self, chain};
use crate::config::KeyLabels;
use crate::hsm::encoding::spki_fingerprint;
use crate::hsm::{KeyPair, KeySession};
use crate::pki::{checks, verify::verify_certificate};

/// The persistent objects the daemon works with, checked.
pub struct Inventory<S: KeySession> {
    /// The CA key.
    pub ca_key: KeyPair<S::Handle>,
    /// The CA chain, CA certificate first.
    pub ca_chain: Vec<Certificate>,
    /// The TSA key.
    pub tsa_key: KeyPair<S::Handle>,
    /// The TSA certificate.
    pub tsa_certificate: Certificate,
    /// The service key (session tokens, webhooks).
    pub service_key: KeyPair<S::Handle>,
    /// The audit key (signs the audit chain's checkpoints).
    pub audit_key: KeyPair<S::Handle>,
    /// The audit subject secret (HMAC of subject ids in the audit).
    pub audit_subject: S::Secret,
}

impl<S: KeySession> Inventory<S> {
    /// One line per object for the start-up log: labels and public-key fingerprints only.
    pub fn summary(&self) -> Vec<(String, String)> {
        [&self.ca_key, &self.tsa_key, &self.service_key, &self.audit_key]
            .into_iter()
            .map(|key| {
                let fingerprint = spki_fingerprint(key.public_key()).unwrap_or_else(|_| "?".into());
                (key.label().to_owned(), format!("{} sha256:{fingerprint}", key.algorithm()))
            })
            .collect()
    }
}

/// Find and check every persistent object named in `labels`.
///
/// # Errors
/// The first missing or unfit object, with what to run to fix it.
pub fn check<S: KeySession>(session: &S, labels: &KeyLabels) -> ca::Result<Inventory<S>> {
    let ca_key = session.key(&labels.ca, None)?;
    let ca_chain =
        chain::load(session, &labels.ca)?.ok_or_else(|| ca::Error::NoCaCertificate { label: labels.ca.clone() })?;
    checks::certifies(&ca_chain[0], ca_key.public_key())?;
    checks::is_ca(&ca_chain[0])?;
    checks::signs_crls(&ca_chain[0])?;
    protected(session, &ca_key)?;

    let tsa_key = session.key(&labels.tsa, None)?;
    let tsa_certificate = certificate_of(session, &labels.tsa)?;
    checks::certifies(&tsa_certificate, tsa_key.public_key())?;
    checks::is_tsa(&tsa_certificate)?;
    protected(session, &tsa_key)?;
    verify_certificate(&tsa_certificate, ca_key.public_key()).map_err(|reason| ca::Error::ChainBroken {
        child: tsa_certificate.tbs_certificate().subject().to_string(),
        parent: ca_chain[0].tbs_certificate().subject().to_string(),
        reason,
    })?;

    let service_key = session.key(&labels.service, None)?;
    protected(session, &service_key)?;

    let audit_key =
        session.find_key(&labels.audit, None)?.ok_or_else(|| ca::Error::NoAuditKey { label: labels.audit.clone() })?;
    protected(session, &audit_key)?;
    let audit_subject = session
        .find_secret(&labels.audit_subject)?
        .ok_or_else(|| ca::Error::NoAuditKey { label: labels.audit_subject.clone() })?;
    session.hmac_sha256(&audit_subject, b"esignd preflight")?;
    Ok(Inventory { ca_key, ca_chain, tsa_key, tsa_certificate, service_key, audit_key, audit_subject })
}

/// Make the audit keys that are missing: the checkpoint key pair (`labels.audit`, `algorithm`)
/// and the subject secret (`labels.audit_subject`). What each label got, in that order.
///
/// # Errors
/// HSM errors.
pub fn make_audit_keys<S: KeySession>(
    session: &S,
    labels: &KeyLabels,
    algorithm: crate::hsm::KeyAlgorithm,
) -> ca::Result<[(String, bool); 2]> {
    let pair = session.find_key(&labels.audit, None)?.is_none();
    if pair {
        session.generate_persistent(algorithm, &labels.audit)?;
    }
    let secret = session.find_secret(&labels.audit_subject)?.is_none();
    if secret {
        session.generate_secret(&labels.audit_subject)?;
    }
    Ok([(labels.audit.clone(), pair), (labels.audit_subject.clone(), secret)])
}

/// The key never left the HSM.
fn protected<S: KeySession>(session: &S, key: &KeyPair<S::Handle>) -> ca::Result<()> {
    match session.protection(key)?.missing() {
        None => Ok(()),
        Some(missing) => Err(ca::Error::KeyExposed { label: key.label().to_owned(), missing }),
    }
}

/// The certificate stored under `label`.
fn certificate_of<S: KeySession>(session: &S, label: &str) -> ca::Result<Certificate> {
    let stored = session.certificates()?;
    let cert = stored
        .iter()
        .find(|c| c.label == label)
        .ok_or_else(|| ca::Error::MissingCertificate { label: label.to_owned() })?;
    Ok(der::Decode::from_der(&cert.der)?)
}
