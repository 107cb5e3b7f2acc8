//! The in-memory key store, for unit tests and benchmarks only.
//!
//! It mirrors the PKCS#11 store's semantics where tests depend on them: persistent objects
//! carry a label and `CKA_ID` and labels are never reused; ephemeral keys belong to the session
//! that made them and vanish when it closes; a discarded session loses its ephemeral keys at once. Keys are
//! RustCrypto software keys. This module is compiled only with the `memory-keystore` feature
//! and no configuration value can select it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use der::Decode;
use getrandom::SysRng;
use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Sign, pss::Pss};
use signature::hazmat::PrehashSigner;
use spki::SubjectPublicKeyInfoOwned;

use super::{
    EphemeralKey, Error, HashAlgorithm, KeyAlgorithm, KeyPair, KeyProtection, KeySession, KeyStore, ObjectClass,
    ObjectInfo, Result, SignatureScheme, StoredCertificate, TokenStatus, check_sign_request, new_key_id,
};

/// A key store held in process memory.
#[derive(Clone, Default)]
pub struct MemoryKeyStore {
    objects: Arc<Mutex<Objects>>,
}

#[derive(Default)]
struct Objects {
    next_handle: u64,
    next_session: u64,
    keys: BTreeMap<u64, Entry>,
    certificates: Vec<StoredCertificate>,
    /// HMAC secrets by label.
    secrets: BTreeMap<String, ring::hmac::Key>,
}

struct Entry {
    label: String,
    id: Vec<u8>,
    algorithm: KeyAlgorithm,
    /// The session owning an ephemeral key; `None` for persistent keys.
    owner: Option<u64>,
    key: SoftKey,
    public_key: SubjectPublicKeyInfoOwned,
}

enum SoftKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
}

impl SoftKey {
    fn generate(algorithm: KeyAlgorithm) -> Result<(Self, SubjectPublicKeyInfoOwned)> {
        use p256::elliptic_curve::Generate;
        let (key, public_der) = match algorithm {
            KeyAlgorithm::P256 => {
                let key = p256::ecdsa::SigningKey::generate();
                let der = key.verifying_key().to_public_key_der();
                (Self::P256(key), der)
            }
            KeyAlgorithm::P384 => {
                let key = p384::ecdsa::SigningKey::generate();
                let der = key.verifying_key().to_public_key_der();
                (Self::P384(key), der)
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => {
                let bits = algorithm.rsa_bits().expect("RSA algorithms have a size") as usize;
                let key = rsa::PrivateKey::new(&mut SysRng, bits).map_err(|e| soft_error("RSA key generation", e))?;
                let der = key.to_public_key().to_public_key_der();
                (Self::Rsa(Box::new(key)), der)
            }
        };
        let der = public_der.map_err(|e| soft_error("public key encoding", e))?;
        Ok((key, SubjectPublicKeyInfoOwned::from_der(der.as_bytes())?))
    }

    fn sign(&self, scheme: SignatureScheme, digest: &[u8]) -> Result<Vec<u8>> {
        let signed = match (self, scheme) {
            (Self::P256(key), SignatureScheme::Ecdsa(_)) => {
                PrehashSigner::<p256::ecdsa::Signature>::sign_prehash(key, digest)
                    .map(|s| s.to_der().as_bytes().to_vec())
            }
            (Self::P384(key), SignatureScheme::Ecdsa(_)) => {
                PrehashSigner::<p384::ecdsa::Signature>::sign_prehash(key, digest)
                    .map(|s| s.to_der().as_bytes().to_vec())
            }
            (Self::Rsa(key), SignatureScheme::RsaPkcs1v15(hash)) => {
                let padding = match hash {
                    HashAlgorithm::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                    HashAlgorithm::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                    HashAlgorithm::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
                };
                return key.sign(padding, digest).map_err(|e| soft_error("RSA signing", e));
            }
            (Self::Rsa(key), SignatureScheme::RsaPss(hash)) => {
                let signed = match hash {
                    HashAlgorithm::Sha256 => key.sign_with_rng(&mut SysRng, Pss::<sha2::Sha256>::new(), digest),
                    HashAlgorithm::Sha384 => key.sign_with_rng(&mut SysRng, Pss::<sha2::Sha384>::new(), digest),
                    HashAlgorithm::Sha512 => key.sign_with_rng(&mut SysRng, Pss::<sha2::Sha512>::new(), digest),
                };
                return signed.map_err(|e| soft_error("RSA-PSS signing", e));
            }
            _ => unreachable!("check_sign_request rejects schemes that do not fit the key"),
        };
        signed.map_err(|e| soft_error("ECDSA signing", e))
    }
}

fn soft_error(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Malformed { what, detail: e.to_string() }
}

/// A session of the in-memory store. Its ephemeral keys disappear when it is dropped.
pub struct MemorySession {
    objects: Arc<Mutex<Objects>>,
    id: u64,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions have been checked out so far (tests use it to show that a request
    /// was refused before the key store was touched).
    pub fn sessions_opened(&self) -> u64 {
        lock(&self.objects).next_session
    }
}

fn lock(objects: &Mutex<Objects>) -> MutexGuard<'_, Objects> {
    objects.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyStore for MemoryKeyStore {
    type Session = MemorySession;

    fn session(&self) -> Result<MemorySession> {
        let mut objects = lock(&self.objects);
        objects.next_session += 1;
        Ok(MemorySession { objects: Arc::clone(&self.objects), id: objects.next_session })
    }

    fn own_session(&self) -> Result<MemorySession> {
        self.session()
    }

    fn status(&self) -> Result<TokenStatus> {
        Ok(TokenStatus {
            label: "memory".into(),
            serial: "0".into(),
            model: "in-memory (tests only)".into(),
            logged_in: true,
        })
    }
}

impl MemorySession {
    fn insert(&self, algorithm: KeyAlgorithm, label: &str, id: Vec<u8>, owner: Option<u64>) -> Result<KeyPair<u64>> {
        let (key, public_key) = SoftKey::generate(algorithm)?;
        let mut objects = lock(&self.objects);
        objects.next_handle += 1;
        let handle = objects.next_handle;
        let entry =
            Entry { label: label.to_owned(), id: id.clone(), algorithm, owner, key, public_key: public_key.clone() };
        objects.keys.insert(handle, entry);
        Ok(KeyPair::new(handle, algorithm, label.to_owned(), id, public_key))
    }
}

impl Drop for MemorySession {
    fn drop(&mut self) {
        lock(&self.objects).keys.retain(|_, entry| entry.owner != Some(self.id));
    }
}

impl KeySession for MemorySession {
    type Handle = u64;
    type Secret = String;

    fn generate_ephemeral(&self, algorithm: KeyAlgorithm) -> Result<EphemeralKey<'_, Self>> {
        let key = self.insert(algorithm, "", Vec::new(), Some(self.id))?;
        Ok(EphemeralKey::new(self, key))
    }

    fn generate_unguarded(&self, algorithm: KeyAlgorithm) -> Result<KeyPair<u64>> {
        self.insert(algorithm, "", Vec::new(), Some(self.id))
    }

    fn generate_persistent(&self, algorithm: KeyAlgorithm, label: &str) -> Result<KeyPair<u64>> {
        {
            let objects = lock(&self.objects);
            let taken = objects.keys.values().any(|e| e.label == label)
                || objects.certificates.iter().any(|c| c.label == label);
            if taken {
                return Err(Error::ObjectExists { label: label.to_owned() });
            }
        }
        self.insert(algorithm, label, new_key_id(), None)
    }

    fn find_key(&self, label: &str, id: Option<&[u8]>) -> Result<Option<KeyPair<u64>>> {
        let objects = lock(&self.objects);
        let found: Vec<_> = objects
            .keys
            .iter()
            .filter(|(_, e)| e.owner.is_none() && e.label == label && id.is_none_or(|id| e.id == id))
            .collect();
        match found.as_slice() {
            [] => Ok(None),
            [(handle, e)] => {
                Ok(Some(KeyPair::new(**handle, e.algorithm, e.label.clone(), e.id.clone(), e.public_key.clone())))
            }
            many => Err(Error::KeyAmbiguous { label: label.to_owned(), count: many.len() }),
        }
    }

    fn sign_digest(&self, key: &KeyPair<u64>, scheme: SignatureScheme, digest: &[u8]) -> Result<Vec<u8>> {
        check_sign_request(key.algorithm(), scheme, digest)?;
        let objects = lock(&self.objects);
        let entry = objects.keys.get(key.handle()).ok_or(Error::KeyNotFound { label: key.label().to_owned() })?;
        entry.key.sign(scheme, digest)
    }

    fn protection(&self, key: &KeyPair<u64>) -> Result<KeyProtection> {
        // Every key here was made by the store itself and is never handed out: modelled as
        // generated inside a token.
        lock(&self.objects).keys.get(key.handle()).ok_or(Error::KeyNotFound { label: key.label().to_owned() })?;
        Ok(KeyProtection { sensitive: true, never_extractable: true, always_sensitive: true })
    }

    fn destroy_key(&self, key: &KeyPair<u64>) -> Result<()> {
        lock(&self.objects)
            .keys
            .remove(key.handle())
            .map(drop)
            .ok_or(Error::KeyNotFound { label: key.label().to_owned() })
    }

    fn objects(&self) -> Result<Vec<ObjectInfo>> {
        let objects = lock(&self.objects);
        let keys = objects.keys.values().flat_map(|e| {
            [ObjectClass::PrivateKey, ObjectClass::PublicKey].map(|class| ObjectInfo {
                class,
                label: e.label.clone(),
                id: e.id.clone(),
                on_token: e.owner.is_none(),
            })
        });
        let certificates = objects.certificates.iter().map(|c| ObjectInfo {
            class: ObjectClass::Certificate,
            label: c.label.clone(),
            id: c.id.clone(),
            on_token: true,
        });
        let secrets = objects.secrets.keys().map(|label| ObjectInfo {
            class: ObjectClass::SecretKey,
            label: label.clone(),
            id: Vec::new(),
            on_token: true,
        });
        Ok(keys.chain(certificates).chain(secrets).collect())
    }

    fn generate_secret(&self, label: &str) -> Result<()> {
        let mut objects = lock(&self.objects);
        let taken = objects.keys.values().any(|e| e.label == label)
            || objects.certificates.iter().any(|c| c.label == label)
            || objects.secrets.contains_key(label);
        if taken {
            return Err(Error::ObjectExists { label: label.to_owned() });
        }
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|e| soft_error("HMAC key", format!("{e:?}")))?;
        objects.secrets.insert(label.to_owned(), key);
        Ok(())
    }

    fn find_secret(&self, label: &str) -> Result<Option<String>> {
        Ok(lock(&self.objects).secrets.contains_key(label).then(|| label.to_owned()))
    }

    fn hmac_sha256(&self, label: &String, data: &[u8]) -> Result<Vec<u8>> {
        let objects = lock(&self.objects);
        let key = objects.secrets.get(label).ok_or(Error::KeyNotFound { label: label.to_owned() })?;
        Ok(ring::hmac::sign(key, data).as_ref().to_vec())
    }

    fn store_certificate(&self, label: &str, id: &[u8], der: &[u8]) -> Result<()> {
        x509_cert::Certificate::from_der(der)?;
        let mut objects = lock(&self.objects);
        if objects.certificates.iter().any(|c| c.label == label) {
            return Err(Error::ObjectExists { label: label.to_owned() });
        }
        objects.certificates.push(StoredCertificate { label: label.to_owned(), id: id.to_vec(), der: der.to_vec() });
        Ok(())
    }

    fn certificates(&self) -> Result<Vec<StoredCertificate>> {
        Ok(lock(&self.objects).certificates.clone())
    }

    fn discard(&self) {
        // Closing is what the PKCS#11 store does with a discarded session; here that means
        // dropping its ephemeral keys now.
        lock(&self.objects).keys.retain(|_, entry| entry.owner != Some(self.id));
    }
}
