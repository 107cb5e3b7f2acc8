//! The key-store suite on the in-memory store (unit-test speed, no token needed).

mod common;

use esignd::hsm::memory::MemoryKeyStore;

#[test]
fn every_algorithm_signs_verifiably() {
    common::suite::every_algorithm_signs_verifiably(&MemoryKeyStore::new());
}

#[test]
fn ephemeral_keys_never_outlive_their_guard() {
    common::suite::ephemeral_keys_never_outlive_their_guard(&MemoryKeyStore::new());
}

#[test]
fn bad_sign_requests_are_refused() {
    common::suite::bad_sign_requests_are_refused(&MemoryKeyStore::new());
}

#[test]
fn persistent_keys_by_label_and_id() {
    common::suite::persistent_keys_by_label_and_id(&MemoryKeyStore::new());
}
