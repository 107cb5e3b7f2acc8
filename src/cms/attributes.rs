//! The CMS attributes esignd writes and reads (RFC 5652 §11, ETSI EN 319 122-1 §5.2).

use std::time::SystemTime;

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc3161, rfc5911};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::time::Time;

use super::Error;
use super::ess::{EssCertIdV2, IssuerSerial, SigningCertificateV2};
use crate::hsm::HashAlgorithm;

fn attribute(oid: ObjectIdentifier, value: &impl Encode) -> Result<Attribute, Error> {
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&value.to_der()?)?)?;
    Ok(Attribute { oid, values })
}

/// content-type (RFC 5652 §11.1).
pub fn content_type(oid: ObjectIdentifier) -> Result<Attribute, Error> {
    attribute(rfc5911::ID_CONTENT_TYPE, &oid)
}

/// message-digest (RFC 5652 §11.2): the digest of the content, as given by the caller.
pub fn message_digest(digest: &[u8]) -> Result<Attribute, Error> {
    attribute(rfc5911::ID_MESSAGE_DIGEST, &OctetString::new(digest)?)
}

/// signing-time (RFC 5652 §11.3): UTCTime through 2049, GeneralizedTime after.
pub fn signing_time(at: SystemTime) -> Result<Attribute, Error> {
    attribute(rfc5911::ID_SIGNING_TIME, &Time::try_from(at)?)
}

/// signing-certificate-v2 (RFC 5035) naming `cert` by its SHA-256 and issuer/serial.
pub fn signing_certificate_v2(cert: &Certificate) -> Result<Attribute, Error> {
    let tbs = cert.tbs_certificate();
    let id = EssCertIdV2 {
        hash_algorithm: None, // SHA-256, the DEFAULT
        cert_hash: OctetString::new(HashAlgorithm::Sha256.digest(&cert.to_der()?))?,
        issuer_serial: Some(IssuerSerial {
            issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
            serial_number: tbs.serial_number().clone(),
        }),
    };
    attribute(rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2, &SigningCertificateV2 { certs: vec![id], policies: None })
}

/// signature-time-stamp (RFC 3161 Appendix A, id-aa-timeStampToken): an unsigned attribute
/// holding a TimeStampToken (a DER ContentInfo) over the signature value.
pub fn signature_time_stamp(token_der: &[u8]) -> Result<Attribute, Error> {
    attribute(rfc3161::ID_AA_TIME_STAMP_TOKEN, &Any::from_der(token_der)?)
}

/// A set of attributes (SET OF, DER-sorted).
pub fn set(attributes: impl IntoIterator<Item = Attribute>) -> Result<Attributes, Error> {
    let mut set = SetOfVec::new();
    for attribute in attributes {
        set.insert(attribute)?;
    }
    Ok(set)
}

/// The single value of attribute `oid`, if present exactly once with one value.
///
/// # Errors
/// [`Error::Attribute`] when it appears more than once or with several values.
pub fn single(attributes: &Attributes, oid: ObjectIdentifier) -> Result<Option<&Any>, Error> {
    let mut found = attributes.iter().filter(|a| a.oid == oid);
    let Some(attribute) = found.next() else { return Ok(None) };
    if found.next().is_some() || attribute.values.len() != 1 {
        return Err(Error::Attribute { oid, problem: "must appear once with one value" });
    }
    Ok(attribute.values.iter().next())
}
