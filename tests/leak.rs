//! The leak invariant: ten thousand one-time keys, some of their transactions failing between
//! key generation and destruction (an error returned, a signature refused, a panic), and
//! afterwards the token holds exactly what provisioning put there — checked from inside the
//! process, which sees session objects, and by pkcs11-tool, which sees the token.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use esignd::config::KeyLabels;
use esignd::hsm::{Error, HashAlgorithm, KeyAlgorithm, KeySession, KeyStore, ObjectInfo, SignatureScheme};
use esignd::provision::{DevPlan, provision_dev};

const CYCLES: usize = 10_000;

#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Completed,
    ReturnedEarly,
    SignRefused,
    Panicked,
}

#[test]
fn ten_thousand_one_time_keys_leave_nothing_behind() {
    let token = common::new_token(2);
    let labels = KeyLabels::default();
    let provisioned: Vec<ObjectInfo> = {
        let session = token.store.session().unwrap();
        provision_dev(&session, &labels, &DevPlan::default()).unwrap();
        common::sorted(session.objects().unwrap())
    };
    assert_eq!(provisioned.len(), 11, "four key pairs, the audit secret and two certificates: {provisioned:?}");

    // Injected panics are expected; keep their messages out of the test output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut fates = [0usize; 4];
    for cycle in 0..CYCLES {
        let fate = catch_unwind(AssertUnwindSafe(|| one_transaction(&token.store, cycle)))
            .unwrap_or(Ok(Fate::Panicked))
            .unwrap();
        fates[fate as usize] += 1;
    }
    std::panic::set_hook(default_hook);
    assert!(fates.iter().all(|n| *n > 0), "every kind of ending happened: {fates:?}");

    let session = token.store.session().unwrap();
    assert_eq!(common::sorted(session.objects().unwrap()), provisioned, "in-process view, session objects included");
    drop(session);

    let listing = common::pkcs11_tool_listing(&token.label);
    let objects = listing.matches(" Object;").count();
    assert_eq!(objects, provisioned.len(), "pkcs11-tool sees only the provisioned objects:\n{listing}");
    for label in ["esignd-ca", "esignd-tsa", "esignd-service"] {
        assert!(listing.contains(label), "{label} missing:\n{listing}");
    }
}

/// One one-time-key transaction; some cycles fail on purpose between keygen and destroy.
fn one_transaction<K: KeyStore>(store: &K, cycle: usize) -> Result<Fate, Error> {
    let session = store.session()?;
    let key = session.generate_ephemeral(KeyAlgorithm::P256)?;
    let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
    match cycle % 10 {
        3 => return Ok(Fate::ReturnedEarly),
        5 => {
            let refused = key.sign_digest(scheme, &[0; 20]);
            assert!(matches!(refused, Err(Error::DigestLength { .. })));
            return Ok(Fate::SignRefused);
        }
        7 => panic!("injected failure in cycle {cycle}"),
        _ => {}
    }
    for n in 0..3u8 {
        key.sign_digest(scheme, &[n; 32])?;
    }
    key.destroy()?;
    Ok(Fate::Completed)
}
