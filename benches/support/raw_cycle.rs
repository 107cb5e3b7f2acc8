//! What both benchmarks share: the raw PKCS#11 cycle and the rate measurement.
//! (Included with `#[path]`; a subfolder so cargo does not take it for a benchmark.)

use std::time::{Duration, Instant};

use cryptoki::object::AttributeType;
use cryptoki::session::Session;
use esignd::hsm::KeyAlgorithm;
use esignd::hsm::pkcs11::templates;

/// Cycles per second over `threads` threads for `slice`; `make` builds each thread's cycle.
pub fn rate<C, F>(threads: usize, slice: Duration, make: impl Fn() -> F) -> f64
where
    F: FnMut() -> C + Send + 'static,
{
    let workers: Vec<_> = (0..threads).map(|_| make()).collect();
    let started = Instant::now();
    let handles: Vec<_> = workers
        .into_iter()
        .map(|mut cycle| {
            std::thread::spawn(move || {
                let mut done = 0u64;
                while started.elapsed() < slice {
                    cycle();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

pub fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

pub const DIGESTS: [[u8; 32]; 3] = [[1; 32], [2; 32], [3; 32]];

/// keygen, three signatures, destroy — cryptoki only; optionally read the public key too. The
/// key is made from esignd's own templates (a sign-only, sensitive, non-extractable session
/// key), so both sides make the same key.
pub fn raw_cycle(session: &Session, read_public_key: bool) {
    let (mechanism, public, private) = templates::key_pair(KeyAlgorithm::P256, None).unwrap();
    let (public, private) = session.generate_key_pair(&mechanism, &public, &private).unwrap();
    for digest in &DIGESTS {
        std::hint::black_box(session.sign(&cryptoki::mechanism::Mechanism::Ecdsa, private, digest).unwrap());
    }
    if read_public_key {
        std::hint::black_box(session.get_attributes(public, &[AttributeType::EcPoint]).unwrap());
    }
    session.destroy_object(private).unwrap();
    session.destroy_object(public).unwrap();
}

/// The PKCS#11 work of one real transaction, cryptoki only: keygen, read the public key, the CA
/// key (a token object) signs, the session key signs, the TSA key (a token object) signs,
/// destroy. The difference to [`raw_cycle`] is what the HSM itself charges for a transaction's
/// token keys and public key; the rest of a transaction's time is software.
pub fn raw_transaction_hsm_work(
    session: &Session,
    ca_key: cryptoki::object::ObjectHandle,
    tsa_key: cryptoki::object::ObjectHandle,
) {
    use cryptoki::mechanism::Mechanism;
    let (mechanism, public, private) = templates::key_pair(KeyAlgorithm::P256, None).unwrap();
    let (public, private) = session.generate_key_pair(&mechanism, &public, &private).unwrap();
    std::hint::black_box(session.get_attributes(public, &[AttributeType::EcPoint]).unwrap());
    for (key, digest) in [ca_key, private, tsa_key].into_iter().zip(&DIGESTS) {
        std::hint::black_box(session.sign(&Mechanism::Ecdsa, key, digest).unwrap());
    }
    session.destroy_object(private).unwrap();
    session.destroy_object(public).unwrap();
}

/// The private key labelled `label`, found with cryptoki.
pub fn private_key(session: &Session, label: &str) -> cryptoki::object::ObjectHandle {
    use cryptoki::object::{Attribute, ObjectClass};
    let found = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    found[0]
}
