//! PKCS#11 attribute templates for the objects esignd creates.
//!
//! Every private key is `CKA_SENSITIVE`, not extractable, and allowed to sign only (no decrypt,
//! derive, unwrap). Ephemeral keys are session objects (`CKA_TOKEN=false`); persistent ones
//! carry a label and a `CKA_ID` shared with their public half and their certificate.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, CertificateType, KeyType, ObjectClass};

use crate::hsm::encoding::ec_params;
use crate::hsm::{KeyAlgorithm, Result};

/// Label and id of a persistent object; `None` for ephemeral keys.
pub struct Naming<'a> {
    /// `CKA_LABEL`.
    pub label: &'a str,
    /// `CKA_ID`.
    pub id: &'a [u8],
}

/// The mechanism and the (public, private) templates to generate a key pair. Public so that the
/// benchmark's raw-cryptoki baseline makes exactly the keys esignd makes.
///
/// # Errors
/// Only if encoding the curve parameters fails.
pub fn key_pair(
    algorithm: KeyAlgorithm,
    naming: Option<Naming<'_>>,
) -> Result<(Mechanism<'static>, Vec<Attribute>, Vec<Attribute>)> {
    let on_token = naming.is_some();
    let mut public = vec![
        Attribute::Token(on_token),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
    ];
    let mut private = vec![
        Attribute::Token(on_token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
        Attribute::Unwrap(false),
    ];
    if let Some(Naming { label, id }) = naming {
        for template in [&mut public, &mut private] {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
            template.push(Attribute::Id(id.to_vec()));
        }
    }
    let mechanism = match algorithm.rsa_bits() {
        Some(bits) => {
            public.push(Attribute::ModulusBits(u64::from(bits).into()));
            public.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
            Mechanism::RsaPkcsKeyPairGen
        }
        None => {
            public.push(Attribute::EcParams(ec_params(algorithm)?));
            Mechanism::EccKeyPairGen
        }
    };
    Ok((mechanism, public, private))
}

/// The template of a persistent HMAC-SHA256 secret (`CKM_GENERIC_SECRET_KEY_GEN`): 256 bits,
/// private, sensitive, never extractable, good for sign and verify only.
pub(crate) fn hmac_secret(label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(32.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

/// The template of an X.509 certificate object: public, unmodifiable, with the subject, issuer
/// and serial PKCS#11 tools index certificates by.
pub(crate) fn certificate(
    label: &str,
    id: &[u8],
    der: &[u8],
    subject: Vec<u8>,
    issuer: Vec<u8>,
    serial: Vec<u8>,
) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Modifiable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Subject(subject),
        Attribute::Issuer(issuer),
        Attribute::SerialNumber(serial),
        Attribute::Value(der.to_vec()),
    ]
}
