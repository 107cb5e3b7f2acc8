//! The one-time signing transaction against raw PKCS#11, measured in the same run.
//!
//! A transaction (`SigningEngine::sign_one_time`, built-in TSA, SoftHSM) does the HSM work of
//! one raw cycle — generate a P-256 session key, three signatures (CA over the certificate,
//! one-time key over the CAdES attributes, TSA over the token), destroy — plus everything
//! around it: reading the public key, building and DER-encoding the certificate, the CMS and
//! the token, and checking the result before it is returned (two ECDSA verifications in
//! software: the certificate at issuance, the CMS at the end). A breakdown of one
//! transaction's time by step follows the table, then what running the steps on the blocking
//! pool adds around them. Transactions run as concurrent tokio tasks on a 2-worker runtime; the raw cycle
//! on OS threads with their own sessions; paired rounds as in `benches/hsm.rs`.
//!
//!     cargo bench --bench onetime              # 9 paired rounds of 500 ms per variant
//!     cargo bench --bench onetime -- --quick   # a short run
//!
//! Under `cargo test` (no `--bench` argument) it makes a short run, so CI keeps it working.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/provisioned.rs"]
mod provisioned;
#[path = "support/raw_cycle.rs"]
mod raw_cycle;

use std::sync::Arc;
use std::time::{Duration, Instant};

use esignd::config::Config;
use esignd::hsm::pkcs11::Pkcs11KeyStore;
use esignd::hsm::{HashAlgorithm, KeyStore};
use esignd::identity::Identity;
use esignd::service::engine::{OneTimeRequest, SigningEngine};
use esignd::vocabulary::{Digest, Format};
use provisioned::{Provisioned, provisioned};
use raw_cycle::{median, private_key, rate, raw_cycle, raw_transaction_hsm_work};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (rounds, slice) = if quick { (3, Duration::from_millis(150)) } else { (9, Duration::from_millis(500)) };

    let Provisioned { config, service, ctx, slot, .. } = provisioned();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let (ca_label, tsa_label) = (config.hsm.keys.ca.clone(), config.hsm.keys.tsa.clone());
    println!("one-time CAdES B-T with the built-in TSA vs raw PKCS#11; median of {rounds} paired rounds");
    println!("  raw cycle: P-256 keygen, 3 signatures with the session key, destroy (the benchmark's yardstick)");
    println!("  raw tx HSM work: the same with the public key read and the CA and TSA token keys signing");
    println!(
        "{:>7}  {:>12}  {:>15}  {:>14}  {:>9}  {:>15}",
        "threads", "raw cycles/s", "raw tx HSM /s", "transactions/s", "tx/raw", "tx/raw-tx-HSM"
    );
    for threads in [1, 2] {
        let (mut raw, mut raw_tx, mut one_time, mut ratios, mut hsm_ratios) = (vec![], vec![], vec![], vec![], vec![]);
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
                        let (ca, tsa) = (private_key(&session, &ca_label), private_key(&session, &tsa_label));
                        move || raw_transaction_hsm_work(&session, ca, tsa)
                    }),
                    _ => runtime.block_on(transactions_per_second(&service, threads, slice)),
                };
            }
            let [r, rt, t] = measured;
            raw.push(r);
            raw_tx.push(rt);
            one_time.push(t);
            ratios.push(t / r);
            hsm_ratios.push(t / rt);
        }
        println!(
            "{threads:>7}  {:>12.0}  {:>15.0}  {:>14.0}  {:>9.3}  {:>15.3}",
            median(raw),
            median(raw_tx),
            median(one_time),
            median(ratios),
            median(hsm_ratios)
        );
    }
    let n = if quick { 50 } else { 400 };
    breakdown(service.keys(), &service, &config, n);
    hand_off(&runtime, &service, n);
}

/// What a transaction pays outside its steps for running them on the blocking pool: an empty
/// call through the engine's session pool and back, and a transaction's wall time next to the
/// time its own steps took on the blocking thread, one at a time. Mean microseconds per call.
fn hand_off(runtime: &tokio::runtime::Runtime, service: &Arc<SigningEngine<Pkcs11KeyStore>>, n: u32) {
    let engine = Arc::clone(service);
    let (empty, (wall, steps)) = runtime.block_on(async move {
        let started = Instant::now();
        for _ in 0..n {
            engine.hsm().with_session(|_| Ok::<_, esignd::hsm::Error>(())).await.unwrap();
        }
        let empty = started.elapsed();
        let (started, mut steps) = (Instant::now(), Duration::ZERO);
        for done in 0..n {
            let request = OneTimeRequest {
                identity: Identity::new("Bench Signer", format!("HANDOFF-{done}")).unwrap(),
                digest: Digest::of(HashAlgorithm::Sha256, &done.to_be_bytes()),
                format: Format::Cades,
            };
            let record = engine.sign_one_time(request).await.unwrap();
            steps += record.steps.named().iter().map(|(_, spent)| *spent).sum::<Duration>();
        }
        (empty, (started.elapsed(), steps))
    });
    let mean = |spent: Duration| spent.as_secs_f64() * 1e6 / f64::from(n);
    println!("\naround the steps (one transaction at a time, {n} calls, mean per call):");
    println!("  {:>7.1} µs  an empty call through the session pool: to the blocking pool and back", mean(empty));
    println!(
        "  {:>7.1} µs  a transaction, of which {:.1} µs in its timed steps (keygen to checks) on the blocking thread",
        mean(wall),
        mean(steps)
    );
}

/// Where a transaction's time goes: the same steps as `sign_one_time`, through the public API,
/// one after the other on one thread, each timed. Mean microseconds per transaction.
fn breakdown(store: &Arc<Pkcs11KeyStore>, service: &SigningEngine<Pkcs11KeyStore>, config: &Config, n: u32) {
    use esignd::cms::assemble::{SignedMessage, Signer, cades_signed_attributes, to_be_signed};
    use esignd::hsm::{KeyAlgorithm, KeySession, SignatureScheme};
    use esignd::service::engine::Timestamper;
    use esignd::tsa::builtin::sha256_imprint;
    use std::time::SystemTime;

    let Timestamper::Builtin(tsa) = service.timestamper() else { return };
    let session = store.session().unwrap();
    let inventory = esignd::preflight::check(&session, &config.hsm.keys).unwrap();
    drop(session);
    let identity = Identity::new("Bench Signer", "BENCH-1").unwrap();
    let digest = HashAlgorithm::Sha256.digest(b"document");
    let scheme = SignatureScheme::Ecdsa(HashAlgorithm::Sha256);
    let mut phases: Vec<(&str, Duration)> = Vec::new();
    let mut time = |name: &'static str, started: Instant| {
        let spent = started.elapsed();
        match phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += spent,
            None => phases.push((name, spent)),
        }
        Instant::now()
    };
    for _ in 0..n {
        let t = Instant::now();
        let session = store.session().unwrap();
        let t = time("check out a pooled session", t);
        session.hmac_sha256(&inventory.audit_subject, identity.subject_id().as_bytes()).unwrap();
        let t = time("audit subject HMAC (HSM, not in the yardstick)", t);
        let key = session.generate_ephemeral(KeyAlgorithm::P256).unwrap();
        let t = time("keygen + read the public key (HSM)", t);
        let leaf = service
            .ca()
            .issue_one_time(&session, &inventory.ca_key, &identity, key.public_key().clone(), SystemTime::now())
            .unwrap();
        let t = time("certificate: build, CA signs (HSM), verify (ring)", t);
        let attributes = cades_signed_attributes(Format::Cades, &digest, &leaf, SystemTime::now()).unwrap();
        let tbs = to_be_signed(&attributes).unwrap();
        let t = time("CAdES signed attributes", t);
        let signature = key.sign_digest(scheme, &HashAlgorithm::Sha256.digest(&tbs)).unwrap();
        let t = time("one-time key signs (HSM)", t);
        key.destroy().unwrap();
        let t = time("destroy (HSM)", t);
        let chain: Vec<_> = std::iter::once(&leaf).chain(service.ca().chain()).collect();
        let signer = Signer {
            certificate: &leaf,
            hash: HashAlgorithm::Sha256,
            signed_attributes: attributes,
            signature_algorithm: scheme.algorithm_identifier().unwrap(),
            signature,
        };
        let mut message = SignedMessage::new(const_oid::db::rfc5911::ID_DATA, None, signer, &chain).unwrap();
        let t = time("SignedData assembly", t);
        let imprint = sha256_imprint(message.signature_value()).unwrap();
        let (token, tst_info) =
            tsa.stamp_built(&session, &inventory.tsa_key, imprint.clone(), None, true, SystemTime::now()).unwrap();
        let t = time("timestamp: TSTInfo, TSA signs (HSM), SignedData", t);
        message.add_timestamp(&token).unwrap();
        let _der = message.to_der().unwrap();
        let t = time("B-T attribute + DER encoding", t);
        esignd::cms::verify::verify_signed_data(message.signed_data(), Some(&digest), &[]).unwrap();
        let t = time("check: the built CMS verifies (ring)", t);
        assert_eq!(tst_info.message_imprint, imprint);
        let t = time("check: the token's imprint (as built)", t);
        drop(session);
        time("return the session", t);
    }
    let total: Duration = phases.iter().map(|(_, d)| *d).sum();
    println!("\nwhere a transaction's time goes (one thread, {n} transactions, mean per transaction):");
    for (name, spent) in &phases {
        println!(
            "  {:>7.1} µs  {:>5.1}%  {name}",
            spent.as_secs_f64() * 1e6 / f64::from(n),
            spent.as_secs_f64() * 100.0 / total.as_secs_f64()
        );
    }
    println!("  {:>7.1} µs          total", total.as_secs_f64() * 1e6 / f64::from(n));
}

/// Transactions per second with `concurrency` transactions in flight for `slice`.
async fn transactions_per_second(
    service: &Arc<SigningEngine<Pkcs11KeyStore>>,
    concurrency: usize,
    slice: Duration,
) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let service = Arc::clone(service);
            tokio::spawn(async move {
                let mut done = 0u64;
                while started.elapsed() < slice {
                    let request = OneTimeRequest {
                        identity: Identity::new("Bench Signer", format!("BENCH-{worker}-{done}")).unwrap(),
                        digest: Digest::of(HashAlgorithm::Sha256, &done.to_be_bytes()),
                        format: Format::Cades,
                    };
                    service.sign_one_time(request).await.unwrap();
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
