//! Service tier: the one-time transaction on the in-memory key store with the built-in TSA,
//! every output judged by openssl.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::oracle;
use esignd::cms::Profile;
use esignd::config::Config;
use esignd::hsm::memory::MemoryKeyStore;
use esignd::hsm::{HashAlgorithm, KeyStore};
use esignd::identity::Identity;
use esignd::pki::pem::write_chain;
use esignd::provision::{DevPlan, provision_dev};
use esignd::service::{OneTimeRequest, ServiceError, SigningService};

fn config(dir: &Path, extra: &str) -> Config {
    std::fs::write(dir.join("pin"), "0000\n").unwrap();
    let path = dir.join("esignd.toml");
    std::fs::write(&path, format!("[hsm]\npin_file = \"pin\"\n{extra}")).unwrap();
    Config::load(Some(&path)).unwrap()
}

fn service(dir: &Path, extra: &str) -> (Arc<SigningService<MemoryKeyStore>>, MemoryKeyStore) {
    let store = MemoryKeyStore::new();
    let config = config(dir, extra);
    provision_dev(&store.session().unwrap(), &config.hsm.keys, &DevPlan::default()).unwrap();
    (Arc::new(SigningService::new(Arc::new(store.clone()), &config).unwrap()), store)
}

#[tokio::test]
async fn cades_b_t_verifies_with_openssl_and_fails_on_a_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(dir.path(), "");
    let document = b"The document the citizen signs.\n".to_vec();
    let record = service
        .sign_one_time(OneTimeRequest {
            identity: Identity::new("Jane Doe", "PNOEE-38001085718").unwrap(),
            digest: HashAlgorithm::Sha256.digest(&document),
            hash: HashAlgorithm::Sha256,
            profile: Profile::Cades,
        })
        .await
        .unwrap();

    let p = |name: &str| dir.path().join(name);
    std::fs::write(p("document.bin"), &document).unwrap();
    std::fs::write(p("signature.p7s"), &record.cms).unwrap();
    std::fs::write(p("chain.pem"), write_chain(&record.chain).unwrap()).unwrap();
    let verified =
        oracle::cms_verify(dir.path(), &p("signature.p7s"), &p("document.bin"), &p("chain.pem"), record.gen_time);
    oracle::assert_ok(&verified, "openssl cms -verify");

    let mut changed = document.clone();
    changed[4] ^= 0x20;
    std::fs::write(p("changed.bin"), &changed).unwrap();
    let refused =
        oracle::cms_verify(dir.path(), &p("signature.p7s"), &p("changed.bin"), &p("chain.pem"), record.gen_time);
    assert!(!refused.status.success(), "openssl must refuse a changed document");

    std::fs::write(p("signature-value.bin"), oracle::signature_value(&record.cms)).unwrap();
    std::fs::write(p("token.tst"), &record.timestamp_token).unwrap();
    oracle::assert_ok(
        &oracle::ts_verify(&p("token.tst"), &p("signature-value.bin"), &p("chain.pem")),
        "openssl ts -verify",
    );
}

#[tokio::test]
async fn a_wrong_digest_length_is_refused_before_the_hsm_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let (service, store) = service(dir.path(), "");
    let before = store.sessions_opened();
    let err = service
        .sign_one_time(OneTimeRequest {
            identity: Identity::new("Jane Doe", "X-1").unwrap(),
            digest: vec![0; 31],
            hash: HashAlgorithm::Sha256,
            profile: Profile::Cades,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::DigestLength { got: 31, want: 32, .. }), "{err}");
    assert_eq!(store.sessions_opened(), before, "no HSM session was checked out");
}
