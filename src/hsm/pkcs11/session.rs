//! [`Pkcs11Session`]: one pooled PKCS#11 session, and the key operations on it.
//!
//! Every call's result passes through [`Pkcs11Session::check`], which marks the session broken
//! on a fatal return code so that it is closed, not reused, when it goes back to the pool.

use std::cell::Cell;
use std::sync::Arc;

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;

use super::pool::Pool;
use super::templates::{self, Naming};
use crate::hsm::encoding::{algorithm_from_ec_params, digest_info, ec_point, ec_spki, ecdsa_raw_to_der, rsa_spki};
use crate::hsm::{
    EphemeralKey, Error, HashAlgorithm, KeyAlgorithm, KeyPair, KeyProtection, KeySession, ObjectClass as Class,
    ObjectInfo, Result, SignatureScheme, StoredCertificate, check_sign_request, new_key_id,
};

/// The two objects of a key pair on a PKCS#11 token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkcs11Handle {
    private: ObjectHandle,
    public: ObjectHandle,
}

/// A persistent secret key on a PKCS#11 token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkcs11Secret(ObjectHandle);

/// A session checked out of the pool; returned (or closed, if broken) on drop.
pub struct Pkcs11Session {
    pool: Arc<Pool>,
    session: Option<Session>,
    broken: Cell<bool>,
    /// Checked out of the pool (returned on drop) rather than opened on its own (closed).
    pooled: bool,
}

impl Pkcs11Session {
    pub(crate) fn new(pool: Arc<Pool>, session: Session) -> Self {
        Self { pool, session: Some(session), broken: Cell::new(false), pooled: true }
    }

    /// A session of its own ([`crate::hsm::KeyStore::own_session`]): closed when dropped.
    pub(crate) fn own(pool: Arc<Pool>, session: Session) -> Self {
        Self { pool, session: Some(session), broken: Cell::new(false), pooled: false }
    }

    fn raw(&self) -> &Session {
        self.session.as_ref().expect("a pooled session is present until it is dropped")
    }

    /// The PKCS#11 session handle. Useful to correlate with HSM-side logs; tests use it to
    /// close a session underneath the pool.
    pub fn handle(&self) -> u64 {
        self.raw().handle()
    }

    /// Login state of the session as the token reports it.
    pub(crate) fn session_state(&self) -> Result<cryptoki::session::SessionState> {
        Ok(self.check(self.raw().get_session_info())?.session_state())
    }

    /// Convert a cryptoki result, remembering fatal errors.
    fn check<T>(&self, result: cryptoki::error::Result<T>) -> Result<T> {
        result.map_err(|e| {
            let e = Error::from(e);
            if e.is_session_fatal() {
                self.broken.set(true);
            }
            e
        })
    }

    fn find(&self, template: &[Attribute]) -> Result<Vec<ObjectHandle>> {
        self.check(self.raw().find_objects(template))
    }

    fn attributes(&self, object: ObjectHandle, types: &[AttributeType]) -> Result<Vec<Attribute>> {
        self.check(self.raw().get_attributes(object, types))
    }

    /// Generate a key pair and read its public half; on any failure after generation the pair
    /// is destroyed again, so nothing half-made stays on the token.
    fn generate(&self, algorithm: KeyAlgorithm, naming: Option<Naming<'_>>) -> Result<KeyPair<Pkcs11Handle>> {
        let (label, id) = naming.as_ref().map(|n| (n.label.to_owned(), n.id.to_vec())).unwrap_or_default();
        let (mechanism, public, private) = templates::key_pair(algorithm, naming)?;
        let (public, private) = self.check(self.raw().generate_key_pair(&mechanism, &public, &private))?;
        let handle = Pkcs11Handle { private, public };
        let mut pending = DestroyUnlessKept { session: self, handle: Some(handle) };
        let public_key = self.public_key(algorithm, public)?;
        pending.keep();
        Ok(KeyPair::new(handle, algorithm, label, id, public_key))
    }

    /// Read the public key object into a `SubjectPublicKeyInfo`.
    fn public_key(&self, algorithm: KeyAlgorithm, public: ObjectHandle) -> Result<SubjectPublicKeyInfoOwned> {
        if algorithm.is_rsa() {
            let attrs = self.attributes(public, &[AttributeType::Modulus, AttributeType::PublicExponent])?;
            let modulus = pick(&attrs, "CKA_MODULUS", |a| if let Attribute::Modulus(v) = a { Some(v) } else { None })?;
            let exponent =
                pick(
                    &attrs,
                    "CKA_PUBLIC_EXPONENT",
                    |a| if let Attribute::PublicExponent(v) = a { Some(v) } else { None },
                )?;
            rsa_spki(modulus, exponent)
        } else {
            let attrs = self.attributes(public, &[AttributeType::EcPoint])?;
            let point = pick(&attrs, "CKA_EC_POINT", |a| if let Attribute::EcPoint(v) = a { Some(v) } else { None })?;
            let field_len = algorithm.ec_field_len().expect("EC algorithms have a field length");
            ec_spki(algorithm, &ec_point(point, field_len)?)
        }
    }

    /// Which of esignd's algorithms a public key object holds.
    fn algorithm_of(&self, public: ObjectHandle) -> Result<KeyAlgorithm> {
        let attrs = self.attributes(public, &[AttributeType::KeyType])?;
        let key_type = *pick(&attrs, "CKA_KEY_TYPE", |a| if let Attribute::KeyType(t) = a { Some(t) } else { None })?;
        if key_type == KeyType::EC {
            let attrs = self.attributes(public, &[AttributeType::EcParams])?;
            let params =
                pick(&attrs, "CKA_EC_PARAMS", |a| if let Attribute::EcParams(v) = a { Some(v) } else { None })?;
            algorithm_from_ec_params(params)
                .ok_or(Error::Malformed { what: "EC key", detail: "its curve is neither P-256 nor P-384".to_owned() })
        } else if key_type == KeyType::RSA {
            let attrs = self.attributes(public, &[AttributeType::Modulus])?;
            let modulus = pick(&attrs, "CKA_MODULUS", |a| if let Attribute::Modulus(v) = a { Some(v) } else { None })?;
            let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
            KeyAlgorithm::ALL.into_iter().find(|alg| alg.rsa_bits() == Some(bits as u32)).ok_or(Error::Malformed {
                what: "RSA key",
                detail: format!("RSA-{bits}; esignd uses RSA-2048 and RSA-3072"),
            })
        } else {
            Err(Error::Malformed { what: "key", detail: format!("key type {key_type} is not EC or RSA") })
        }
    }
}

impl Drop for Pkcs11Session {
    fn drop(&mut self) {
        let session = self.session.take();
        if !self.pooled {
            drop(session); // C_CloseSession, destroying the session objects made in it
        } else if self.broken.get() {
            self.pool.release(None);
            drop(session); // C_CloseSession: also destroys any session object left in it
        } else {
            self.pool.release(session);
        }
    }
}

/// Destroys a freshly generated pair unless [`DestroyUnlessKept::keep`] is called.
struct DestroyUnlessKept<'a> {
    session: &'a Pkcs11Session,
    handle: Option<Pkcs11Handle>,
}

impl DestroyUnlessKept<'_> {
    fn keep(&mut self) {
        self.handle = None;
    }
}

impl Drop for DestroyUnlessKept<'_> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take()
            && destroy_pair(self.session, handle).is_err()
        {
            self.session.discard();
        }
    }
}

fn destroy_pair(session: &Pkcs11Session, handle: Pkcs11Handle) -> Result<()> {
    let private = session.check(session.raw().destroy_object(handle.private));
    let public = session.check(session.raw().destroy_object(handle.public));
    private.and(public)
}

/// The first attribute `select` accepts, or `Malformed` naming the missing attribute (cryptoki
/// leaves out attributes the token would not reveal instead of failing).
fn pick<'a, T>(attrs: &'a [Attribute], name: &'static str, select: impl Fn(&'a Attribute) -> Option<T>) -> Result<T> {
    attrs
        .iter()
        .find_map(select)
        .ok_or(Error::Malformed { what: name, detail: "the token did not return it".to_owned() })
}

fn label_and_id(attrs: &[Attribute]) -> (String, Vec<u8>) {
    let mut label = String::new();
    let mut id = Vec::new();
    for attr in attrs {
        match attr {
            Attribute::Label(l) => label = String::from_utf8_lossy(l).into_owned(),
            Attribute::Id(i) => id.clone_from(i),
            _ => {}
        }
    }
    (label, id)
}

fn hash_mechanism(hash: HashAlgorithm) -> (MechanismType, PkcsMgfType) {
    match hash {
        HashAlgorithm::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        HashAlgorithm::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        HashAlgorithm::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
    }
}

impl KeySession for Pkcs11Session {
    type Handle = Pkcs11Handle;
    type Secret = Pkcs11Secret;

    fn generate_ephemeral(&self, algorithm: KeyAlgorithm) -> Result<EphemeralKey<'_, Self>> {
        let key = self.generate(algorithm, None)?;
        Ok(EphemeralKey::new(self, key))
    }

    fn generate_unguarded(&self, algorithm: KeyAlgorithm) -> Result<KeyPair<Pkcs11Handle>> {
        self.generate(algorithm, None)
    }

    fn generate_persistent(&self, algorithm: KeyAlgorithm, label: &str) -> Result<KeyPair<Pkcs11Handle>> {
        if !self.find(&[Attribute::Label(label.as_bytes().to_vec())])?.is_empty() {
            return Err(Error::ObjectExists { label: label.to_owned() });
        }
        let id = new_key_id();
        self.generate(algorithm, Some(Naming { label, id: &id }))
    }

    fn find_key(&self, label: &str, id: Option<&[u8]>) -> Result<Option<KeyPair<Pkcs11Handle>>> {
        let mut template =
            vec![Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(label.as_bytes().to_vec())];
        if let Some(id) = id {
            template.push(Attribute::Id(id.to_vec()));
        }
        let private = match self.find(&template)?.as_slice() {
            [] => return Ok(None),
            [one] => *one,
            many => return Err(Error::KeyAmbiguous { label: label.to_owned(), count: many.len() }),
        };
        let (_, key_id) = label_and_id(&self.attributes(private, &[AttributeType::Id])?);
        let public = match self
            .find(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(key_id.clone()),
            ])?
            .as_slice()
        {
            [one] => *one,
            other => {
                return Err(Error::Malformed {
                    what: "key pair",
                    detail: format!("{} public key objects match the private key '{label}', expected one", other.len()),
                });
            }
        };
        let algorithm = self.algorithm_of(public)?;
        let public_key = self.public_key(algorithm, public)?;
        Ok(Some(KeyPair::new(Pkcs11Handle { private, public }, algorithm, label.to_owned(), key_id, public_key)))
    }

    fn sign_digest(&self, key: &KeyPair<Pkcs11Handle>, scheme: SignatureScheme, digest: &[u8]) -> Result<Vec<u8>> {
        check_sign_request(key.algorithm(), scheme, digest)?;
        let private = key.handle().private;
        match scheme {
            SignatureScheme::Ecdsa(_) => {
                let raw = self.check(self.raw().sign(&Mechanism::Ecdsa, private, digest))?;
                let field_len = key.algorithm().ec_field_len().expect("ECDSA keys are EC keys");
                ecdsa_raw_to_der(&raw, field_len)
            }
            SignatureScheme::RsaPkcs1v15(hash) => {
                self.check(self.raw().sign(&Mechanism::RsaPkcs, private, &digest_info(hash, digest)?))
            }
            SignatureScheme::RsaPss(hash) => {
                let (hash_alg, mgf) = hash_mechanism(hash);
                let params = PkcsPssParams { hash_alg, mgf, s_len: (hash.output_len() as u64).into() };
                self.check(self.raw().sign(&Mechanism::RsaPkcsPss(params), private, digest))
            }
        }
    }

    fn destroy_key(&self, key: &KeyPair<Pkcs11Handle>) -> Result<()> {
        destroy_pair(self, *key.handle())
    }

    fn protection(&self, key: &KeyPair<Pkcs11Handle>) -> Result<KeyProtection> {
        let types = [AttributeType::Sensitive, AttributeType::NeverExtractable, AttributeType::AlwaysSensitive];
        let attrs = self.attributes(key.handle().private, &types)?;
        let mut protection = KeyProtection { sensitive: false, never_extractable: false, always_sensitive: false };
        for attribute in attrs {
            match attribute {
                Attribute::Sensitive(set) => protection.sensitive = set,
                Attribute::NeverExtractable(set) => protection.never_extractable = set,
                Attribute::AlwaysSensitive(set) => protection.always_sensitive = set,
                _ => {}
            }
        }
        Ok(protection)
    }

    fn objects(&self) -> Result<Vec<ObjectInfo>> {
        let types = [AttributeType::Class, AttributeType::Label, AttributeType::Id, AttributeType::Token];
        self.find(&[])?
            .into_iter()
            .map(|object| {
                let attrs = self.attributes(object, &types)?;
                let (label, id) = label_and_id(&attrs);
                let class = match attrs.iter().find_map(|a| if let Attribute::Class(c) = a { Some(*c) } else { None }) {
                    Some(ObjectClass::PRIVATE_KEY) => Class::PrivateKey,
                    Some(ObjectClass::PUBLIC_KEY) => Class::PublicKey,
                    Some(ObjectClass::CERTIFICATE) => Class::Certificate,
                    Some(ObjectClass::SECRET_KEY) => Class::SecretKey,
                    _ => Class::Other,
                };
                let on_token = attrs.iter().any(|a| matches!(a, Attribute::Token(true)));
                Ok(ObjectInfo { class, label, id, on_token })
            })
            .collect()
    }

    fn generate_secret(&self, label: &str) -> Result<()> {
        if !self.find(&[Attribute::Label(label.as_bytes().to_vec())])?.is_empty() {
            return Err(Error::ObjectExists { label: label.to_owned() });
        }
        let template = templates::hmac_secret(label, &new_key_id());
        self.check(self.raw().generate_key(&Mechanism::GenericSecretKeyGen, &template))?;
        Ok(())
    }

    fn find_secret(&self, label: &str) -> Result<Option<Pkcs11Secret>> {
        let template = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Label(label.as_bytes().to_vec())];
        match self.find(&template)?.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(Pkcs11Secret(*one))),
            many => Err(Error::KeyAmbiguous { label: label.to_owned(), count: many.len() }),
        }
    }

    fn hmac_sha256(&self, key: &Pkcs11Secret, data: &[u8]) -> Result<Vec<u8>> {
        self.check(self.raw().sign(&Mechanism::Sha256Hmac, key.0, data))
    }

    fn store_certificate(&self, label: &str, id: &[u8], der: &[u8]) -> Result<()> {
        let existing =
            self.find(&[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Label(label.as_bytes().to_vec())])?;
        if !existing.is_empty() {
            return Err(Error::ObjectExists { label: label.to_owned() });
        }
        let cert = x509_cert::Certificate::from_der(der)?;
        let tbs = cert.tbs_certificate();
        let template = templates::certificate(
            label,
            id,
            der,
            tbs.subject().to_der()?,
            tbs.issuer().to_der()?,
            tbs.serial_number().to_der()?,
        );
        self.check(self.raw().create_object(&template))?;
        Ok(())
    }

    fn certificates(&self) -> Result<Vec<StoredCertificate>> {
        let types = [AttributeType::Label, AttributeType::Id, AttributeType::Value];
        self.find(&[Attribute::Class(ObjectClass::CERTIFICATE)])?
            .into_iter()
            .map(|object| {
                let attrs = self.attributes(object, &types)?;
                let (label, id) = label_and_id(&attrs);
                let der =
                    pick(&attrs, "CKA_VALUE", |a| if let Attribute::Value(v) = a { Some(v.clone()) } else { None })?;
                Ok(StoredCertificate { label, id, der })
            })
            .collect()
    }

    fn discard(&self) {
        self.broken.set(true);
    }
}
