//! SoftHSM tier: the key-store suite on a real PKCS#11 token, plus what only a real token has —
//! the attributes of the objects esignd creates, the session pool under concurrency, and
//! recovery when sessions are closed underneath the pool.

mod common;

use std::sync::Arc;
use std::thread;

use cryptoki::object::{Attribute, AttributeType};
use esignd::hsm::{Error, HashAlgorithm, KeyAlgorithm, KeySession, KeyStore, SignatureScheme};
use esignd::pki::verify::verify_digest;

#[test]
fn every_algorithm_signs_verifiably() {
    common::suite::every_algorithm_signs_verifiably(&common::new_token(2).store);
}

#[test]
fn ephemeral_keys_never_outlive_their_guard() {
    common::suite::ephemeral_keys_never_outlive_their_guard(&common::new_token(2).store);
}

#[test]
fn bad_sign_requests_are_refused() {
    common::suite::bad_sign_requests_are_refused(&common::new_token(1).store);
}

#[test]
fn persistent_keys_by_label_and_id() {
    common::suite::persistent_keys_by_label_and_id(&common::new_token(1).store);
}

/// Read attributes of the ephemeral key's private half with cryptoki directly: session object,
/// sensitive, never extractable, sign only.
#[test]
fn ephemeral_private_keys_are_sensitive_sign_only_session_objects() {
    let token = common::new_token(1);
    let session = token.store.session().unwrap();
    let _key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();

    let ctx = esignd::hsm::pkcs11::context::load(&common::module()).unwrap();
    let selector = esignd::hsm::pkcs11::TokenSelector::Label(token.label.clone());
    let (slot, _) = esignd::hsm::pkcs11::token::find(&ctx, &selector).unwrap();
    let raw = ctx.open_ro_session(slot).unwrap(); // same application: already logged in
    let private = raw
        .find_objects(&[Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY), Attribute::Token(false)])
        .unwrap();
    assert_eq!(private.len(), 1, "exactly the one ephemeral private key");
    let attrs = raw
        .get_attributes(
            private[0],
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Derive,
                AttributeType::Unwrap,
            ],
        )
        .unwrap();
    for expected in [
        Attribute::Token(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::NeverExtractable(true),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Derive(false),
        Attribute::Unwrap(false),
    ] {
        assert!(attrs.contains(&expected), "{expected:?} missing from {attrs:?}");
    }
}

/// Many threads share a pool smaller than their number; every cycle completes, every signature
/// verifies, and no key is left behind.
#[test]
fn pool_serves_many_threads() {
    let token = common::new_token(3);
    let store = Arc::new(token.store);
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for round in 0..40u8 {
                    let session = store.session().unwrap();
                    let key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();
                    let digest = HashAlgorithm::Sha256.digest(&[worker, round]);
                    let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
                    let signature = key.sign_digest(scheme, &digest).unwrap();
                    verify_digest(key.public_key(), scheme, &digest, &signature).unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let session = store.session().unwrap();
    assert!(session.objects().unwrap().is_empty(), "no session object survives");
}

/// A pool whose sessions are all taken makes the next caller wait only until the deadline.
#[test]
fn exhausted_pool_answers_busy_after_the_deadline() {
    let token = common::new_token(1);
    let mut settings = common::settings(&token.label, 1, common::USER_PIN);
    settings.call_timeout = std::time::Duration::from_millis(200);
    let store = esignd::hsm::pkcs11::Pkcs11KeyStore::open(settings).unwrap();
    let held = store.session().unwrap();
    assert!(matches!(store.session(), Err(Error::Busy(_))));
    drop(held);
    store.session().expect("a returned session is handed out again");
}

/// `C_CloseAllSessions` from underneath (what a token reset or a network HSM failover does):
/// the pool notices, opens new sessions, logs in again, and signing works.
#[test]
fn pool_recovers_when_sessions_are_closed_underneath() {
    let token = common::new_token(2);
    let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
    let sign_once = || {
        let session = token.store.session()?;
        let key = session.generate_ephemeral(KeyAlgorithm::P256)?;
        key.sign_digest(scheme, &[1; 32])
    };
    sign_once().unwrap();

    // Idle sessions closed underneath: the next checkout replaces them transparently.
    close_all_sessions(&token.label);
    sign_once().expect("the pool reopens idle sessions closed underneath");
    assert!(token.store.status().unwrap().logged_in);

    // A session closed while checked out: that call fails with the PKCS#11 error, the session
    // is discarded instead of going back to the pool, and the next transaction works.
    let session = token.store.session().unwrap();
    close_all_sessions(&token.label);
    let err = session.generate_ephemeral(KeyAlgorithm::P256).err().expect("the session is gone");
    assert!(err.is_session_fatal(), "{err}");
    drop(session);
    sign_once().expect("a fresh session after a fatal error");
}

/// Close every session of this process on the token, behind esignd's back, through the raw
/// PKCS#11 function (the test, not esignd, uses unsafe code).
fn close_all_sessions(label: &str) {
    let ctx = esignd::hsm::pkcs11::context::load(&common::module()).unwrap();
    let selector = esignd::hsm::pkcs11::TokenSelector::Label(label.to_owned());
    let (slot, _) = esignd::hsm::pkcs11::token::find(&ctx, &selector).unwrap();
    // SAFETY: loads the already-loaded module again (same handle) and calls C_CloseAllSessions
    // with a valid slot id; the library is initialised by this process.
    let rv = unsafe {
        let lib = cryptoki_sys::Pkcs11::new(common::module()).unwrap();
        lib.C_CloseAllSessions(slot.id() as cryptoki_sys::CK_SLOT_ID)
    };
    assert_eq!(rv, cryptoki_sys::CKR_OK as cryptoki_sys::CK_RV);
}

/// A wrong PIN is tried once: opening fails with a clear error, and because esignd never
/// retries, the right PIN still works afterwards.
#[test]
fn wrong_pin_fails_once_and_clearly() {
    let token = common::new_token(1);
    // Login is per application: while this process holds a logged-in pool on the token, the
    // token does not check a PIN again. Close it, as at a fresh start.
    let label = token.label.clone();
    drop(token.store);
    let err = esignd::hsm::pkcs11::Pkcs11KeyStore::open(common::settings(&label, 1, "not-the-pin"))
        .err()
        .expect("a wrong PIN must not open the store");
    let message = err.to_string();
    assert!(matches!(err, Error::PinIncorrect { .. }), "{message}");
    assert!(message.contains("CKR_PIN_INCORRECT") && message.contains(&label), "{message}");
    assert!(!message.contains("not-the-pin"), "the PIN must not appear in errors: {message}");
    common::open_store(&label, 1).session().unwrap();
}

/// An unknown token label lists what is there.
#[test]
fn unknown_token_is_named_with_the_alternatives() {
    let token = common::new_token(1);
    let err = esignd::hsm::pkcs11::Pkcs11KeyStore::open(common::settings("no-such-token", 1, common::USER_PIN))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no token labelled 'no-such-token'") && err.contains(&token.label), "{err}");
}

/// A module path that does not exist says how to fix it.
#[test]
fn missing_module_says_what_to_install() {
    let mut settings = common::settings("x", 1, common::USER_PIN);
    settings.module = "/nonexistent/libpkcs11.so".into();
    let err = esignd::hsm::pkcs11::Pkcs11KeyStore::open(settings).err().unwrap().to_string();
    assert!(err.contains("/nonexistent/libpkcs11.so") && err.contains("apt-get install softhsm2"), "{err}");
}
