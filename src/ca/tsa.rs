//! The built-in TSA's certificate: issued by the HSM CA for the TSA key, end entity, with the
//! critical extendedKeyUsage id-kp-timeStamping and nothing else (RFC 3161 §2.3), never valid
//! longer than the CA certificate.

use x509_cert::Certificate;
use x509_cert::time::Validity;

use super::issue::{Kind, Profile, issue, parse_subject, validity_days};
use super::{Error, Result, chain};
use crate::hsm::{KeyAlgorithm, KeySession};
use crate::pki::checks;

/// Issue and store a certificate for the TSA key `tsa_label` (generated as `algorithm` when
/// missing) from the CA key `ca_label`.
///
/// # Errors
/// [`Error::NoCaCertificate`]; an existing TSA certificate; an unfit CA; HSM errors. A TSA key
/// generated here is destroyed again if the certificate cannot be issued.
pub fn issue_tsa_certificate<S: KeySession>(
    session: &S,
    ca_label: &str,
    tsa_label: &str,
    algorithm: KeyAlgorithm,
    subject: &str,
    days: u32,
    crl_url: Option<&str>,
) -> Result<Certificate> {
    let name = parse_subject(subject)?;
    let requested = validity_days(days)?;
    let ca_chain =
        chain::load(session, ca_label)?.ok_or_else(|| Error::NoCaCertificate { label: ca_label.to_owned() })?;
    let ca_cert = &ca_chain[0];
    let ca_key = session.key(ca_label, None)?;
    checks::certifies(ca_cert, ca_key.public_key())?;
    checks::is_ca(ca_cert)?;
    if session.certificates()?.iter().any(|c| c.label == tsa_label) {
        return Err(Error::Hsm(crate::hsm::Error::ObjectExists { label: tsa_label.to_owned() }));
    }
    let (tsa_key, generated) = match session.find_key(tsa_label, None)? {
        Some(key) => (key, false),
        None => (session.generate_persistent(algorithm, tsa_label)?, true),
    };
    let made = (|| {
        let ca_not_after = ca_cert.tbs_certificate().validity().not_after;
        let not_after = if requested.not_after.to_unix_duration() > ca_not_after.to_unix_duration() {
            ca_not_after
        } else {
            requested.not_after
        };
        let validity = Validity::new(requested.not_before, not_after);
        let profile = Profile {
            kind: Kind::Tsa { crl_url: crl_url.map(str::to_owned) },
            subject: name,
            issuer: ca_cert.tbs_certificate().subject().clone(),
            issuer_key_id: chain::subject_key_id(ca_cert),
            demo: false,
        };
        let certificate = issue(session, &ca_key, profile, validity, tsa_key.public_key().clone())?;
        checks::is_tsa(&certificate)?;
        session.store_certificate(tsa_label, tsa_key.id(), &der::Encode::to_der(&certificate)?)?;
        Ok(certificate)
    })();
    if made.is_err() && generated {
        let _ = session.destroy_key(&tsa_key);
    }
    made
}
