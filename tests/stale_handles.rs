//! The engine keeps the handles of its persistent keys from start-up (a search on SoftHSM reads
//! every object's file, which costs more than the operation). When a key is replaced under its
//! label — here the audit subject secret, destroyed and made again behind the engine's back —
//! the token answers the kept handle with CKR_KEY_HANDLE_INVALID and the engine looks its keys
//! up again: the HMACs it then gives are the new key's, in the audit lookups and in a one-time
//! signature alike.

mod common;
#[path = "../benches/support/provisioned.rs"]
mod provisioned;

use cryptoki::object::{Attribute, ObjectClass};
use esignd::hsm::{HashAlgorithm, KeySession, KeyStore};
use esignd::identity::Identity;
use esignd::service::engine::OneTimeRequest;
use esignd::vocabulary::{Digest, Format};
use provisioned::{Provisioned, provisioned};

const SUBJECT: &str = "STALE-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_key_replaced_under_its_label_is_found_again() {
    let Provisioned { config, service, ctx, slot, .. } = provisioned();
    let label = config.hsm.keys.audit_subject.clone();
    let raw = ctx.open_rw_session(slot).unwrap(); // logged in: the pool's sessions are
    let replace = || {
        let template = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Label(label.as_bytes().to_vec())];
        let found = raw.find_objects(&template).unwrap();
        assert_eq!(found.len(), 1, "one audit subject key");
        raw.destroy_object(found[0]).unwrap();
        let session = service.keys().session().unwrap();
        session.generate_secret(&label).unwrap();
        hex::encode(session.hmac_sha256(&session.secret(&label).unwrap(), SUBJECT.as_bytes()).unwrap())
    };

    let original = service.subject_hash(SUBJECT.to_owned()).await.unwrap();
    let first_replacement = replace();
    assert_ne!(first_replacement, original, "a new key gives other HMACs");
    assert_eq!(service.subject_hash(SUBJECT.to_owned()).await.unwrap(), first_replacement);

    let second_replacement = replace();
    let request = OneTimeRequest {
        identity: Identity::new("Stale Handle", SUBJECT).unwrap(),
        digest: Digest::of(HashAlgorithm::Sha256, b"document"),
        format: Format::Cades,
    };
    let record = service.sign_one_time(request).await.unwrap();
    assert_eq!(record.subject_hash.as_deref(), Some(second_replacement.as_str()));
}
