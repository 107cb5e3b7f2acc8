//! The cost of the hardware seam, measured against raw PKCS#11 in the same run.
//!
//! One cycle is what a one-time signature does with the HSM: generate a P-256 session key,
//! make three signatures, destroy the key. The raw cycle calls cryptoki directly on a session
//! the thread owns; the KeyStore cycle goes through esignd's seam: check a session out of the
//! pool (validated with C_GetSessionInfo), generate the key behind its guard (which also reads
//! the public key, as certificate issuance needs), sign (DER-encoding each signature) and
//! destroy. A second raw variant also reads the public key (`CKA_EC_POINT`), the one PKCS#11
//! call the seam adds because every real transaction needs it for the certificate; comparing
//! with it isolates what the abstraction itself costs. All run at 1 and 2 threads, alternating
//! in rounds so drift hits them alike.
//!
//!     cargo bench --bench hsm              # 15 paired rounds of 300 ms per variant
//!     cargo bench --bench hsm -- --quick   # a short run
//!
//! Under `cargo test` (no `--bench` argument) it makes a short run, so CI keeps it working.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/raw_cycle.rs"]
#[allow(dead_code)]
mod raw_cycle;

use std::sync::Arc;
use std::time::Duration;

use esignd::hsm::pkcs11::{Pkcs11KeyStore, TokenSelector, context, token};
use esignd::hsm::{HashAlgorithm, KeyAlgorithm, KeySession, KeyStore, SignatureScheme};
use raw_cycle::{DIGESTS, median, rate, raw_cycle};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (rounds, slice) = if quick { (3, Duration::from_millis(100)) } else { (15, Duration::from_millis(300)) };
    let token = common::new_token(2);
    let store = Arc::new(token.store);
    let ctx = context::load(&common::module()).unwrap();
    let (slot, _) = token::find(&ctx, &TokenSelector::Label(token.label.clone())).unwrap();
    let version = ctx.get_library_info().map(|i| i.library_version().to_string()).unwrap_or_default();

    println!(
        "P-256 cycle: keygen (session object), 3 x ECDSA sign, destroy; SoftHSM {version}; median of {rounds} paired rounds"
    );
    println!(
        "{:>7}  {:>7}  {:>13}  {:>7}  {:>16}  {:>19}",
        "threads", "raw /s", "raw+pubkey /s", "seam /s", "seam/raw", "seam/(raw+pubkey)"
    );
    for threads in [1, 2] {
        let mut rates: [Vec<f64>; 3] = Default::default();
        let mut ratios: [Vec<f64>; 2] = Default::default();
        for round in 0..rounds {
            // Measure the three variants back to back, rotating the order, and compare within the
            // round: neighbours on a shared machine slow all three alike.
            let mut this_round = [0.0; 3];
            for k in 0..3 {
                let variant = (round + k) % 3;
                this_round[variant] = match variant {
                    0 | 1 => rate(threads, slice, || {
                        let session = ctx.open_rw_session(slot).unwrap();
                        move || raw_cycle(&session, variant == 1)
                    }),
                    _ => rate(threads, slice, || {
                        let store = Arc::clone(&store);
                        move || keystore_cycle(&store)
                    }),
                };
            }
            for (all, one) in rates.iter_mut().zip(this_round) {
                all.push(one);
            }
            ratios[0].push(this_round[2] / this_round[0]);
            ratios[1].push(this_round[2] / this_round[1]);
        }
        let [raw, raw_pub, seam] = rates.map(median);
        let [vs_raw, vs_raw_pub] = ratios.map(median);
        let cost = |ratio: f64| format!("{ratio:.3} ({:+.1}%)", (1.0 / ratio - 1.0) * 100.0);
        println!(
            "{threads:>7}  {raw:>7.0}  {raw_pub:>13.0}  {seam:>7.0}  {:>16}  {:>19}",
            cost(vs_raw),
            cost(vs_raw_pub)
        );
    }
    println!("ratios: the KeyStore's rate over raw PKCS#11 in the same round; in brackets the extra time per cycle.");
}

/// The same through esignd's KeyStore seam.
fn keystore_cycle(store: &Pkcs11KeyStore) {
    let session = store.session().unwrap();
    let key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();
    for digest in &DIGESTS {
        std::hint::black_box(key.sign_digest(SignatureScheme::Ecdsa(HashAlgorithm::Sha256), digest).unwrap());
    }
    key.destroy().unwrap();
}
