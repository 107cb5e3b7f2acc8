//! One-time RSA keys with and without the key pool (`[hsm.key_pool]`), on SoftHSM.
//!
//! For RSA-2048 and RSA-3072 one-time keys: the raw cost of one key (cryptoki only,
//! `C_GenerateKeyPair` from esignd's template, then destroy), the latency of transactions that
//! generate their key in line, the pool's refill rate (keys per second while nothing else runs,
//! 2 refill threads), and the latency of transactions arriving at a steady 50% and 90% of that
//! rate with the pool (size 16) in front. Transactions arrive on a schedule, not one after
//! another, so a slow one does not slow the arrivals. Signing and refilling share the 2 cores.
//!
//!     cargo bench --bench key_pool              # RSA-2048 and RSA-3072, 20 s per rate
//!     cargo bench --bench key_pool -- --quick   # RSA-2048, 3 s per rate
//!
//! Under `cargo test` (no `--bench` argument) it makes a quick run, so CI keeps it working.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/provisioned.rs"]
mod provisioned;

use std::sync::Arc;
use std::time::{Duration, Instant};

use esignd::hsm::pkcs11::{Pkcs11KeyStore, templates};
use esignd::hsm::{HashAlgorithm, KeyAlgorithm};
use esignd::identity::Identity;
use esignd::service::engine::{OneTimeRequest, SigningEngine};
use esignd::vocabulary::{Digest, Format};
use provisioned::{Provisioned, provisioned_with};

const POOL: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let (algorithms, sustained) = if quick {
        (vec![("rsa2048", KeyAlgorithm::Rsa2048)], Duration::from_secs(3))
    } else {
        (vec![("rsa2048", KeyAlgorithm::Rsa2048), ("rsa3072", KeyAlgorithm::Rsa3072)], Duration::from_secs(20))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("one-time RSA keys: in line vs the key pool (size {POOL}, 2 refill threads), SoftHSM, 2 cores");
    println!(
        "{:>8}  {:>12}  {:>15}  {:>12}  {:>10}  {:>8}  {:>8}  {:>8}  {:>10}  {:>10}",
        "key", "raw keygen", "in line p50", "refill /s", "rate", "p50", "p99", "empty", "p50/raw", "in line/raw"
    );
    for (name, algorithm) in algorithms {
        let inline = provisioned_with(&format!("ephemeral_key = {name:?}"), "");
        let raw = raw_keygen(&inline, algorithm, if quick { 5 } else { 20 });
        let inline_p50 = percentile(runtime.block_on(in_line(&inline.service, if quick { 5 } else { 20 })), 0.5);
        drop(inline);

        for share in [0.5, 0.9] {
            let started = Instant::now();
            let pooled = provisioned_with(
                &format!("ephemeral_key = {name:?}"),
                &format!("[hsm.key_pool]\nsize = {POOL}\nrefill_threads = 2\n"),
            );
            let refill = fill_rate(&pooled.service, started);
            let rate = refill * share;
            let before = pooled.service.key_pool().unwrap().empty;
            let latencies = runtime.block_on(steady(&pooled.service, rate, sustained));
            let empty = pooled.service.key_pool().unwrap().empty - before;
            let (p50, p99) = (percentile(latencies.clone(), 0.5), percentile(latencies, 0.99));
            println!(
                "{name:>8}  {:>9.1} ms  {:>12.1} ms  {refill:>12.1}  {:>8.1}/s  {:>5.1} ms  {:>5.1} ms  {empty:>8}  {:>10.3}  {:>10.2}",
                ms(raw),
                ms(inline_p50),
                rate,
                ms(p50),
                ms(p99),
                p50.as_secs_f64() / raw.as_secs_f64(),
                inline_p50.as_secs_f64() / raw.as_secs_f64(),
            );
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Mean time of `C_GenerateKeyPair` (esignd's one-time template) and destroying the pair.
fn raw_keygen(at: &Provisioned, algorithm: KeyAlgorithm, n: u32) -> Duration {
    let session = at.ctx.open_rw_session(at.slot).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        let (mechanism, public, private) = templates::key_pair(algorithm, None).unwrap();
        let (public, private) = session.generate_key_pair(&mechanism, &public, &private).unwrap();
        session.destroy_object(private).unwrap();
        session.destroy_object(public).unwrap();
    }
    started.elapsed() / n
}

/// The keys per second the pool made while filling from empty after `started`.
fn fill_rate(service: &SigningEngine<Pkcs11KeyStore>, started: Instant) -> f64 {
    while service.key_pool().unwrap().ready < POOL {
        std::thread::sleep(Duration::from_millis(5));
    }
    POOL as f64 / started.elapsed().as_secs_f64()
}

fn request(n: usize) -> OneTimeRequest {
    OneTimeRequest {
        identity: Identity::new("Bench Signer", format!("POOL-{n}")).unwrap(),
        digest: Digest::of(HashAlgorithm::Sha256, &n.to_be_bytes()),
        format: Format::Cades,
    }
}

/// `n` transactions one after another; each one's latency.
async fn in_line(service: &Arc<SigningEngine<Pkcs11KeyStore>>, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        service.sign_one_time(request(i)).await.unwrap();
        latencies.push(started.elapsed());
    }
    latencies
}

/// Transactions arriving at `rate` per second for `duration`; each one's latency.
async fn steady(service: &Arc<SigningEngine<Pkcs11KeyStore>>, rate: f64, duration: Duration) -> Vec<Duration> {
    let every = Duration::from_secs_f64(1.0 / rate);
    let mut ticks = tokio::time::interval(every);
    let started = Instant::now();
    let mut running = Vec::new();
    let mut n = 0;
    while started.elapsed() < duration {
        ticks.tick().await;
        let service = Arc::clone(service);
        n += 1;
        let request = request(n);
        running.push(tokio::spawn(async move {
            let started = Instant::now();
            service.sign_one_time(request).await.unwrap();
            started.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(running.len());
    for task in running {
        latencies.push(task.await.unwrap());
    }
    latencies
}

fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    values.sort();
    values[((values.len() - 1) as f64 * p).round() as usize]
}
