//! `esignctl provision --dev`: make everything the daemon needs on an initialised token, and
//! nothing twice.
//!
//! Each object is made only if it is missing: a self-signed CA (key + certificate), a TSA key
//! with a certificate from that CA (critical timeStamping EKU only), and the service key.
//! Running it again changes nothing. The result is checked with [`crate::preflight::check`],
//! the same check the daemon makes at start-up.

use crate::ca::{self, chain, root, tsa};
use crate::config::KeyLabels;
use crate::hsm::{KeyAlgorithm, KeySession};
use crate::preflight::{self, Inventory};

/// What a development token gets.
#[derive(Clone, Debug)]
pub struct DevPlan {
    /// Subject of the self-signed CA.
    pub ca_subject: String,
    /// Days the CA certificate is valid.
    pub ca_days: u32,
    /// Subject of the TSA certificate.
    pub tsa_subject: String,
    /// Days the TSA certificate is valid (at most as long as the CA's).
    pub tsa_days: u32,
    /// Algorithm of the CA, TSA and service keys.
    pub algorithm: KeyAlgorithm,
    /// The CA's CRL URL, named in the TSA certificate (`{public_url}/v1/crl`).
    pub crl_url: Option<String>,
}

impl Default for DevPlan {
    fn default() -> Self {
        Self {
            ca_subject: "CN=esignd Development Root CA,O=esignd development,C=XX".to_owned(),
            ca_days: 3650,
            tsa_subject: "CN=esignd Development TSA,O=esignd development,C=XX".to_owned(),
            tsa_days: 1825,
            algorithm: KeyAlgorithm::P256,
            crl_url: None,
        }
    }
}

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was made now.
    Created,
    /// It was there already and was left alone.
    Present,
}

/// What happened to each object, by label, in the order they were handled.
pub type Report = Vec<(String, Outcome)>;

/// Make what is missing, then check everything.
///
/// # Errors
/// A CA key without a certificate (made by `esignctl ca csr`: import its certificate instead);
/// HSM and CA errors; the final check's findings.
pub fn provision_dev<S: KeySession>(
    session: &S,
    labels: &KeyLabels,
    plan: &DevPlan,
) -> ca::Result<(Report, Inventory<S>)> {
    let mut report = Vec::new();

    let ca = if chain::load(session, &labels.ca)?.is_some() {
        Outcome::Present
    } else if session.find_key(&labels.ca, None)?.is_some() {
        return Err(ca::Error::NoCaCertificate { label: labels.ca.clone() });
    } else {
        root::create_root(session, &labels.ca, plan.algorithm, &plan.ca_subject, plan.ca_days, true)?;
        Outcome::Created
    };
    report.push((labels.ca.clone(), ca));

    let has_tsa_certificate = session.certificates()?.iter().any(|c| c.label == labels.tsa);
    let tsa = if has_tsa_certificate {
        Outcome::Present
    } else {
        tsa::issue_tsa_certificate(
            session,
            &labels.ca,
            &labels.tsa,
            plan.algorithm,
            &plan.tsa_subject,
            plan.tsa_days,
            plan.crl_url.as_deref(),
        )?;
        Outcome::Created
    };
    report.push((labels.tsa.clone(), tsa));

    let service = if session.find_key(&labels.service, None)?.is_some() {
        Outcome::Present
    } else {
        session.generate_persistent(plan.algorithm, &labels.service)?;
        Outcome::Created
    };
    report.push((labels.service.clone(), service));

    for (label, made) in preflight::make_audit_keys(session, labels, plan.algorithm)? {
        report.push((label, if made { Outcome::Created } else { Outcome::Present }));
    }

    Ok((report, preflight::check(session, labels)?))
}
