//! [`EphemeralKey`]: the guard that makes "the one-time key never outlives its transaction" a
//! property of the type rather than of every caller's error handling.
//!
//! The key is destroyed when the guard is dropped: on success, on an early `?` return, and
//! while unwinding from a panic. If destroying fails the session is discarded, and closing a
//! PKCS#11 session destroys its session objects, so the key goes either way. If the process
//! dies, the token drops session objects with the session.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{KeyPair, KeySession, Result, SignatureScheme};

/// A key pair generated for one transaction; destroyed on drop.
pub struct EphemeralKey<'s, S: KeySession> {
    session: &'s S,
    key: Option<KeyPair<S::Handle>>,
    /// For a key another session made (the key pool's): set when destroying it fails, so that
    /// its maker closes the session the key lives in.
    maker: Option<Arc<AtomicBool>>,
}

impl<'s, S: KeySession> EphemeralKey<'s, S> {
    /// Only key stores make guards, right after generating the key.
    pub(crate) fn new(session: &'s S, key: KeyPair<S::Handle>) -> Self {
        Self { session, key: Some(key), maker: None }
    }

    /// A guard in `session` over a key another session made ([`KeySession::adopt`]).
    pub(crate) fn adopted(session: &'s S, key: KeyPair<S::Handle>, maker: Arc<AtomicBool>) -> Self {
        Self { session, key: Some(key), maker: Some(maker) }
    }

    /// Sign a digest with the ephemeral key.
    ///
    /// # Errors
    /// As [`KeySession::sign_digest`].
    pub fn sign_digest(&self, scheme: SignatureScheme, digest: &[u8]) -> Result<Vec<u8>> {
        self.session.sign_digest(self, scheme, digest)
    }

    /// The session the key lives in.
    pub fn session(&self) -> &'s S {
        self.session
    }

    /// Destroy the key now and report whether the token confirmed it. Dropping the guard does
    /// the same but can only log a failure.
    ///
    /// # Errors
    /// When the token refuses to destroy the key; the session is then discarded, which removes
    /// the key with it.
    pub fn destroy(mut self) -> Result<()> {
        let key = self.key.take().expect("an ephemeral key is destroyed only once");
        destroy_or_discard(self.session, &key, self.maker.as_deref())
    }
}

impl<S: KeySession> Deref for EphemeralKey<'_, S> {
    type Target = KeyPair<S::Handle>;

    fn deref(&self) -> &Self::Target {
        self.key.as_ref().expect("an ephemeral key is used only before it is destroyed")
    }
}

impl<S: KeySession> Drop for EphemeralKey<'_, S> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // The error has been logged and the session discarded; nothing more to do in drop.
            let _ = destroy_or_discard(self.session, &key, self.maker.as_deref());
        }
    }
}

fn destroy_or_discard<S: KeySession>(session: &S, key: &KeyPair<S::Handle>, maker: Option<&AtomicBool>) -> Result<()> {
    session.destroy_key(key).inspect_err(|e| {
        tracing::warn!(error = %e, "destroying an ephemeral key failed; closing its session so the token drops it");
        match maker {
            Some(maker) => maker.store(true, Ordering::Release),
            None => session.discard(),
        }
    })
}
