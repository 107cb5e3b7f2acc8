//! The X.509 extensions esignd puts in certificates, each built once here with its criticality
//! stated where it is built (RFC 5280 §4.2).

use const_oid::{AssociatedOid, ObjectIdentifier};
use der::Encode;
use der::asn1::{Ia5String, Null, OctetString};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
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

/// The policy of everything the demo profile issues, and the mark of a CA made by `esignctl
/// provision --dev`: an OID under the enterprise number RFC 5612 reserves for documentation
/// (32473), so that no relying party can mistake it for a real policy.
pub const ID_ESIGND_DEMO_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.4713.1");

/// certificatePolicies naming only `policy`, non-critical.
pub fn certificate_policy(policy: ObjectIdentifier) -> der::Result<Extension> {
    let information = PolicyInformation { policy_identifier: policy, policy_qualifiers: None };
    extension(&CertificatePolicies(vec![information]), false)
}

/// Whether `certificate` names `policy` in its certificatePolicies.
pub fn has_policy(certificate: &x509_cert::Certificate, policy: ObjectIdentifier) -> bool {
    matches!(
        certificate.tbs_certificate().get_extension::<CertificatePolicies>(),
        Ok(Some((_, policies))) if policies.0.iter().any(|p| p.policy_identifier == policy)
    )
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

/// ETSI EN 319 412-1 §5.2 `id-etsi-ext-valassured-ST-certs`: the certificate is short-term and
/// its validity is assured without revocation information.
pub const ID_ETSI_EXT_VALASSURED_ST_CERTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.194121.2.1");

/// RFC 9608 `id-ce-noRevAvail`: no revocation information will be published for it.
pub const ID_CE_NO_REV_AVAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.56");

/// An extension whose value is NULL, non-critical (both of the above are defined so).
pub fn null_extension(oid: ObjectIdentifier) -> der::Result<Extension> {
    Ok(Extension { extn_id: oid, critical: false, extn_value: OctetString::new(Null.to_der()?)? })
}

/// authorityInfoAccess with one caIssuers URI, non-critical (RFC 5280 §4.2.2.1).
pub fn ca_issuers(url: &str) -> der::Result<Extension> {
    let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: const_oid::db::rfc5280::ID_AD_CA_ISSUERS,
        access_location: GeneralName::UniformResourceIdentifier(Ia5String::new(url)?),
    }]);
    extension(&aia, false)
}

/// cRLDistributionPoints with one full-name URI, non-critical (RFC 5280 §4.2.1.13).
pub fn crl_distribution_point(url: &str) -> der::Result<Extension> {
    use x509_cert::ext::pkix::crl::CrlDistributionPoints;
    use x509_cert::ext::pkix::crl::dp::DistributionPoint;
    use x509_cert::ext::pkix::name::DistributionPointName;
    let point = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![GeneralName::UniformResourceIdentifier(
            Ia5String::new(url)?,
        )])),
        reasons: None,
        crl_issuer: None,
    };
    extension(&CrlDistributionPoints(vec![point]), false)
}

/// cRLNumber, non-critical (RFC 5280 §5.2.3).
pub fn crl_number(number: u64) -> der::Result<Extension> {
    let number = x509_cert::ext::pkix::CrlNumber(der::asn1::Uint::new(&number.to_be_bytes())?);
    extension(&number, false)
}

/// The reasonCode CRL entry extension, non-critical (RFC 5280 §5.3.1).
pub fn crl_reason(reason: x509_cert::ext::pkix::CrlReason) -> der::Result<Extension> {
    extension(&reason, false)
}
