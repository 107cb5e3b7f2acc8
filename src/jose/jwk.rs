//! JSON Web Keys (RFC 7517/7518): reading the ID provider's JWKS and publishing esignd's own
//! service key at `/.well-known/jwks.json`.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use spki::SubjectPublicKeyInfoOwned;

use super::{Error, b64, unb64};
use crate::hsm::HashAlgorithm;

/// One public key. Private members are never read or written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig` or `enc`.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve (`P-256`, `P-384`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// `{"keys": [...]}`
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// ```text
/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
/// ```
#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

impl Jwk {
    /// The JWK of a public key, with its RFC 7638 thumbprint as `kid`.
    ///
    /// # Errors
    /// Keys other than P-256, P-384 and RSA.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned, alg: &str) -> Result<Self, Error> {
        let bits = spki.subject_public_key.as_bytes().ok_or(Error::Malformed("public key"))?;
        let mut jwk = match spki.algorithm.oid {
            rfc5912::ID_EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as().ok())
                    .ok_or(Error::Malformed("EC parameters"))?;
                let (crv, len) = match curve {
                    rfc5912::SECP_256_R_1 => ("P-256", 32),
                    rfc5912::SECP_384_R_1 => ("P-384", 48),
                    _ => return Err(Error::UnsupportedAlgorithm(curve.to_string())),
                };
                if bits.len() != 1 + 2 * len || bits[0] != 4 {
                    return Err(Error::Malformed("EC point"));
                }
                Jwk {
                    kty: "EC".into(),
                    crv: Some(crv.into()),
                    x: Some(b64(&bits[1..=len])),
                    y: Some(b64(&bits[1 + len..])),
                    ..Self::empty()
                }
            }
            rfc5912::RSA_ENCRYPTION => {
                let key = RsaPublicKey::from_der(bits).map_err(|_| Error::Malformed("RSA key"))?;
                Jwk {
                    kty: "RSA".into(),
                    n: Some(b64(key.modulus.as_bytes())),
                    e: Some(b64(key.public_exponent.as_bytes())),
                    ..Self::empty()
                }
            }
            other => return Err(Error::UnsupportedAlgorithm(other.to_string())),
        };
        jwk.alg = Some(alg.into());
        jwk.key_use = Some("sig".into());
        jwk.kid = Some(jwk.thumbprint()?);
        Ok(jwk)
    }

    fn empty() -> Self {
        Jwk { kty: String::new(), kid: None, alg: None, key_use: None, n: None, e: None, crv: None, x: None, y: None }
    }

    /// RFC 7638 thumbprint (SHA-256, base64url): the required members in lexicographic order.
    ///
    /// # Errors
    /// When a required member is missing.
    pub fn thumbprint(&self) -> Result<String, Error> {
        let need = |v: &Option<String>| v.clone().ok_or(Error::Malformed("JWK"));
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                need(&self.crv)?,
                need(&self.x)?,
                need(&self.y)?
            ),
            "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, need(&self.e)?, need(&self.n)?),
            other => return Err(Error::UnsupportedAlgorithm(other.to_owned())),
        };
        Ok(b64(&HashAlgorithm::Sha256.digest(canonical.as_bytes())))
    }

    /// The SubjectPublicKeyInfo of a public JWK (EC P-256/P-384 or RSA), e.g. a wallet's key to
    /// certify. Whether the point is on the curve or the modulus long enough is for the caller
    /// to check ([`crate::service::devices::csr::check_key`]).
    ///
    /// # Errors
    /// Other key types and curves, missing or malformed members.
    pub fn to_spki(&self) -> Result<SubjectPublicKeyInfoOwned, Error> {
        let (oid, parameters) = match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => (rfc5912::ID_EC_PUBLIC_KEY, der::Any::encode_from(&rfc5912::SECP_256_R_1)),
            ("EC", Some("P-384")) => (rfc5912::ID_EC_PUBLIC_KEY, der::Any::encode_from(&rfc5912::SECP_384_R_1)),
            ("EC", other) => return Err(Error::UnsupportedAlgorithm(format!("curve {}", other.unwrap_or("none")))),
            ("RSA", _) => (rfc5912::RSA_ENCRYPTION, Ok(der::Any::null())),
            (other, _) => return Err(Error::UnsupportedAlgorithm(other.to_owned())),
        };
        let parameters = parameters.map_err(|_| Error::Malformed("JWK"))?;
        let bits = self.ring_public_key()?;
        if self.kty == "EC" {
            let len = if self.crv.as_deref() == Some("P-256") { 32 } else { 48 };
            if bits.len() != 1 + 2 * len {
                return Err(Error::Malformed("JWK x or y"));
            }
        }
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned { oid, parameters: Some(parameters) },
            subject_public_key: der::asn1::BitString::from_bytes(&bits).map_err(|_| Error::Malformed("JWK"))?,
        })
    }

    /// The bytes `ring` wants: the uncompressed EC point, or the DER `RSAPublicKey`.
    ///
    /// # Errors
    /// Missing or malformed members.
    pub fn ring_public_key(&self) -> Result<Vec<u8>, Error> {
        match self.kty.as_str() {
            "EC" => {
                let x = unb64(self.x.as_deref().ok_or(Error::Malformed("JWK x"))?, "JWK x")?;
                let y = unb64(self.y.as_deref().ok_or(Error::Malformed("JWK y"))?, "JWK y")?;
                Ok([&[4u8][..], &x, &y].concat())
            }
            "RSA" => {
                let n = unb64(self.n.as_deref().ok_or(Error::Malformed("JWK n"))?, "JWK n")?;
                let e = unb64(self.e.as_deref().ok_or(Error::Malformed("JWK e"))?, "JWK e")?;
                let key = RsaPublicKey {
                    modulus: der::asn1::UintRef::new(&n).map_err(|_| Error::Malformed("JWK n"))?,
                    public_exponent: der::asn1::UintRef::new(&e).map_err(|_| Error::Malformed("JWK e"))?,
                };
                key.to_der().map_err(|_| Error::Malformed("JWK"))
            }
            other => Err(Error::UnsupportedAlgorithm(other.to_owned())),
        }
    }
}

impl JwkSet {
    /// The keys that may verify a token with `kid` and `alg`: by kid when the token names one,
    /// otherwise every key of the algorithm's type.
    pub fn candidates<'a>(&'a self, kid: Option<&'a str>, alg: &'a str) -> impl Iterator<Item = &'a Jwk> + 'a {
        let kty = if alg.starts_with("ES") { "EC" } else { "RSA" };
        self.keys.iter().filter(move |k| {
            k.kty == kty
                && k.key_use.as_deref().is_none_or(|u| u == "sig")
                && k.alg.as_deref().is_none_or(|a| a == alg)
                && kid.is_none_or(|kid| k.kid.as_deref() == Some(kid))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwk_goes_to_spki_and_back() {
        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let spki = SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).unwrap();
        let jwk = Jwk::from_spki(&spki, "ES256").unwrap();
        assert_eq!(jwk.to_spki().unwrap(), spki);
        let mut short = jwk.clone();
        short.x = Some(b64(&[1u8; 31]));
        assert!(short.to_spki().is_err());
        let mut secp256k1 = jwk;
        secp256k1.crv = Some("secp256k1".into());
        assert!(secp256k1.to_spki().is_err());
    }

    #[test]
    fn rfc_7638_thumbprint_example() {
        // RFC 7638 §3.1.
        let jwk: Jwk = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(jwk.thumbprint().unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
