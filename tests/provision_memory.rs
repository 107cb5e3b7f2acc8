//! Service tier: CA, TSA and service-key provisioning on the in-memory key store, with the
//! certificates handed to `openssl` as the independent judge.

use std::process::Command;

use esignd::ca::chain;
use esignd::config::KeyLabels;
use esignd::hsm::memory::MemoryKeyStore;
use esignd::hsm::{KeySession, KeyStore};
use esignd::pki::pem::write_chain;
use esignd::provision::{DevPlan, Outcome, provision_dev};

fn labels() -> KeyLabels {
    KeyLabels::default()
}

#[test]
fn provision_twice_changes_nothing_and_openssl_accepts_the_chain() {
    let store = MemoryKeyStore::new();
    let session = store.session().unwrap();
    let (first, inventory) = provision_dev(&session, &labels(), &DevPlan::default()).unwrap();
    assert!(first.iter().all(|(_, outcome)| *outcome == Outcome::Created), "{first:?}");

    let (second, again) = provision_dev(&session, &labels(), &DevPlan::default()).unwrap();
    assert!(second.iter().all(|(_, outcome)| *outcome == Outcome::Present), "{second:?}");
    assert_eq!(inventory.ca_chain, again.ca_chain);
    assert_eq!(
        session.objects().unwrap().len(),
        4 * 2 + 1 + 2,
        "four key pairs, the audit secret and two certificates"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), write_chain(&inventory.ca_chain).unwrap()).unwrap();
    std::fs::write(dir.path().join("tsa.pem"), write_chain([&inventory.tsa_certificate]).unwrap()).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-purpose", "timestampsign", "-CAfile"])
        .arg(dir.path().join("ca.pem"))
        .arg(dir.path().join("tsa.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl verify: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn create_root_refuses_an_existing_ca() {
    let store = MemoryKeyStore::new();
    let session = store.session().unwrap();
    provision_dev(&session, &labels(), &DevPlan::default()).unwrap();
    let before = chain::load(&session, "esignd-ca").unwrap().unwrap();
    let err = esignd::ca::root::create_root(
        &session,
        "esignd-ca",
        esignd::hsm::KeyAlgorithm::P256,
        "CN=Other,O=X,C=EE",
        10,
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(chain::load(&session, "esignd-ca").unwrap().unwrap(), before);
}
