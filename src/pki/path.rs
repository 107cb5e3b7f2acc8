//! Certification paths: does a certificate chain up to a trust anchor, every link signed by the
//! next and every certificate valid at a given time? Used for the certificates of external TSAs
//! and for `esignctl selftest`; esignd's own one-time certificates are checked at issuance.

use std::time::SystemTime;

use der::Encode;
use x509_cert::Certificate;

use super::checks;
use super::verify::{VerifyError, verify_certificate};

/// The longest path esignd follows.
const MAX_DEPTH: usize = 8;

/// Why no acceptable path was found.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// A certificate on the path is not valid at the time in question.
    #[error("the certificate '{subject}' is not valid at the time checked ({not_before} to {not_after})")]
    NotValidAt {
        /// Its subject.
        subject: String,
        /// Its notBefore.
        not_before: String,
        /// Its notAfter.
        not_after: String,
    },
    /// No trust anchor or intermediate issued a certificate on the path.
    #[error("no trusted issuer found for '{subject}' (issuer '{issuer}')")]
    NoIssuer {
        /// The certificate without an issuer.
        subject: String,
        /// The issuer it names.
        issuer: String,
    },
    /// A signature on the path does not verify.
    #[error("the signature on '{subject}' does not verify: {source}")]
    Signature {
        /// The certificate.
        subject: String,
        /// Why.
        #[source]
        source: VerifyError,
    },
    /// An intermediate is not a CA.
    #[error(transparent)]
    NotCa(#[from] checks::CertProblem),
    /// The path is longer than esignd follows.
    #[error("the certification path is longer than {MAX_DEPTH} certificates")]
    TooLong,
}

/// Check that `leaf` chains to one of `anchors`, possibly through `intermediates`, with every
/// certificate (anchors included) valid at `at`.
///
/// # Errors
/// [`PathError`] for the first problem on the best path found.
pub fn verify_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    at: SystemTime,
) -> Result<(), PathError> {
    let is_anchor = |cert: &Certificate| {
        let der = cert.to_der().ok();
        anchors.iter().any(|a| a.to_der().ok() == der)
    };
    let mut current = leaf.clone();
    for _ in 0..MAX_DEPTH {
        valid_at(&current, at)?;
        if is_anchor(&current) {
            return Ok(());
        }
        let tbs = current.tbs_certificate();
        let issuer = anchors
            .iter()
            .chain(intermediates)
            .filter(|candidate| candidate.tbs_certificate().subject() == tbs.issuer())
            .find(|candidate| {
                verify_certificate(&current, candidate.tbs_certificate().subject_public_key_info()).is_ok()
            });
        let Some(issuer) = issuer else {
            let subject = tbs.subject().to_string();
            // Say whether the issuer is unknown or its signature fails.
            let named = anchors.iter().chain(intermediates).find(|c| c.tbs_certificate().subject() == tbs.issuer());
            return Err(match named {
                Some(candidate) => PathError::Signature {
                    subject,
                    source: verify_certificate(&current, candidate.tbs_certificate().subject_public_key_info())
                        .expect_err("the search above found no verifying issuer"),
                },
                None => PathError::NoIssuer { subject, issuer: tbs.issuer().to_string() },
            });
        };
        if !is_anchor(issuer) {
            checks::is_ca(issuer)?;
        }
        current = issuer.clone();
    }
    Err(PathError::TooLong)
}

fn valid_at(cert: &Certificate, at: SystemTime) -> Result<(), PathError> {
    let validity = cert.tbs_certificate().validity();
    if validity.not_before.to_system_time() <= at && at <= validity.not_after.to_system_time() {
        Ok(())
    } else {
        Err(PathError::NotValidAt {
            subject: cert.tbs_certificate().subject().to_string(),
            not_before: validity.not_before.to_string(),
            not_after: validity.not_after.to_string(),
        })
    }
}
