//! Key algorithms, digest algorithms and signature schemes the key stores support, with the
//! X.509/CMS `AlgorithmIdentifier` each one is announced under.
//!
//! The names here are the ones operators type: `p256`, `p384`, `rsa2048`, `rsa3072` in
//! `[hsm] ephemeral_key` and `esignctl key generate --alg`.

use std::fmt;
use std::str::FromStr;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::asn1::{AnyRef, Null};
use der::{Any, Encode, Sequence};
use sha2::Digest as _;
use spki::AlgorithmIdentifierOwned;

/// The kind of key pair a key store generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 (secp256r1). The default: about 0.1 ms to generate on SoftHSM.
    P256,
    /// ECDSA on NIST P-384 (secp384r1).
    P384,
    /// RSA with a 2048-bit modulus, public exponent 65537.
    Rsa2048,
    /// RSA with a 3072-bit modulus, public exponent 65537.
    Rsa3072,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order they are listed to users.
    pub const ALL: [KeyAlgorithm; 4] = [Self::P256, Self::P384, Self::Rsa2048, Self::Rsa3072];

    /// The name used in configuration and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
        }
    }

    /// The named curve of an EC key, `None` for RSA.
    pub fn curve(self) -> Option<ObjectIdentifier> {
        match self {
            Self::P256 => Some(rfc5912::SECP_256_R_1),
            Self::P384 => Some(rfc5912::SECP_384_R_1),
            Self::Rsa2048 | Self::Rsa3072 => None,
        }
    }

    /// Modulus length in bits of an RSA key, `None` for EC.
    pub fn rsa_bits(self) -> Option<u32> {
        match self {
            Self::Rsa2048 => Some(2048),
            Self::Rsa3072 => Some(3072),
            Self::P256 | Self::P384 => None,
        }
    }

    /// Size in bytes of one EC field element (the length of `r` and of `s`).
    pub fn ec_field_len(self) -> Option<usize> {
        match self {
            Self::P256 => Some(32),
            Self::P384 => Some(48),
            Self::Rsa2048 | Self::Rsa3072 => None,
        }
    }

    /// The scheme used when nobody asks for another: ECDSA with the hash matching the curve,
    /// RSA PKCS#1 v1.5 with SHA-256.
    pub fn default_scheme(self) -> SignatureScheme {
        match self {
            Self::P256 => SignatureScheme::Ecdsa(HashAlgorithm::Sha256),
            Self::P384 => SignatureScheme::Ecdsa(HashAlgorithm::Sha384),
            Self::Rsa2048 | Self::Rsa3072 => SignatureScheme::RsaPkcs1v15(HashAlgorithm::Sha256),
        }
    }

    /// Whether this is an RSA key.
    pub fn is_rsa(self) -> bool {
        self.rsa_bits().is_some()
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A key algorithm name that is not one of `p256`, `p384`, `rsa2048`, `rsa3072`.
#[derive(Debug, thiserror::Error)]
#[error("unknown key algorithm '{0}': use one of p256, p384, rsa2048, rsa3072")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for KeyAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

/// A digest algorithm of the SHA-2 family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256, 32-byte digests.
    Sha256,
    /// SHA-384, 48-byte digests.
    Sha384,
    /// SHA-512, 64-byte digests.
    Sha512,
}

impl HashAlgorithm {
    /// GovStack's `hashType` name: `SHA2-256`, `SHA2-384`, `SHA2-512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA2-256",
            Self::Sha384 => "SHA2-384",
            Self::Sha512 => "SHA2-512",
        }
    }

    /// Length in bytes of a digest.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest algorithm's OID (NIST, RFC 5754).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => rfc5912::ID_SHA_256,
            Self::Sha384 => rfc5912::ID_SHA_384,
            Self::Sha512 => rfc5912::ID_SHA_512,
        }
    }

    /// Hash `data` in software (the HSM only ever sees digests).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// Hash the concatenation of `parts` without building it (a PDF's byte ranges).
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        fn all<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Self::Sha256 => all::<sha2::Sha256>(parts),
            Self::Sha384 => all::<sha2::Sha384>(parts),
            Self::Sha512 => all::<sha2::Sha512>(parts),
        }
    }

    /// The digest algorithm with this OID, if it is one of the three.
    pub fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        [Self::Sha256, Self::Sha384, Self::Sha512].into_iter().find(|h| h.oid() == oid)
    }

    /// `AlgorithmIdentifier` for this digest, parameters absent (RFC 5754 §2: SHOULD omit).
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned { oid: self.oid(), parameters: None }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A hash algorithm name esignd does not sign with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unsupported hash algorithm '{0}': use SHA2-256, SHA2-384 or SHA2-512")]
pub struct UnknownHash(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownHash;

    /// GovStack's `hashType` names (`SHA2-256`), and the common `SHA-256` / `sha256`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normal = s.to_ascii_uppercase().replace(['-', '_'], "");
        match normal.as_str() {
            "SHA2256" | "SHA256" => Ok(Self::Sha256),
            "SHA2384" | "SHA384" => Ok(Self::Sha384),
            "SHA2512" | "SHA512" => Ok(Self::Sha512),
            _ => Err(UnknownHash(s.to_owned())),
        }
    }
}

/// How a digest is turned into a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// ECDSA over the digest; the signature is the DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3).
    Ecdsa(HashAlgorithm),
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with a DigestInfo around the digest.
    RsaPkcs1v15(HashAlgorithm),
    /// RSASSA-PSS (RFC 8017 §8.1), MGF1 with the same hash, salt as long as the digest.
    RsaPss(HashAlgorithm),
}

impl SignatureScheme {
    /// The digest algorithm the scheme signs.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::Ecdsa(h) | Self::RsaPkcs1v15(h) | Self::RsaPss(h) => h,
        }
    }

    /// Whether a key of `algorithm` can sign with this scheme.
    pub fn fits(self, algorithm: KeyAlgorithm) -> bool {
        match self {
            Self::Ecdsa(_) => !algorithm.is_rsa(),
            Self::RsaPkcs1v15(_) | Self::RsaPss(_) => algorithm.is_rsa(),
        }
    }

    /// The signature `AlgorithmIdentifier` announced in certificates and CMS SignerInfos.
    ///
    /// ECDSA (RFC 5758 §3.2) and PKCS#1 v1.5 (RFC 4055 §5: parameters NULL) use fixed OIDs;
    /// PSS carries `RSASSA-PSS-params` (RFC 4055 §3.1).
    ///
    /// # Errors
    /// Only if DER encoding of the PSS parameters fails, which it does not for these inputs.
    pub fn algorithm_identifier(self) -> der::Result<AlgorithmIdentifierOwned> {
        let (oid, parameters) = match self {
            Self::Ecdsa(HashAlgorithm::Sha256) => (rfc5912::ECDSA_WITH_SHA_256, None),
            Self::Ecdsa(HashAlgorithm::Sha384) => (rfc5912::ECDSA_WITH_SHA_384, None),
            Self::Ecdsa(HashAlgorithm::Sha512) => (rfc5912::ECDSA_WITH_SHA_512, None),
            Self::RsaPkcs1v15(h) => {
                let oid = match h {
                    HashAlgorithm::Sha256 => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
                    HashAlgorithm::Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
                    HashAlgorithm::Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
                };
                (oid, Some(Any::from(Null)))
            }
            Self::RsaPss(h) => (rfc5912::ID_RSASSA_PSS, Some(pss_parameters(h)?)),
        };
        Ok(AlgorithmIdentifierOwned { oid, parameters })
    }
}

impl SignatureScheme {
    /// The scheme a signature `AlgorithmIdentifier` announces, if esignd supports it. PSS is
    /// accepted only with MGF1 over the same hash and a salt as long as the digest (what esignd
    /// and common HSM profiles produce).
    pub fn from_algorithm_identifier(id: &AlgorithmIdentifierOwned) -> Option<Self> {
        use HashAlgorithm::{Sha256, Sha384, Sha512};
        let scheme = match id.oid {
            rfc5912::ECDSA_WITH_SHA_256 => Self::Ecdsa(Sha256),
            rfc5912::ECDSA_WITH_SHA_384 => Self::Ecdsa(Sha384),
            rfc5912::ECDSA_WITH_SHA_512 => Self::Ecdsa(Sha512),
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION => Self::RsaPkcs1v15(Sha256),
            rfc5912::SHA_384_WITH_RSA_ENCRYPTION => Self::RsaPkcs1v15(Sha384),
            rfc5912::SHA_512_WITH_RSA_ENCRYPTION => Self::RsaPkcs1v15(Sha512),
            rfc5912::ID_RSASSA_PSS => {
                let params: PssParams = id.parameters.as_ref()?.decode_as().ok()?;
                let hash = HashAlgorithm::from_oid(params.hash_algorithm.oid)?;
                let mgf_hash: AlgorithmIdentifierOwned =
                    params.mask_gen_algorithm.parameters.as_ref()?.decode_as().ok()?;
                let consistent = params.mask_gen_algorithm.oid == rfc5912::ID_MGF_1
                    && mgf_hash.oid == hash.oid()
                    && params.salt_length as usize == hash.output_len();
                return consistent.then_some(Self::RsaPss(hash));
            }
            _ => return None,
        };
        Some(scheme)
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, hash) = match self {
            Self::Ecdsa(h) => ("ecdsa", h),
            Self::RsaPkcs1v15(h) => ("rsa-pkcs1v15", h),
            Self::RsaPss(h) => ("rsa-pss", h),
        };
        write!(f, "{name}-sha{}", hash.output_len() * 8)
    }
}

/// ```text
/// RSASSA-PSS-params ::= SEQUENCE {
///     hashAlgorithm      [0] HashAlgorithm DEFAULT sha1,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
///     saltLength         [2] INTEGER DEFAULT 20,
///     trailerField       [3] TrailerField DEFAULT trailerFieldBC }
/// ```
/// RFC 4055 §3.1; the trailer field is left at its default.
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    hash_algorithm: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT")]
    mask_gen_algorithm: AlgorithmIdentifierOwned,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT")]
    salt_length: u32,
}

fn pss_parameters(hash: HashAlgorithm) -> der::Result<Any> {
    let hash_id = hash.algorithm_identifier();
    let params = PssParams {
        hash_algorithm: hash_id.clone(),
        mask_gen_algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::ID_MGF_1,
            parameters: Some(Any::encode_from(&hash_id)?),
        },
        salt_length: hash.output_len() as u32,
    };
    AnyRef::try_from(params.to_der()?.as_slice()).map(Any::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in KeyAlgorithm::ALL {
            assert_eq!(alg.name().parse::<KeyAlgorithm>().unwrap(), alg);
        }
        let err = "ed25519".parse::<KeyAlgorithm>().unwrap_err().to_string();
        assert!(err.contains("ed25519") && err.contains("p256"), "{err}");
    }

    #[test]
    fn hash_names_follow_govstack_and_refuse_the_rest() {
        assert_eq!("SHA2-256".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha256));
        assert_eq!("SHA2-512".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha512));
        assert_eq!("sha384".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha384));
        let err = "SHA3-256".parse::<HashAlgorithm>().unwrap_err();
        assert_eq!(err.to_string(), "unsupported hash algorithm 'SHA3-256': use SHA2-256, SHA2-384 or SHA2-512");
        assert!("MD5".parse::<HashAlgorithm>().is_err());
    }

    #[test]
    fn schemes_fit_only_their_key_type() {
        assert!(SignatureScheme::Ecdsa(HashAlgorithm::Sha256).fits(KeyAlgorithm::P384));
        assert!(!SignatureScheme::Ecdsa(HashAlgorithm::Sha256).fits(KeyAlgorithm::Rsa2048));
        assert!(!SignatureScheme::RsaPss(HashAlgorithm::Sha256).fits(KeyAlgorithm::P256));
    }

    #[test]
    fn algorithm_identifiers_round_trip() {
        for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512] {
            for scheme in
                [SignatureScheme::Ecdsa(hash), SignatureScheme::RsaPkcs1v15(hash), SignatureScheme::RsaPss(hash)]
            {
                let id = scheme.algorithm_identifier().unwrap();
                assert_eq!(SignatureScheme::from_algorithm_identifier(&id), Some(scheme));
            }
        }
        let unknown = AlgorithmIdentifierOwned { oid: rfc5912::ID_SHA_256, parameters: None };
        assert_eq!(SignatureScheme::from_algorithm_identifier(&unknown), None);
    }

    #[test]
    fn pss_identifier_matches_rfc_4055_encoding() {
        // RFC 4055 §3.1 / openssl: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32.
        let id = SignatureScheme::RsaPss(HashAlgorithm::Sha256).algorithm_identifier().unwrap();
        let der = id.to_der().unwrap();
        assert_eq!(
            hex::encode(der),
            "303d06092a864886f70d01010a3030a00d300b0609608648016503040201\
             a11a301806092a864886f70d010108300b0609608648016503040201a203020120"
        );
    }
}
