//! Is this certificate fit for its job? The checks esignd makes at start-up and when a security
//! officer imports or provisions certificates: a CA certificate is a CA, a TSA certificate has
//! the critical timeStamping EKU and nothing else (RFC 3161 §2.3), and each certificate
//! certifies the key it is stored beside.

use const_oid::AssociatedOid;
use const_oid::db::rfc5912;
use der::Encode;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

/// Why a certificate is not fit for its purpose.
#[derive(Debug, thiserror::Error)]
pub enum CertProblem {
    /// The certificate's public key is not the key it is stored with.
    #[error("the certificate '{subject}' certifies a different public key than the HSM key it belongs to")]
    WrongKey {
        /// Subject of the certificate.
        subject: String,
    },
    /// A CA certificate without `basicConstraints cA=TRUE` or without `keyCertSign`.
    #[error("the certificate '{subject}' is not a CA certificate ({missing})")]
    NotCa {
        /// Subject of the certificate.
        subject: String,
        /// What is missing.
        missing: &'static str,
    },
    /// A TSA certificate whose EKU is not exactly a critical id-kp-timeStamping.
    #[error("the certificate '{subject}' is not a TSA certificate: {reason} (RFC 3161 §2.3)")]
    NotTsa {
        /// Subject of the certificate.
        subject: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An extension could not be decoded.
    #[error("the certificate '{subject}' has a malformed extension: {source}")]
    Malformed {
        /// Subject of the certificate.
        subject: String,
        /// The decoding error.
        #[source]
        source: der::Error,
    },
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate().subject().to_string()
}

fn malformed(cert: &Certificate) -> impl FnOnce(der::Error) -> CertProblem + '_ {
    move |source| CertProblem::Malformed { subject: subject(cert), source }
}

/// The certificate certifies `key`.
///
/// # Errors
/// [`CertProblem::WrongKey`].
pub fn certifies(cert: &Certificate, key: &SubjectPublicKeyInfoOwned) -> Result<(), CertProblem> {
    let ours = cert.tbs_certificate().subject_public_key_info().to_der().map_err(malformed(cert))?;
    let theirs = key.to_der().map_err(malformed(cert))?;
    if ours == theirs { Ok(()) } else { Err(CertProblem::WrongKey { subject: subject(cert) }) }
}

/// The certificate is a CA certificate: basicConstraints cA=TRUE and keyUsage keyCertSign
/// (RFC 5280 §4.2.1.9, §4.2.1.3).
///
/// # Errors
/// [`CertProblem::NotCa`].
pub fn is_ca(cert: &Certificate) -> Result<(), CertProblem> {
    let tbs = cert.tbs_certificate();
    let not_ca = |missing| CertProblem::NotCa { subject: subject(cert), missing };
    match tbs.get_extension::<BasicConstraints>().map_err(malformed(cert))? {
        Some((_, bc)) if bc.ca => {}
        _ => return Err(not_ca("basicConstraints cA is not TRUE")),
    }
    match tbs.get_extension::<KeyUsage>().map_err(malformed(cert))? {
        Some((_, ku)) if ku.0.contains(KeyUsages::KeyCertSign) => Ok(()),
        _ => Err(not_ca("keyUsage lacks keyCertSign")),
    }
}

/// The CA certificate may sign CRLs (keyUsage cRLSign): device certificates name esignd's CRL,
/// and a validator rejects a CRL signed by a CA without it.
///
/// # Errors
/// [`CertProblem::NotCa`].
pub fn signs_crls(cert: &Certificate) -> Result<(), CertProblem> {
    match cert.tbs_certificate().get_extension::<KeyUsage>().map_err(malformed(cert))? {
        Some((_, ku)) if ku.0.contains(KeyUsages::CRLSign) => Ok(()),
        _ => Err(CertProblem::NotCa {
            subject: subject(cert),
            missing: "keyUsage lacks cRLSign, which the CRL of device certificates needs; have the CA certified again with cRLSign",
        }),
    }
}

/// The certificate may sign timestamps: its extendedKeyUsage is present, critical, and holds
/// id-kp-timeStamping only (RFC 3161 §2.3).
///
/// # Errors
/// [`CertProblem::NotTsa`].
pub fn is_tsa(cert: &Certificate) -> Result<(), CertProblem> {
    let not_tsa = |reason| CertProblem::NotTsa { subject: subject(cert), reason };
    let extension = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|ext| ext.extn_id == ExtendedKeyUsage::OID)
        .ok_or_else(|| not_tsa("it has no extendedKeyUsage"))?;
    if !extension.critical {
        return Err(not_tsa("its extendedKeyUsage is not critical"));
    }
    let eku: ExtendedKeyUsage = der::Decode::from_der(extension.extn_value.as_bytes()).map_err(malformed(cert))?;
    if eku.0 != [rfc5912::ID_KP_TIME_STAMPING] {
        return Err(not_tsa("its extendedKeyUsage is not exactly id-kp-timeStamping"));
    }
    Ok(())
}
