//! The byte shapes PKCS#11 speaks and the byte shapes X.509 and CMS expect, and the conversions
//! between them.
//!
//! - `CKM_ECDSA` returns `r‖s`; certificates and CMS carry `Ecdsa-Sig-Value` in DER.
//! - `CKM_RSA_PKCS` signs whatever it is given; RSASSA-PKCS1-v1_5 needs a `DigestInfo`.
//! - `CKA_EC_POINT` is usually a DER OCTET STRING around the point; some modules return it raw.
//! - Public keys leave the token as `CKA_EC_POINT`/`CKA_MODULUS`; everybody else wants a
//!   `SubjectPublicKeyInfo`.

use der::asn1::{BitString, Null, OctetStringRef, UintRef};
use der::{Any, Decode, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::{Error, HashAlgorithm, KeyAlgorithm, Result};
use const_oid::db::rfc5912;

/// ```text
/// Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
/// ```
/// RFC 3279 §2.2.3.
#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// Turn a PKCS#11 ECDSA signature (`r‖s`, each `field_len` bytes) into DER `Ecdsa-Sig-Value`.
///
/// # Errors
/// `Malformed` when the input is not exactly two field elements.
pub fn ecdsa_raw_to_der(raw: &[u8], field_len: usize) -> Result<Vec<u8>> {
    if raw.len() != 2 * field_len {
        return Err(Error::Malformed {
            what: "ECDSA signature",
            detail: format!("{} bytes, expected {}", raw.len(), 2 * field_len),
        });
    }
    let (r, s) = raw.split_at(field_len);
    let value = EcdsaSigValue { r: UintRef::new(r)?, s: UintRef::new(s)? };
    Ok(value.to_der()?)
}

/// ```text
/// DigestInfo ::= SEQUENCE {
///     digestAlgorithm DigestAlgorithmIdentifier,
///     digest          OCTET STRING }
/// ```
/// RFC 8017 §9.2 step 2; the algorithm parameters are NULL as in the RFC's Note 1 prefixes.
#[derive(Sequence)]
struct DigestInfo<'a> {
    digest_algorithm: AlgorithmIdentifierOwned,
    digest: &'a OctetStringRef,
}

/// The DER `DigestInfo` that `CKM_RSA_PKCS` must sign for RSASSA-PKCS1-v1_5.
///
/// # Errors
/// Only on a DER encoding failure.
pub fn digest_info(hash: HashAlgorithm, digest: &[u8]) -> Result<Vec<u8>> {
    let info = DigestInfo {
        digest_algorithm: AlgorithmIdentifierOwned { oid: hash.oid(), parameters: Some(Any::from(Null)) },
        digest: OctetStringRef::new(digest)?,
    };
    Ok(info.to_der()?)
}

/// The uncompressed point inside `CKA_EC_POINT`, accepting both the DER-wrapped form the
/// PKCS#11 specification requires and the raw form some modules return.
///
/// # Errors
/// `Malformed` when neither reading gives an uncompressed point of the curve's size.
pub fn ec_point(cka_ec_point: &[u8], field_len: usize) -> Result<Vec<u8>> {
    let want = 1 + 2 * field_len;
    let is_point = |p: &[u8]| p.len() == want && p[0] == 0x04;
    if let Ok(inner) = <&OctetStringRef>::from_der(cka_ec_point)
        && is_point(inner.as_bytes())
    {
        return Ok(inner.as_bytes().to_vec());
    }
    if is_point(cka_ec_point) {
        return Ok(cka_ec_point.to_vec());
    }
    Err(Error::Malformed {
        what: "CKA_EC_POINT",
        detail: format!("{} bytes, not an uncompressed {want}-byte point", cka_ec_point.len()),
    })
}

/// `SubjectPublicKeyInfo` for an EC public key (RFC 5480 §2: id-ecPublicKey, namedCurve).
///
/// # Errors
/// When `algorithm` is not an EC algorithm or encoding fails.
pub fn ec_spki(algorithm: KeyAlgorithm, point: &[u8]) -> Result<SubjectPublicKeyInfoOwned> {
    let curve = algorithm
        .curve()
        .ok_or(Error::Malformed { what: "key type", detail: format!("{algorithm} is not an EC algorithm") })?;
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::ID_EC_PUBLIC_KEY,
            parameters: Some(Any::encode_from(&curve)?),
        },
        subject_public_key: BitString::from_bytes(point)?,
    })
}

/// ```text
/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
/// ```
/// RFC 8017 §A.1.1.
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// `SubjectPublicKeyInfo` for an RSA public key (RFC 3279 §2.3.1: rsaEncryption, NULL).
///
/// # Errors
/// Only on a DER encoding failure.
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Result<SubjectPublicKeyInfoOwned> {
    let key = RsaPublicKey { modulus: UintRef::new(modulus)?, public_exponent: UintRef::new(exponent)? };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned { oid: rfc5912::RSA_ENCRYPTION, parameters: Some(Any::from(Null)) },
        subject_public_key: BitString::from_bytes(&key.to_der()?)?,
    })
}

/// The DER encoding of a curve's OID, as `CKA_EC_PARAMS` wants it.
///
/// # Errors
/// When `algorithm` is RSA.
pub fn ec_params(algorithm: KeyAlgorithm) -> Result<Vec<u8>> {
    let curve = algorithm
        .curve()
        .ok_or(Error::Malformed { what: "key type", detail: format!("{algorithm} has no EC parameters") })?;
    Ok(curve.to_der()?)
}

/// The key algorithm named by `CKA_EC_PARAMS`, if it is a curve esignd supports.
pub fn algorithm_from_ec_params(params: &[u8]) -> Option<KeyAlgorithm> {
    let oid = const_oid::ObjectIdentifier::from_der(params).ok()?;
    [KeyAlgorithm::P256, KeyAlgorithm::P384].into_iter().find(|alg| alg.curve() == Some(oid))
}

/// SHA-256 of the DER `SubjectPublicKeyInfo`: the fingerprint `esignctl key list` prints.
///
/// # Errors
/// Only on a DER encoding failure.
pub fn spki_fingerprint(spki: &SubjectPublicKeyInfoOwned) -> Result<String> {
    Ok(hex::encode(HashAlgorithm::Sha256.digest(&spki.to_der()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_der_adds_a_zero_byte_when_the_high_bit_is_set_and_strips_leading_zeros() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r has its high bit set -> 33-byte INTEGER
        raw[63] = 0x01; // s = 1 after stripping 31 zeros
        let der = ecdsa_raw_to_der(&raw, 32).unwrap();
        assert_eq!(&der[..4], &[0x30, 2 + 33 + 3, 0x02, 33]);
        assert_eq!(der[4], 0x00);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        assert!(ecdsa_raw_to_der(&raw[..63], 32).is_err());
    }

    #[test]
    fn digest_info_matches_rfc_8017_prefix() {
        let der = digest_info(HashAlgorithm::Sha256, &[0xab; 32]).unwrap();
        // RFC 8017 §9.2 Note 1, SHA-256.
        let prefix = hex::decode("3031300d060960864801650304020105000420").unwrap();
        assert_eq!(&der[..prefix.len()], prefix.as_slice());
        assert_eq!(der.len(), prefix.len() + 32);
    }

    #[test]
    fn ec_point_accepts_wrapped_and_raw() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        let wrapped = OctetStringRef::new(&point).unwrap().to_der().unwrap();
        assert_eq!(ec_point(&wrapped, 32).unwrap(), point);
        assert_eq!(ec_point(&point, 32).unwrap(), point);
        assert!(ec_point(&point[..40], 32).is_err());
    }

    #[test]
    fn ec_params_round_trip() {
        for alg in [KeyAlgorithm::P256, KeyAlgorithm::P384] {
            assert_eq!(algorithm_from_ec_params(&ec_params(alg).unwrap()), Some(alg));
        }
        assert!(ec_params(KeyAlgorithm::Rsa2048).is_err());
    }
}
