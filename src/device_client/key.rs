//! The reference device's signing key: a software key in a PKCS#8 file encrypted with the PIN
//! (PBES2, as `openssl genpkey -aes-256-cbc` writes it), or a key on a PKCS#11 token (SoftHSM)
//! that the PIN logs in to. Either way the PIN is checked by the key's keeper — the file does not
//! decrypt, the token refuses the login — never by comparing strings here.
//!
//! Curves P-256 and P-384; signatures come out as DER (what CMS carries) and as the fixed
//! `r‖s` form for JWTs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use p256::elliptic_curve::Generate;
use pkcs8::{DecodePrivateKey, EncodePrivateKey};
use secrecy::{ExposeSecret, SecretString};
use signature::hazmat::PrehashSigner;
use spki::SubjectPublicKeyInfoOwned;

use super::DeviceClientError;
use crate::hsm::pkcs11::{Pkcs11Handle, Pkcs11KeyStore, Pkcs11Settings, TokenSelector};
use crate::hsm::{HashAlgorithm, KeyAlgorithm, KeyPair, KeySession, KeyStore, SignatureScheme};

/// Where the device key lives.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// An encrypted PKCS#8 PEM file.
    File(PathBuf),
    /// A key pair on a PKCS#11 token.
    Pkcs11 {
        /// The PKCS#11 module.
        module: PathBuf,
        /// The token's label.
        token: String,
        /// The key's label.
        label: String,
    },
}

/// A key unlocked with its PIN.
pub enum UnlockedKey {
    /// P-256 in software.
    P256(p256::ecdsa::SigningKey),
    /// P-384 in software.
    P384(p384::ecdsa::SigningKey),
    /// On the token, logged in.
    Token {
        /// The logged-in token.
        store: Pkcs11KeyStore,
        /// The key pair.
        key: KeyPair<Pkcs11Handle>,
    },
}

impl KeySource {
    /// Make a new P-256 or P-384 key protected by `pin`. A file is written owner-only and never
    /// overwritten; a token key must not exist yet.
    ///
    /// # Errors
    /// An existing file or key; file and token errors.
    pub fn generate(&self, algorithm: KeyAlgorithm, pin: &SecretString) -> Result<(), DeviceClientError> {
        match self {
            Self::File(path) => {
                let pem = match algorithm {
                    KeyAlgorithm::P256 => p256::ecdsa::SigningKey::generate()
                        .to_pkcs8_encrypted_pem(pin.expose_secret(), pkcs8::LineEnding::LF),
                    KeyAlgorithm::P384 => p384::ecdsa::SigningKey::generate()
                        .to_pkcs8_encrypted_pem(pin.expose_secret(), pkcs8::LineEnding::LF),
                    _ => return Err(DeviceClientError::Key("the reference device makes P-256 or P-384 keys".into())),
                }
                .map_err(|e| DeviceClientError::Key(e.to_string()))?;
                write_new(path, pem.as_bytes())
            }
            Self::Pkcs11 { label, .. } => {
                let store = self.open_token(pin)?;
                let session = store.session()?;
                session.generate_persistent(algorithm, label)?;
                Ok(())
            }
        }
    }

    /// Unlock the key with `pin`.
    ///
    /// # Errors
    /// [`DeviceClientError::Pin`] when the PIN does not open it; file and token errors.
    pub fn unlock(&self, pin: &SecretString) -> Result<UnlockedKey, DeviceClientError> {
        match self {
            Self::File(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| DeviceClientError::Key(format!("cannot read {}: {e}", path.display())))?;
                if let Ok(key) = p256::SecretKey::from_pkcs8_encrypted_pem(&pem, pin.expose_secret()) {
                    return Ok(UnlockedKey::P256(key.into()));
                }
                if let Ok(key) = p384::SecretKey::from_pkcs8_encrypted_pem(&pem, pin.expose_secret()) {
                    return Ok(UnlockedKey::P384(key.into()));
                }
                Err(DeviceClientError::Pin)
            }
            Self::Pkcs11 { label, .. } => {
                let store = self.open_token(pin)?;
                let key = store.session()?.key(label, None)?;
                Ok(UnlockedKey::Token { store, key })
            }
        }
    }

    fn open_token(&self, pin: &SecretString) -> Result<Pkcs11KeyStore, DeviceClientError> {
        let Self::Pkcs11 { module, token, .. } = self else { unreachable!("only called for tokens") };
        let settings = Pkcs11Settings {
            module: module.clone(),
            token: TokenSelector::Label(token.clone()),
            pin: crate::hsm::Pin::new(pin.expose_secret().into()),
            sessions: 1,
            call_timeout: Duration::from_secs(10),
        };
        Pkcs11KeyStore::open(settings).map_err(|e| match e {
            crate::hsm::Error::PinIncorrect { .. } => DeviceClientError::Pin,
            other => other.into(),
        })
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), DeviceClientError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| DeviceClientError::Key(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes).map_err(|e| DeviceClientError::Key(e.to_string()))
}

impl UnlockedKey {
    /// The public key.
    ///
    /// # Errors
    /// Encoding errors.
    pub fn public_key(&self) -> Result<SubjectPublicKeyInfoOwned, DeviceClientError> {
        match self {
            Self::P256(key) => SubjectPublicKeyInfoOwned::from_key(key.verifying_key()),
            Self::P384(key) => SubjectPublicKeyInfoOwned::from_key(key.verifying_key()),
            Self::Token { key, .. } => return Ok(key.public_key().clone()),
        }
        .map_err(|e| DeviceClientError::Key(e.to_string()))
    }

    /// The curve's JWS algorithm and natural hash: ES256/SHA-256 or ES384/SHA-384.
    pub fn jws(&self) -> (&'static str, HashAlgorithm) {
        let p384 = match self {
            Self::P256(_) => false,
            Self::P384(_) => true,
            Self::Token { key, .. } => key.algorithm() == KeyAlgorithm::P384,
        };
        if p384 { ("ES384", HashAlgorithm::Sha384) } else { ("ES256", HashAlgorithm::Sha256) }
    }

    /// An ECDSA signature (DER) over `message` hashed with `hash`.
    ///
    /// # Errors
    /// Signing failures.
    pub fn sign_der(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, DeviceClientError> {
        let digest = hash.digest(message);
        let failed = |e: signature::Error| DeviceClientError::Key(e.to_string());
        match self {
            Self::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign_prehash(&digest).map_err(failed)?;
                Ok(signature.to_der().to_bytes().to_vec())
            }
            Self::P384(key) => {
                let signature: p384::ecdsa::Signature = key.sign_prehash(&digest).map_err(failed)?;
                Ok(signature.to_der().to_bytes().to_vec())
            }
            Self::Token { store, key } => {
                Ok(store.session()?.sign_digest(key, SignatureScheme::Ecdsa(hash), &digest)?)
            }
        }
    }

    /// The fixed `r‖s` form of [`Self::sign_der`] with the curve's own hash (JWS).
    ///
    /// # Errors
    /// Signing failures.
    pub fn sign_jws(&self, message: &[u8]) -> Result<Vec<u8>, DeviceClientError> {
        let (_, hash) = self.jws();
        let der = self.sign_der(hash, message)?;
        let fixed = if hash == HashAlgorithm::Sha384 {
            p384::ecdsa::Signature::from_der(&der).map(|s| s.to_bytes().to_vec())
        } else {
            p256::ecdsa::Signature::from_der(&der).map(|s| s.to_bytes().to_vec())
        };
        fixed.map_err(|e| DeviceClientError::Key(e.to_string()))
    }
}
