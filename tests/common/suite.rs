//! One suite, run against both key stores (tests/hsm_memory.rs and tests/hsm_softhsm.rs): what
//! a key store must do no matter what is behind it. Signatures are judged by openssl.

use std::panic::{AssertUnwindSafe, catch_unwind};

use der::EncodePem;
use der::pem::LineEnding;
use esignd::hsm::{Error, HashAlgorithm, KeyAlgorithm, KeySession, KeyStore, SignatureScheme};
use esignd::pki::verify::{verify_digest, verify_message};

use super::{openssl, text};

/// Every algorithm with every scheme it supports.
pub fn schemes() -> Vec<(KeyAlgorithm, Vec<SignatureScheme>)> {
    use HashAlgorithm::*;
    use SignatureScheme::*;
    vec![
        (KeyAlgorithm::P256, vec![Ecdsa(Sha256), Ecdsa(Sha384)]),
        (KeyAlgorithm::P384, vec![Ecdsa(Sha384), Ecdsa(Sha512)]),
        (KeyAlgorithm::Rsa2048, vec![RsaPkcs1v15(Sha256), RsaPss(Sha256), RsaPkcs1v15(Sha512)]),
        (KeyAlgorithm::Rsa3072, vec![RsaPkcs1v15(Sha384), RsaPss(Sha384)]),
    ]
}

/// Check a signature over `message` with `openssl dgst -verify`.
pub fn openssl_verifies(public_key_pem: &str, scheme: SignatureScheme, message: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (key, msg, sig) = (dir.path().join("key.pem"), dir.path().join("msg"), dir.path().join("sig"));
    std::fs::write(&key, public_key_pem).unwrap();
    std::fs::write(&msg, message).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let mut args: Vec<std::ffi::OsString> =
        vec!["dgst".into(), format!("-sha{}", scheme.hash().output_len() * 8).into(), "-verify".into(), key.into()];
    if let SignatureScheme::RsaPss(_) = scheme {
        args.extend(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"].map(Into::into));
    }
    args.extend(["-signature".into(), sig.into(), msg.into()]);
    let out = openssl(&args);
    let verified = out.status.success() && text(&out.stdout).contains("Verified OK");
    if !verified && signature.len() > 1 {
        // Make sure a failure is the signature's fault, not the harness's.
        assert!(
            text(&out.stdout).contains("Verification failure") || text(&out.stderr).contains("failure"),
            "{}",
            text(&out.stderr)
        );
    }
    verified
}

fn random_message() -> Vec<u8> {
    let mut message = vec![0u8; 100];
    getrandom::fill(&mut message).unwrap();
    message
}

/// Ephemeral keys of every algorithm sign digests that openssl and RustCrypto accept, and a
/// flipped bit is rejected by both.
pub fn every_algorithm_signs_verifiably<K: KeyStore>(store: &K) {
    let session = store.session().unwrap();
    for (algorithm, schemes) in schemes() {
        let key = session.generate_ephemeral(algorithm).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        let pem = key.public_key().to_pem(LineEnding::LF).unwrap();
        for scheme in schemes {
            let message = random_message();
            let digest = scheme.hash().digest(&message);
            let signature = key.sign_digest(scheme, &digest).unwrap();
            assert!(openssl_verifies(&pem, scheme, &message, &signature), "openssl rejected {algorithm} {scheme}");
            verify_digest(key.public_key(), scheme, &digest, &signature).unwrap();
            let announced = scheme.algorithm_identifier().unwrap();
            verify_message(key.public_key(), &announced, &message, &signature)
                .expect("ring (or the RustCrypto fallback) agrees");

            let mut tampered = message.clone();
            tampered[0] ^= 1;
            assert!(!openssl_verifies(&pem, scheme, &tampered, &signature), "openssl accepted a tampered {scheme}");
            assert!(verify_digest(key.public_key(), scheme, &scheme.hash().digest(&tampered), &signature).is_err());
            assert!(verify_message(key.public_key(), &announced, &tampered, &signature).is_err());
        }
    }
}

/// Session objects of this store, as the store reports them.
fn session_objects<S: KeySession>(session: &S) -> usize {
    session.objects().unwrap().iter().filter(|o| !o.on_token).count()
}

/// An ephemeral key is two session objects while its guard lives and none afterwards, whether
/// the guard is dropped, destroyed explicitly, left by `?`, or unwound by a panic.
pub fn ephemeral_keys_never_outlive_their_guard<K: KeyStore>(store: &K) {
    let session = store.session().unwrap();
    assert_eq!(session_objects(&session), 0);
    {
        let _key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();
        assert_eq!(session_objects(&session), 2, "private and public half, both session objects");
    }
    assert_eq!(session_objects(&session), 0, "dropped guard destroys the key");

    session.generate_ephemeral(KeyAlgorithm::P256).unwrap().destroy().unwrap();
    assert_eq!(session_objects(&session), 0, "explicit destroy");

    let failing = || -> Result<(), Error> {
        let key = session.generate_ephemeral(KeyAlgorithm::P256)?;
        key.sign_digest(SignatureScheme::Ecdsa(HashAlgorithm::Sha256), b"too short")?;
        Ok(())
    };
    assert!(matches!(failing(), Err(Error::DigestLength { got: 9, want: 32, .. })));
    assert_eq!(session_objects(&session), 0, "early return");

    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let _key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();
        panic!("injected failure between keygen and destroy");
    }));
    assert!(panicked.is_err());
    assert_eq!(session_objects(&session), 0, "panic");
}

/// Requests that cannot be right fail before the token is asked.
pub fn bad_sign_requests_are_refused<K: KeyStore>(store: &K) {
    let session = store.session().unwrap();
    let key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();
    let err = key.sign_digest(SignatureScheme::RsaPss(HashAlgorithm::Sha256), &[0; 32]).unwrap_err();
    assert!(matches!(err, Error::SchemeMismatch { .. }), "{err}");
    let err = key.sign_digest(SignatureScheme::Ecdsa(HashAlgorithm::Sha384), &[0; 32]).unwrap_err();
    assert_eq!(err.to_string(), "digest is 32 bytes but ecdsa-sha384 signs 48-byte digests");
}

/// Persistent keys are found by label (and id), labels are never reused, destroy removes both
/// halves.
pub fn persistent_keys_by_label_and_id<K: KeyStore>(store: &K) {
    let session = store.session().unwrap();
    let key = session.generate_persistent(KeyAlgorithm::P384, "suite-key").unwrap();
    assert_eq!(key.id().len(), 16);
    let found = session.key("suite-key", None).unwrap();
    assert_eq!(found.public_key(), key.public_key());
    assert_eq!(found.algorithm(), KeyAlgorithm::P384);
    assert!(session.find_key("suite-key", Some(&[0xff; 16])).unwrap().is_none(), "wrong CKA_ID");
    assert!(session.find_key("suite-key", Some(key.id())).unwrap().is_some());

    let err = session.generate_persistent(KeyAlgorithm::P256, "suite-key").unwrap_err();
    assert!(matches!(err, Error::ObjectExists { .. }), "{err}");

    let digest = [7u8; 48];
    let signature = session.sign_digest(&found, SignatureScheme::Ecdsa(HashAlgorithm::Sha384), &digest).unwrap();
    verify_digest(key.public_key(), SignatureScheme::Ecdsa(HashAlgorithm::Sha384), &digest, &signature).unwrap();

    session.destroy_key(&found).unwrap();
    assert!(session.find_key("suite-key", None).unwrap().is_none());
    assert!(session.objects().unwrap().iter().all(|o| o.label != "suite-key"));
    assert!(matches!(session.key("suite-key", None), Err(Error::KeyNotFound { .. })));
}
