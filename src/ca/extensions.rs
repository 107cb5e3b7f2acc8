//! The X.509 extensions esignd puts in certificates, each built once here with its criticality
//! stated where it is built (RFC 5280 §4.2).

use const_oid::AssociatedOid;
use der::Encode;
use der::asn1::OctetString;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};

use crate::hsm::HashAlgorithm;

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> der::Result<Extension> {
    Ok(Extension { extn_id: T::OID, critical, extn_value: OctetString::new(value.to_der()?)? })
}

/// Key identifier of a public key: SHA-256 of the subjectPublicKey bits, truncated to 160 bits
/// (RFC 7093 §2, method 1).
pub fn key_identifier(spki: SubjectPublicKeyInfoRef<'_>) -> Vec<u8> {
    let mut id = HashAlgorithm::Sha256.digest(spki.subject_public_key.raw_bytes());
    id.truncate(20);
    id
}

/// basicConstraints, critical (RFC 5280 §4.2.1.9: MUST be critical in CA certificates).
pub fn basic_constraints(ca: bool, path_len: Option<u8>) -> der::Result<Extension> {
    extension(&BasicConstraints { ca, path_len_constraint: path_len }, true)
}

/// keyUsage, critical.
pub fn key_usage(usages: impl Into<der::flagset::FlagSet<KeyUsages>>) -> der::Result<Extension> {
    extension(&KeyUsage(usages.into()), true)
}

/// extendedKeyUsage id-kp-timeStamping only, critical (RFC 3161 §2.3).
pub fn time_stamping_only() -> der::Result<Extension> {
    extension(&ExtendedKeyUsage(vec![const_oid::db::rfc5912::ID_KP_TIME_STAMPING]), true)
}

/// subjectKeyIdentifier, non-critical.
pub fn subject_key_identifier(id: &[u8]) -> der::Result<Extension> {
    extension(&SubjectKeyIdentifier(OctetString::new(id)?), false)
}

/// authorityKeyIdentifier with a keyIdentifier only, non-critical.
pub fn authority_key_identifier(id: &[u8]) -> der::Result<Extension> {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(id)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    extension(&aki, false)
}
