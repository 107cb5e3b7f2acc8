//! Finishing a signature made by the user's own device, against raw PKCS#11, in the same run.
//!
//! When a device answers, esignd verifies its signature with the device certificate (ring),
//! assembles the SignedData (device certificate + CA chain), has the built-in TSA sign a
//! time-stamp in the HSM, and checks the result before keeping it
//! (`SigningEngine::finish_device_signature`). Its HSM work is one signature by a token key
//! (the TSA's). Yardsticks measured in the same run, on OS threads with their own sessions:
//! the raw cycle of the other benchmarks (P-256 keygen, three signatures, destroy) and one raw
//! signature by the TSA key. Paired rounds as in `benches/onetime.rs`.
//!
//!     cargo bench --bench device              # 9 paired rounds of 500 ms per variant
//!     cargo bench --bench device -- --quick   # a short run
//!
//! Under `cargo test` (no `--bench` argument) it makes a short run, so CI keeps it working.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/provisioned.rs"]
mod provisioned;
#[path = "support/raw_cycle.rs"]
#[allow(dead_code)] // raw_transaction_hsm_work is the one-time benchmark's
mod raw_cycle;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use esignd::hsm::HashAlgorithm;
use esignd::hsm::pkcs11::Pkcs11KeyStore;
use esignd::identity::Identity;
use esignd::service::engine::{DeviceSignature, SigningEngine, device_signed_attributes};
use esignd::vocabulary::{Digest, Format};
use provisioned::{Provisioned, provisioned};
use raw_cycle::{DIGESTS, median, private_key, rate, raw_cycle};
use signature::hazmat::PrehashSigner;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (rounds, slice) = if quick { (3, Duration::from_millis(150)) } else { (9, Duration::from_millis(500)) };

    let Provisioned { config, service, ctx, slot, .. } = provisioned();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // The device: a P-256 key in software, certified by the HSM CA; one answer, replayed.
    let device_key = p256::ecdsa::SigningKey::from_slice(&[42u8; 32]).unwrap();
    let spki = spki::SubjectPublicKeyInfoOwned::from_key(device_key.verifying_key()).unwrap();
    let identity = Identity::new("Bench Device Owner", "BENCH-DEVICE").unwrap();
    let certificate = runtime.block_on(service.issue_device_certificate(identity, spki)).unwrap();
    let digest = Digest::of(HashAlgorithm::Sha256, b"document");
    let signed_attributes = device_signed_attributes(Format::Cades, &digest, &certificate, SystemTime::now()).unwrap();
    let signature: p256::ecdsa::Signature =
        device_key.sign_prehash(&HashAlgorithm::Sha256.digest(&signed_attributes)).unwrap();
    let answer = DeviceSignature {
        certificate,
        digest: digest.clone(),
        format: Format::Cades,
        signed_attributes,
        signature: signature.to_der().to_bytes().to_vec(),
    };
    runtime.block_on(service.finish_device_signature(answer.clone())).expect("the answer is a good one");

    let tsa_label = config.hsm.keys.tsa.clone();
    println!("finishing a device signature (verify, CAdES B-T with the built-in TSA, checks) vs raw PKCS#11;");
    println!("median of {rounds} paired rounds");
    println!(
        "{:>7}  {:>12}  {:>13}  {:>11}  {:>9}  {:>12}",
        "threads", "raw cycles/s", "TSA signs/s", "finished/s", "fin/raw", "fin/TSA-sign"
    );
    for threads in [1, 2] {
        let (mut raw, mut tsa, mut finished, mut ratios, mut tsa_ratios) = (vec![], vec![], vec![], vec![], vec![]);
        for round in 0..rounds {
            let mut measured = [0.0; 3];
            for k in 0..3 {
                let variant = (round + k) % 3;
                measured[variant] = match variant {
                    0 => rate(threads, slice, || {
                        let session = ctx.open_rw_session(slot).unwrap();
                        move || raw_cycle(&session, false)
                    }),
                    1 => rate(threads, slice, || {
                        let session = ctx.open_rw_session(slot).unwrap();
                        let key = private_key(&session, &tsa_label);
                        move || {
                            let mechanism = cryptoki::mechanism::Mechanism::Ecdsa;
                            std::hint::black_box(session.sign(&mechanism, key, &DIGESTS[0]).unwrap());
                        }
                    }),
                    _ => runtime.block_on(finished_per_second(&service, &answer, threads, slice)),
                };
            }
            let [r, t, f] = measured;
            raw.push(r);
            tsa.push(t);
            finished.push(f);
            ratios.push(f / r);
            tsa_ratios.push(f / t);
        }
        println!(
            "{threads:>7}  {:>12.0}  {:>13.0}  {:>11.0}  {:>9.3}  {:>12.3}",
            median(raw),
            median(tsa),
            median(finished),
            median(ratios),
            median(tsa_ratios)
        );
    }
}

/// Device answers finished per second with `concurrency` in flight for `slice`.
async fn finished_per_second(
    service: &Arc<SigningEngine<Pkcs11KeyStore>>,
    answer: &DeviceSignature,
    concurrency: usize,
    slice: Duration,
) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (service, answer) = (Arc::clone(service), answer.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while started.elapsed() < slice {
                    service.finish_device_signature(answer.clone()).await.unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}
