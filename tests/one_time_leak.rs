//! After thousands of one-time transactions on SoftHSM — some refused, some abandoned by their
//! caller mid-flight — no ephemeral key remains: the token holds exactly what provisioning made,
//! in this process's view (which includes session objects) and in pkcs11-tool's. The same with
//! the key pool (`[hsm.key_pool]`): while it runs only its ready keys are there besides, and
//! when it stops, none.

mod common;

use std::sync::Arc;
use std::time::Duration;

use esignd::config::Config;
use esignd::hsm::{HashAlgorithm, KeySession, KeyStore};
use esignd::identity::Identity;
use esignd::provision::{DevPlan, provision_dev};
use esignd::service::engine::{OneTimeRequest, SigningEngine};
use esignd::vocabulary::{Digest, Format};

const TRANSACTIONS: usize = 2_000;
const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_transactions_leave_no_key_behind() {
    transactions_leave_no_key_behind("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_transactions_with_the_key_pool_leave_no_key_behind() {
    transactions_leave_no_key_behind("[hsm.key_pool]\nsize = 16\nrefill_threads = 2\n").await;
}

/// Run the transactions on a token configured with `extra` after `[hsm]`.
async fn transactions_leave_no_key_behind(extra: &str) {
    let token = common::new_token(WORKERS);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pin"), common::USER_PIN).unwrap();
    let config_path = dir.path().join("esignd.toml");
    std::fs::write(
        &config_path,
        format!(
            "[hsm]\nmodule = {:?}\ntoken_label = {:?}\npin_file = \"pin\"\nsessions = {WORKERS}\ncall_timeout_ms = 20000\n{extra}",
            common::module(),
            token.label
        ),
    )
    .unwrap();
    let config = Config::load(Some(&config_path)).unwrap();
    let provisioned = {
        let session = token.store.session().unwrap();
        provision_dev(&session, &config.hsm.keys, &DevPlan::default()).unwrap();
        common::sorted(session.objects().unwrap())
    };
    let store = Arc::new(token.store);
    let service = Arc::new(SigningEngine::new(Arc::clone(&store), &config).unwrap());

    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let service = Arc::clone(&service);
        workers.push(tokio::spawn(async move {
            let mut outcomes = [0usize; 3]; // signed, refused, abandoned
            for n in (worker..TRANSACTIONS).step_by(WORKERS) {
                let bytes = if n % 10 == 3 { vec![1; 20] } else { HashAlgorithm::Sha256.digest(&n.to_be_bytes()) };
                // A digest of the wrong length is refused where it arrives: no transaction starts.
                let Ok(digest) = Digest::new(HashAlgorithm::Sha256, bytes) else {
                    outcomes[1] += 1;
                    continue;
                };
                let request = OneTimeRequest {
                    identity: Identity::new("Load Test", format!("LT-{n}")).unwrap(),
                    digest,
                    format: if n % 2 == 0 { Format::Cades } else { Format::Pades },
                };
                if n % 7 == 0 {
                    // The caller gives up mid-transaction; the HSM work finishes without it.
                    let patience = Duration::from_micros((n % 5) as u64 * 150);
                    match tokio::time::timeout(patience, service.sign_one_time(request)).await {
                        Err(_) => outcomes[2] += 1,
                        Ok(Ok(_)) => outcomes[0] += 1,
                        Ok(Err(e)) => panic!("transaction {n}: {e}"),
                    }
                    continue;
                }
                match service.sign_one_time(request).await {
                    Ok(_) => outcomes[0] += 1,
                    Err(e) => panic!("transaction {n}: {e}"),
                }
            }
            outcomes
        }));
    }
    let mut totals = [0usize; 3];
    for worker in workers {
        for (total, n) in totals.iter_mut().zip(worker.await.unwrap()) {
            *total += n;
        }
    }
    assert!(totals.iter().all(|n| *n > 0), "signed, refused and abandoned all happened: {totals:?}");
    assert_eq!(totals.iter().sum::<usize>(), TRANSACTIONS);

    // Holding every pooled session at once means no abandoned transaction is still running.
    let held: Vec<_> = (0..WORKERS).map(|_| store.session().unwrap()).collect();
    if let Some(pool) = service.key_pool() {
        assert!(pool.empty < TRANSACTIONS as u64, "the transactions took keys from the pool: {pool:?}");
        // Once the pool is full again its threads make nothing: its keys are all there is.
        let started = std::time::Instant::now();
        while service.key_pool().unwrap().ready < pool.size {
            assert!(started.elapsed() < Duration::from_secs(30), "the pool never filled again");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (made, others): (Vec<_>, Vec<_>) = held[0].objects().unwrap().into_iter().partition(|o| !o.on_token);
        assert_eq!(made.len(), pool.size * 2, "the ready keys' two halves, and no other session object");
        assert_eq!(common::sorted(others), provisioned, "the token's own objects are as provisioned");
        drop(held);
        drop(service); // stops the pool: its sessions close, and their keys go with them
        let session = store.session().unwrap();
        assert_eq!(common::sorted(session.objects().unwrap()), provisioned, "the stopped pool left no key");
    } else {
        assert_eq!(common::sorted(held[0].objects().unwrap()), provisioned, "only provisioned objects, in-process");
        drop(held);
    }

    let listing = common::pkcs11_tool_listing(&token.label);
    assert_eq!(listing.matches(" Object;").count(), provisioned.len(), "pkcs11-tool agrees:\n{listing}");
}
