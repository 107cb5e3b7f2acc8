//! Service tier: the one-time transaction on the in-memory key store with the built-in TSA,
//! every output judged by openssl.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::oracle;
use esignd::config::Config;
use esignd::hsm::memory::MemoryKeyStore;
use esignd::hsm::{HashAlgorithm, KeyStore};
use esignd::identity::Identity;
use esignd::pki::pem::write_chain;
use esignd::provision::{DevPlan, provision_dev};
use esignd::service::engine::{EngineError, OneTimeRequest, SigningEngine};
use esignd::vocabulary::{Digest, DigestLength, Format};

fn config(dir: &Path, extra: &str) -> Config {
    std::fs::write(dir.join("pin"), "0000\n").unwrap();
    let path = dir.join("esignd.toml");
    std::fs::write(&path, format!("[hsm]\npin_file = \"pin\"\n{extra}")).unwrap();
    Config::load(Some(&path)).unwrap()
}

fn service(dir: &Path, extra: &str) -> (Arc<SigningEngine<MemoryKeyStore>>, MemoryKeyStore) {
    let store = MemoryKeyStore::new();
    let config = config(dir, extra);
    provision_dev(&store.session().unwrap(), &config.hsm.keys, &DevPlan::default()).unwrap();
    (Arc::new(SigningEngine::new(Arc::new(store.clone()), &config).unwrap()), store)
}

#[tokio::test]
async fn cades_b_t_verifies_with_openssl_and_fails_on_a_changed_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(dir.path(), "");
    let document = b"The document the citizen signs.\n".to_vec();
    let record = service
        .sign_one_time(OneTimeRequest {
            identity: Identity::new("Jane Doe", "PNOEE-38001085718").unwrap(),
            digest: Digest::of(HashAlgorithm::Sha256, &document),
            format: Format::Cades,
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
    // A request's digest is a `Digest`, which cannot be made of the wrong length: the refusal
    // comes where the bytes arrive, and no transaction can start with them.
    let err = Digest::new(HashAlgorithm::Sha256, vec![0; 31]).unwrap_err();
    assert_eq!(err, DigestLength { hash: HashAlgorithm::Sha256, got: 31 });
    assert_eq!(err.to_string(), "hash is 31 bytes, but SHA2-256 digests are 32");
    let _ = &service;
    assert_eq!(store.sessions_opened(), before, "no HSM session was checked out");
}

/// A TSA whose token comes after the one-time certificate expired: no signature is returned,
/// and the error names the rule.
#[tokio::test]
async fn a_timestamp_after_the_certificate_expired_is_not_returned() {
    use common::fake_tsa::{Reply, serve};
    use der::{Decode, Encode};
    use esignd::tsa::asn1::{PkiStatusInfo, TimeStampReq, TimeStampResp, status};
    use esignd::tsa::builtin::BuiltinTsa;

    // A slow TSA: esignd's own built-in TSA on another in-memory token, answering after 2.5 s.
    let tsa_store = MemoryKeyStore::new();
    let labels =
        esignd::config::KeyLabels { ca: "ca".into(), tsa: "tsa".into(), service: "svc".into(), ..Default::default() };
    let (_, tsa_inventory) = provision_dev(&tsa_store.session().unwrap(), &labels, &DevPlan::default()).unwrap();
    let tsa = BuiltinTsa::new(
        tsa_inventory.tsa_certificate.clone(),
        "1.2.3.4.1".parse().unwrap(),
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let slow = serve(move |body| {
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let req = TimeStampReq::from_der(body).unwrap();
        let session = tsa_store.session().unwrap();
        let key = esignd::preflight::check(&session, &labels).unwrap().tsa_key;
        let token =
            tsa.stamp(&session, &key, req.message_imprint, req.nonce, true, std::time::SystemTime::now()).unwrap();
        let response = TimeStampResp {
            status: PkiStatusInfo { status: status::GRANTED, status_string: None, fail_info: None },
            time_stamp_token: Some(der::Any::from_der(&token).unwrap()),
        };
        Reply::Body(response.to_der().unwrap())
    });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tsa-trust.pem"), write_chain(&tsa_inventory.ca_chain).unwrap()).unwrap();
    let extra = format!(
        "[ca]\none_time_validity_secs = 1\nclock_skew_secs = 0\n[tsa]\nmode = \"external\"\nurls = [\"{}\"]\ntrust = \"tsa-trust.pem\"\n",
        slow.url
    );
    let (service, store) = service(dir.path(), &extra);
    let err = service
        .sign_one_time(OneTimeRequest {
            identity: Identity::new("Jane Doe", "X-1").unwrap(),
            digest: Digest::new(HashAlgorithm::Sha256, vec![7; 32]).unwrap(),
            format: Format::Cades,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Check(esignd::service::engine::BrokenRule::StampedOutsideValidity { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("genTime") && err.to_string().contains("outside the certificate's validity"),
        "{err}"
    );
    let session = store.session().unwrap();
    assert!(esignd::hsm::KeySession::objects(&session).unwrap().iter().all(|o| o.on_token), "no one-time key left");
}
