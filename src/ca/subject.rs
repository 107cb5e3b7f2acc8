//! Subjects of one-time certificates, built attribute by attribute from an [`Identity`].
//!
//! Building the RDNs directly (never through an RFC 4514 string) means a name like
//! `Doe, Jane+"X"` cannot be misparsed into extra attributes: each value lands in exactly one
//! attribute. Values are UTF8String, except countryName and serialNumber, which X.520 defines
//! as PrintableString (RFC 5280 Appendix A); a subject id outside PrintableString's alphabet
//! falls back to UTF8String rather than being altered.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::{Any, Decode, Encode, Tag};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::identity::Identity;

/// Subject attributes that come from configuration rather than from the signer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectTemplate {
    /// countryName (two letters).
    pub country: Option<String>,
    /// organizationName.
    pub organization: Option<String>,
}

/// `C, O, CN = name, serialNumber = subject id`, in that order.
///
/// # Errors
/// Only if a value cannot be DER-encoded (an invalid country code was refused by validation).
pub fn one_time_subject(identity: &Identity, template: &SubjectTemplate) -> der::Result<Name> {
    let mut rdns = Vec::new();
    if let Some(country) = &template.country {
        rdns.push(rdn(rfc4519::COUNTRY_NAME, printable(country)?)?);
    }
    if let Some(organization) = &template.organization {
        rdns.push(rdn(rfc4519::ORGANIZATION_NAME, utf8(organization)?)?);
    }
    rdns.push(rdn(rfc4519::COMMON_NAME, utf8(identity.name())?)?);
    let serial = printable(identity.subject_id()).or_else(|_| utf8(identity.subject_id()))?;
    rdns.push(rdn(rfc4519::SERIAL_NUMBER, serial)?);
    Name::from_der(&RdnSequence::from(rdns).to_der()?)
}

fn rdn(oid: ObjectIdentifier, value: Any) -> der::Result<RelativeDistinguishedName> {
    RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid, value }])
}

fn utf8(value: &str) -> der::Result<Any> {
    Any::new(Tag::Utf8String, Utf8StringRef::new(value)?.as_bytes())
}

fn printable(value: &str) -> der::Result<Any> {
    Any::new(Tag::PrintableString, PrintableStringRef::new(value)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Tagged;

    #[test]
    fn special_characters_stay_inside_their_attribute() {
        let identity = Identity::new("Doe, Jane+\"X\"=1", "PNOEE-38001085718").unwrap();
        let template = SubjectTemplate { country: Some("EE".into()), organization: Some("Ämt".into()) };
        let name = one_time_subject(&identity, &template).unwrap();
        let atvs: Vec<_> = name.iter().collect();
        assert_eq!(atvs.len(), 4);
        assert_eq!(atvs[2].oid, rfc4519::COMMON_NAME);
        assert_eq!(atvs[2].value.tag(), Tag::Utf8String);
        assert_eq!(atvs[2].value.value(), "Doe, Jane+\"X\"=1".as_bytes());
        assert_eq!(atvs[3].value.tag(), Tag::PrintableString);
        assert_eq!(atvs[0].value.tag(), Tag::PrintableString);
    }

    #[test]
    fn subject_ids_outside_printable_string_keep_their_characters() {
        let identity = Identity::new("Jane", "user_42@idp").unwrap();
        let name = one_time_subject(&identity, &SubjectTemplate::default()).unwrap();
        let serial = name.iter().last().unwrap();
        assert_eq!(serial.value.tag(), Tag::Utf8String);
        assert_eq!(serial.value.value(), b"user_42@idp");
    }
}
