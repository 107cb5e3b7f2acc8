//! The one adapter between HSM keys and the RustCrypto signer contract.
//!
//! `x509-cert`'s `CertificateBuilder` (and `cms`'s `SignerInfoBuilder`) sign with anything that
//! implements `signature::Signer` + `signature::Keypair` + `spki::DynSignatureAlgorithmIdentifier`.
//! [`HsmSigner`] is that for a key in any [`KeySession`]: the builder hands it the bytes to sign,
//! the adapter hashes them in software and the token signs the digest, already in the encoding
//! X.509/CMS expect (see [`super::encoding`]).

use der::Document;
use der::asn1::BitString;
use signature::{Keypair, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, SignatureBitStringEncoding,
    SubjectPublicKeyInfoOwned,
};

use super::{Error, KeyPair, KeySession, Result, SignatureScheme};

/// Signs with an HSM key under a fixed scheme.
pub struct HsmSigner<'a, S: KeySession> {
    session: &'a S,
    key: &'a KeyPair<S::Handle>,
    scheme: SignatureScheme,
    algorithm_identifier: AlgorithmIdentifierOwned,
}

impl<'a, S: KeySession> HsmSigner<'a, S> {
    /// A signer for `key` using `scheme`.
    ///
    /// # Errors
    /// [`Error::SchemeMismatch`] when the scheme does not fit the key.
    pub fn new(session: &'a S, key: &'a KeyPair<S::Handle>, scheme: SignatureScheme) -> Result<Self> {
        if !scheme.fits(key.algorithm()) {
            return Err(Error::SchemeMismatch { algorithm: key.algorithm(), scheme });
        }
        let algorithm_identifier = scheme.algorithm_identifier()?;
        Ok(Self { session, key, scheme, algorithm_identifier })
    }

    /// A signer for `key` with the key's default scheme.
    pub fn with_default_scheme(session: &'a S, key: &'a KeyPair<S::Handle>) -> Self {
        Self::new(session, key, key.algorithm().default_scheme()).expect("a key's default scheme always fits the key")
    }

    /// The scheme this signer uses.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// A public key as the builders want it: something that encodes to a `SubjectPublicKeyInfo`.
#[derive(Clone, Debug)]
pub struct PublicKey(pub SubjectPublicKeyInfoOwned);

impl EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::encode_msg(&self.0)?)
    }
}

/// A signature in its X.509/CMS encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HsmSignature(pub Vec<u8>);

impl SignatureBitStringEncoding for HsmSignature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl<S: KeySession> Keypair for HsmSigner<'_, S> {
    type VerifyingKey = PublicKey;

    fn verifying_key(&self) -> PublicKey {
        PublicKey(self.key.public_key().clone())
    }
}

impl<S: KeySession> DynSignatureAlgorithmIdentifier for HsmSigner<'_, S> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.algorithm_identifier.clone())
    }
}

impl<S: KeySession> Signer<HsmSignature> for HsmSigner<'_, S> {
    fn try_sign(&self, msg: &[u8]) -> Result<HsmSignature, signature::Error> {
        let digest = self.scheme.hash().digest(msg);
        self.session
            .sign_digest(self.key, self.scheme, &digest)
            .map(HsmSignature)
            .map_err(signature::Error::from_source)
    }
}
