//! The hardware seam: everything esignd does with keys goes through [`KeyStore`].
//!
//! Two implementations exist. [`pkcs11::Pkcs11KeyStore`] talks to a real token through
//! `cryptoki` (SoftHSM2 in development and CI, a network HSM in production). The in-memory
//! `memory::MemoryKeyStore` exists for unit tests and benchmarks only; it is compiled only with
//! the `memory-keystore` feature and no configuration value selects it.
//!
//! A caller checks out one [`KeySession`] for the whole HSM part of a transaction (a PKCS#11
//! session is `Send` but not `Sync`), generates an ephemeral key as an [`EphemeralKey`] guard
//! that destroys it on every path, and signs digests. The [`signer::HsmSigner`] adapter lets the
//! RustCrypto certificate and CMS builders sign with any key of any store.

mod algorithm;
pub mod blocking;
pub mod encoding;
mod ephemeral;
mod error;
pub mod key_pool;
#[cfg(feature = "memory-keystore")]
pub mod memory;
pub mod pkcs11;
pub mod signer;

use std::fmt;

use spki::SubjectPublicKeyInfoOwned;

pub use algorithm::{HashAlgorithm, KeyAlgorithm, SignatureScheme, UnknownAlgorithm, UnknownHash};
pub use ephemeral::EphemeralKey;
pub use error::{Error, Result};

/// A PIN as the token takes it: zeroized when dropped, never printed.
pub type Pin = cryptoki::types::AuthPin;

/// A source of HSM sessions: a pool of PKCS#11 sessions, or the in-memory store.
pub trait KeyStore: Send + Sync + 'static {
    /// The session type handed out by [`KeyStore::session`].
    type Session: KeySession;

    /// Check out a session for one transaction. It goes back to the pool when dropped.
    ///
    /// # Errors
    /// [`Error::Busy`] when no session frees up before the per-call deadline, or the error that
    /// prevented opening and logging in a new session.
    fn session(&self) -> Result<Self::Session>;

    /// Open a session of its own, outside the pool and its bound, closed when dropped (the key
    /// pool's refill threads make their keys in one: closing it destroys them all).
    ///
    /// # Errors
    /// The error that prevented opening and logging in the session.
    fn own_session(&self) -> Result<Self::Session>;

    /// Identity and login state of the token, for readiness checks and start-up logs.
    ///
    /// # Errors
    /// When no logged-in session can be checked out.
    fn status(&self) -> Result<TokenStatus>;
}

/// One checked-out session. All key operations of a transaction happen on one session.
pub trait KeySession: Send {
    /// The store's reference to a key pair's objects.
    type Handle: Clone + Send + Sync + fmt::Debug;

    /// The store's reference to a persistent secret key (HMAC).
    type Secret: Clone + Send + Sync + fmt::Debug;

    /// Generate a key pair that lives only as long as the returned guard (a PKCS#11 session
    /// object: `CKA_TOKEN=false`, sensitive, non-extractable, sign-only).
    ///
    /// # Errors
    /// When the token cannot generate the key or its public half cannot be read.
    fn generate_ephemeral(&self, algorithm: KeyAlgorithm) -> Result<EphemeralKey<'_, Self>>
    where
        Self: Sized;

    /// Generate a one-time key pair as [`KeySession::generate_ephemeral`] does, but without its
    /// guard: it lives until it is destroyed or this session closes. Only the key pool calls
    /// it, and hands each key out once, to [`KeySession::adopt`].
    ///
    /// # Errors
    /// As [`KeySession::generate_ephemeral`].
    fn generate_unguarded(&self, algorithm: KeyAlgorithm) -> Result<KeyPair<Self::Handle>>;

    /// Take charge of a one-time key another session of this process made
    /// ([`KeySession::generate_unguarded`]): it is destroyed, from this session, when the guard
    /// is dropped. If that fails, `if_not_destroyed` is set, telling its maker to close its
    /// session (which destroys the key with it).
    fn adopt(
        &self,
        key: KeyPair<Self::Handle>,
        if_not_destroyed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> EphemeralKey<'_, Self>
    where
        Self: Sized,
    {
        EphemeralKey::adopted(self, key, if_not_destroyed)
    }

    /// Generate a persistent key pair stored on the token under `label` with a fresh random
    /// `CKA_ID`.
    ///
    /// # Errors
    /// [`Error::ObjectExists`] when any object already carries `label`.
    fn generate_persistent(&self, algorithm: KeyAlgorithm, label: &str) -> Result<KeyPair<Self::Handle>>;

    /// Find a persistent key pair by label and, when given, `CKA_ID`.
    ///
    /// # Errors
    /// [`Error::KeyAmbiguous`] when several keys match; token errors.
    fn find_key(&self, label: &str, id: Option<&[u8]>) -> Result<Option<KeyPair<Self::Handle>>>;

    /// Sign a digest; the result is encoded the way X.509 and CMS carry it (DER `Ecdsa-Sig-Value`,
    /// or the RSA signature block).
    ///
    /// # Errors
    /// [`Error::DigestLength`] or [`Error::SchemeMismatch`] for bad requests (checked before the
    /// token is touched); token errors.
    fn sign_digest(&self, key: &KeyPair<Self::Handle>, scheme: SignatureScheme, digest: &[u8]) -> Result<Vec<u8>>;

    /// Destroy both halves of a key pair.
    ///
    /// # Errors
    /// Token errors; both halves are attempted even when the first fails.
    fn destroy_key(&self, key: &KeyPair<Self::Handle>) -> Result<()>;

    /// How `key`'s private half is protected (`CKA_SENSITIVE`, `CKA_NEVER_EXTRACTABLE`,
    /// `CKA_ALWAYS_SENSITIVE`).
    ///
    /// # Errors
    /// Token errors.
    fn protection(&self, key: &KeyPair<Self::Handle>) -> Result<KeyProtection>;

    /// Every object this session can see (token objects and this process's session objects).
    ///
    /// # Errors
    /// Token errors.
    fn objects(&self) -> Result<Vec<ObjectInfo>>;

    /// Generate a persistent secret key for HMAC-SHA256 under `label` (`CKK_GENERIC_SECRET`,
    /// 256 bits, sensitive, never extractable, sign and verify only).
    ///
    /// # Errors
    /// [`Error::ObjectExists`] when any object already carries `label`; token errors.
    fn generate_secret(&self, label: &str) -> Result<()>;

    /// Find the secret key `label`. Look it up once and keep the reference: on a PKCS#11 token
    /// a search reads every object's file, which costs more than the HMAC itself.
    ///
    /// # Errors
    /// [`Error::KeyAmbiguous`] when several secret keys carry `label`; token errors.
    fn find_secret(&self, label: &str) -> Result<Option<Self::Secret>>;

    /// HMAC-SHA256 of `data` under the secret key `key` (`CKM_SHA256_HMAC`).
    ///
    /// # Errors
    /// Token errors; a stale handle ([`Error::is_stale_handle`]) when the key is gone.
    fn hmac_sha256(&self, key: &Self::Secret, data: &[u8]) -> Result<Vec<u8>>;

    /// Like [`KeySession::find_secret`], but a missing key is an error.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] when no secret key carries `label`.
    fn secret(&self, label: &str) -> Result<Self::Secret> {
        self.find_secret(label)?.ok_or_else(|| Error::KeyNotFound { label: label.to_owned() })
    }

    /// Store a DER X.509 certificate on the token under `label` and `id`.
    ///
    /// # Errors
    /// [`Error::ObjectExists`] when a certificate already carries `label`.
    fn store_certificate(&self, label: &str, id: &[u8], der: &[u8]) -> Result<()>;

    /// Every certificate object on the token.
    ///
    /// # Errors
    /// Token errors.
    fn certificates(&self) -> Result<Vec<StoredCertificate>>;

    /// Mark the session unusable: it is closed instead of returned to the pool, which also
    /// destroys any session object it still holds.
    fn discard(&self);

    /// Like [`KeySession::find_key`], but a missing key is an error.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] when no key carries `label`.
    fn key(&self, label: &str, id: Option<&[u8]>) -> Result<KeyPair<Self::Handle>> {
        self.find_key(label, id)?.ok_or_else(|| Error::KeyNotFound { label: label.to_owned() })
    }
}

/// A key pair: the store's handle plus what esignd needs to know about it without asking the
/// token again.
#[derive(Clone, Debug)]
pub struct KeyPair<H> {
    handle: H,
    algorithm: KeyAlgorithm,
    label: String,
    id: Vec<u8>,
    public_key: SubjectPublicKeyInfoOwned,
}

impl<H> KeyPair<H> {
    pub(crate) fn new(
        handle: H,
        algorithm: KeyAlgorithm,
        label: String,
        id: Vec<u8>,
        public_key: SubjectPublicKeyInfoOwned,
    ) -> Self {
        Self { handle, algorithm, label, id, public_key }
    }

    pub(crate) fn handle(&self) -> &H {
        &self.handle
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// `CKA_LABEL` (empty for ephemeral keys).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `CKA_ID` (empty for ephemeral keys).
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The public key as a `SubjectPublicKeyInfo`.
    pub fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }
}

/// The kind of a token object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectClass {
    /// `CKO_PRIVATE_KEY`
    PrivateKey,
    /// `CKO_PUBLIC_KEY`
    PublicKey,
    /// `CKO_CERTIFICATE`
    Certificate,
    /// `CKO_SECRET_KEY`
    SecretKey,
    /// Anything else (data objects, secret keys...).
    Other,
}

impl fmt::Display for ObjectClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PrivateKey => "private-key",
            Self::PublicKey => "public-key",
            Self::Certificate => "certificate",
            Self::SecretKey => "secret-key",
            Self::Other => "other",
        })
    }
}

/// What `objects()` reports: never a key value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Object class.
    pub class: ObjectClass,
    /// `CKA_LABEL`.
    pub label: String,
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// `CKA_TOKEN`: true for persistent objects, false for session objects.
    pub on_token: bool,
}

/// How a private key is protected on the token: a key that is sensitive now, never was
/// extractable and always was sensitive has never existed outside the HSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyProtection {
    /// `CKA_SENSITIVE`: its value cannot be read now.
    pub sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`: it could never be exported, even wrapped.
    pub never_extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`: its value could never be read.
    pub always_sensitive: bool,
}

impl KeyProtection {
    /// The first attribute that is not true, by its PKCS#11 name; `None` for a key that never
    /// left the HSM.
    pub fn missing(&self) -> Option<&'static str> {
        [
            (self.sensitive, "CKA_SENSITIVE"),
            (self.never_extractable, "CKA_NEVER_EXTRACTABLE"),
            (self.always_sensitive, "CKA_ALWAYS_SENSITIVE"),
        ]
        .into_iter()
        .find_map(|(set, name)| (!set).then_some(name))
    }
}

/// A certificate object read from the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCertificate {
    /// `CKA_LABEL`.
    pub label: String,
    /// `CKA_ID` (the id of the key it certifies).
    pub id: Vec<u8>,
    /// `CKA_VALUE`: the DER certificate.
    pub der: Vec<u8>,
}

/// Token identity and state, as reported to operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenStatus {
    /// Token label.
    pub label: String,
    /// Token serial number.
    pub serial: String,
    /// Token model.
    pub model: String,
    /// Whether the checked-out session is logged in as the user.
    pub logged_in: bool,
}

/// The checks every store makes before signing: the scheme fits the key and the digest has the
/// scheme's length. Done before the token is touched.
pub(crate) fn check_sign_request(algorithm: KeyAlgorithm, scheme: SignatureScheme, digest: &[u8]) -> Result<()> {
    if !scheme.fits(algorithm) {
        return Err(Error::SchemeMismatch { algorithm, scheme });
    }
    let want = scheme.hash().output_len();
    if digest.len() != want {
        return Err(Error::DigestLength { scheme, got: digest.len(), want });
    }
    Ok(())
}

/// A fresh random `CKA_ID` for a persistent key.
pub(crate) fn new_key_id() -> Vec<u8> {
    let mut id = vec![0u8; 16];
    getrandom::fill(&mut id).expect("the operating system's random source failed");
    id
}
