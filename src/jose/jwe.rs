//! Compact JWE with RSA-OAEP-256 key encryption and A256GCM content encryption (RFC 7516,
//! RFC 7518 §4.3 and §5.3): how a webhook's result is sealed for an eService that gave a
//! `pubKey` when it created the session. Encryption only; esignd never decrypts.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use rsa::Oaep;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

use super::{Error, b64};

/// An eService's RSA public key for result encryption.
#[derive(Clone, Debug)]
pub struct RecipientKey(rsa::PublicKey);

impl RecipientKey {
    /// Parse a PEM public key (`PUBLIC KEY` or `RSA PUBLIC KEY`); at least 2048 bits.
    ///
    /// # Errors
    /// [`Error::Malformed`] for anything else.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let key = rsa::PublicKey::from_public_key_pem(pem.trim())
            .or_else(|_| rsa::PublicKey::from_pkcs1_pem(pem.trim()))
            .map_err(|_| Error::Malformed("RSA public key (PEM)"))?;
        if key.n().bit_width() < 2048 {
            return Err(Error::Malformed("RSA public key shorter than 2048 bits"));
        }
        Ok(Self(key))
    }
}

/// Encrypt `plaintext` to `recipient`; `content_type` goes in the `cty` header (`JWT` when the
/// plaintext is itself a signed token).
///
/// # Errors
/// [`Error::Signing`] if the random source or a primitive fails.
pub fn encrypt(recipient: &RecipientKey, plaintext: &[u8], content_type: &str) -> Result<String, Error> {
    let fail = |what: &str| Error::Signing(format!("JWE {what} failed"));
    let header = serde_json::json!({ "alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": content_type });
    let protected = b64(header.to_string().as_bytes());
    let mut cek = zeroize::Zeroizing::new([0u8; 32]);
    let mut iv = [0u8; 12];
    getrandom::fill(cek.as_mut()).map_err(|_| fail("random key"))?;
    getrandom::fill(&mut iv).map_err(|_| fail("random IV"))?;
    let encrypted_key = recipient
        .0
        .encrypt(&mut getrandom::SysRng, Oaep::<sha2::Sha256>::new(), cek.as_ref())
        .map_err(|_| fail("RSA-OAEP"))?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, cek.as_ref()).map_err(|_| fail("AES key"))?);
    let mut ciphertext = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(protected.as_bytes()), &mut ciphertext)
        .map_err(|_| fail("AES-GCM"))?;
    Ok(format!("{protected}.{}.{}.{}.{}", b64(&encrypted_key), b64(&iv), b64(&ciphertext), b64(tag.as_ref())))
}
