//! The CA's certificate revocation list (RFC 5280 §5): v2, signed by the CA key in the HSM,
//! with cRLNumber and authorityKeyIdentifier, one entry per revoked or suspended device
//! certificate (reasonCode certificateHold for a suspension, so that reactivation removes the
//! entry). Verified with the CA's public key before it is returned, like every certificate.

use std::time::{Duration, SystemTime};

use der::Encode;
use der::asn1::BitString;
use der::referenced::OwnedToRef;
use signature::Signer as _;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::CrlReason;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::{Certificate, Version};

use super::{Error, Result, extensions};
use crate::hsm::signer::{HsmSignature, HsmSigner};
use crate::hsm::{KeyPair, KeySession};
use crate::pki::verify::verify_message;

/// One certificate the CRL lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    /// Its serial number (the DER INTEGER's bytes, as in the certificate).
    pub serial: Vec<u8>,
    /// When it was revoked or suspended.
    pub since: SystemTime,
    /// `true` for a suspension (certificateHold), `false` for a revocation.
    pub on_hold: bool,
}

/// What one CRL says.
#[derive(Clone, Debug)]
pub struct CrlContents<'a> {
    /// Its cRLNumber, higher than every earlier one.
    pub number: u64,
    /// The certificates it lists.
    pub withheld: &'a [Withheld],
    /// thisUpdate.
    pub this_update: SystemTime,
    /// nextUpdate is this much later.
    pub validity: Duration,
}

/// Build and sign the CRL `contents` as the CA of certificate `ca` (whose subjectKeyIdentifier
/// is `issuer_key_id`, when it has one). Returns the DER CertificateList.
///
/// # Errors
/// HSM and encoding errors; [`Error::SelfCheck`] when the signature does not verify.
pub fn sign_crl<S: KeySession>(
    session: &S,
    ca_key: &KeyPair<S::Handle>,
    ca: &Certificate,
    issuer_key_id: Option<&[u8]>,
    contents: &CrlContents<'_>,
) -> Result<Vec<u8>> {
    let CrlContents { number, withheld, this_update: now, validity } = *contents;
    let signer = HsmSigner::with_default_scheme(session, ca_key);
    let revoked = withheld
        .iter()
        .map(|entry| {
            let reason = if entry.on_hold { CrlReason::CertificateHold } else { CrlReason::Unspecified };
            Ok(RevokedCert {
                serial_number: SerialNumber::<x509_cert::certificate::Rfc5280>::new(&entry.serial)?,
                revocation_date: Time::try_from(entry.since)?,
                crl_entry_extensions: Some(vec![extensions::crl_reason(reason)?]),
            })
        })
        .collect::<der::Result<Vec<_>>>()?;
    let key_id = issuer_key_id
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| extensions::key_identifier(ca.tbs_certificate().subject_public_key_info().owned_to_ref()));
    let tbs = TbsCertList {
        version: Version::V2,
        signature: signer.scheme().algorithm_identifier()?,
        issuer: ca.tbs_certificate().subject().clone(),
        this_update: Time::try_from(now)?,
        next_update: Some(Time::try_from(now + validity)?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(vec![extensions::crl_number(number)?, extensions::authority_key_identifier(&key_id)?]),
    };
    let tbs_der = tbs.to_der()?;
    let signature: HsmSignature = signer
        .try_sign(&tbs_der)
        .map_err(|e| Error::Hsm(crate::hsm::Error::Malformed { what: "CRL signature", detail: e.to_string() }))?;
    verify_message(ca.tbs_certificate().subject_public_key_info(), &tbs.signature, &tbs_der, &signature.0)
        .map_err(Error::SelfCheck)?;
    let list = CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature: BitString::from_bytes(&signature.0)?,
    };
    Ok(list.to_der()?)
}
