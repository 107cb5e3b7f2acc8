//! The built-in TSA over HTTP (`POST /tsa`) under load, against the raw cost of its own
//! signature: the TSA key (a token object on SoftHSM) signing a digest, cryptoki only, on two
//! OS threads (both cores), measured in the same run just before and after each load round.
//!
//! esignd runs as an operator runs it (`esignd serve`, release build, a token made by
//! `softhsm/make-token`, JSON logs at info) with a session for every connection and the whole
//! pool open to `/tsa` (`sessions = 64`, `public_share_percent = 100`; `/tsa` answers 429 rather
//! than queue for a session) and no per-address rate limit: the bench measures the TSA, not the
//! limits that protect signing from it. `wrk` posts one fixed `openssl ts -query` request
//! (SHA-256, nonce, certReq) at concurrency 16 and 64; every answer must be a 200. Each answer is
//! a full RFC 3161 response: the request decoded and checked, a TSTInfo with a fresh serial, the
//! TSA key's signature in the HSM, the SignedData with the TSA certificate.
//!
//!     cargo bench --bench tsa              # 3 rounds of 10 s per concurrency
//!     cargo bench --bench tsa -- --quick   # one round of 2 s
//!
//! Under `cargo test` (no `--bench` argument) it makes a one-second run on the debug build, so
//! CI keeps it working; those numbers mean nothing.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/raw_cycle.rs"]
#[allow(dead_code)] // the transaction-level helpers serve benches/onetime.rs
mod raw_cycle;
#[path = "support/wrk.rs"]
mod wrk;

use common::daemon::{Daemon, esignd};
use common::{TokenDir, text};
use cryptoki::mechanism::Mechanism;
use esignd::config::KeyLabels;
use esignd::hsm::KeyStore;
use esignd::hsm::pkcs11::{TokenSelector, context, token};
use esignd::provision::{DevPlan, provision_dev};
use raw_cycle::{median, private_key, rate};

/// One fixed TimeStampReq from a file (the summary is [`wrk::DONE`]).
const SCRIPT: &str = r#"
wrk.method = "POST"
local file = io.open(os.getenv("QUERY"), "rb")
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/timestamp-query"
"#;

fn main() {
    let (rounds, seconds, raw_slice) = wrk::plan();

    // The yardstick: the same SoftHSM, a TSA key made the way provisioning makes it.
    let raw_token = common::new_token(2);
    let labels = KeyLabels::default();
    provision_dev(&raw_token.store.session().unwrap(), &labels, &DevPlan::default()).unwrap();
    let ctx = context::load(&common::module()).unwrap();
    let (slot, _) = token::find(&ctx, &TokenSelector::Label(raw_token.label.clone())).unwrap();
    let digest = esignd::hsm::HashAlgorithm::Sha256.digest(b"a TSTInfo");
    let raw = || {
        rate(2, raw_slice, || {
            let session = ctx.open_rw_session(slot).unwrap();
            let key = private_key(&session, &labels.tsa);
            let digest = digest.clone();
            move || drop(std::hint::black_box(session.sign(&Mechanism::Ecdsa, key, &digest).unwrap()))
        })
    };

    let token = TokenDir::new();
    let work = tempfile::tempdir().unwrap();
    let (data, query, script) = (work.path().join("data"), work.path().join("query.tsq"), work.path().join("tsa.lua"));
    std::fs::write(&data, b"a document to time-stamp\n").unwrap();
    std::fs::write(&script, format!("{SCRIPT}{}", wrk::DONE)).unwrap();
    let made = common::openssl([
        "ts",
        "-query",
        "-data",
        data.to_str().unwrap(),
        "-sha256",
        "-cert",
        "-out",
        query.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "openssl ts -query: {}", text(&made.stderr));

    let mut command = esignd(&token);
    command
        .env("ESIGND__HSM__SESSIONS", "64")
        .env("ESIGND__HSM__PUBLIC_SHARE_PERCENT", "100")
        .env("ESIGND__SERVER__REQUESTS_PER_IP_PER_SECOND", "0")
        .env("ESIGND__SERVER__MAX_CONNECTIONS_PER_IP", "1024");
    let mut daemon = Daemon::start_with(command);
    let url = format!("http://{}/tsa", daemon.listening_on());

    println!("POST /tsa (built-in TSA, SoftHSM) with wrk vs raw TSA-key signatures (cryptoki C_Sign, 2 threads)");
    println!(
        "{:>5}  {:>5}  {:>14}  {:>10}  {:>8}  {:>8}  {:>9}",
        "conns", "round", "raw signs/s", "stamps/s", "p50 ms", "p99 ms", "stamp/raw"
    );
    for connections in [16, 64] {
        let mut ratios = Vec::new();
        for round in 1..=rounds {
            let before = raw();
            let load = wrk::run(&script, &url, connections, seconds, &[("QUERY", query.as_ref())]);
            let after = raw();
            assert_eq!(load.failures, 0, "every time-stamp request answered 200 at concurrency {connections}");
            let (stamps, raw_rate) = (load.requests_per_second, (before + after) / 2.0);
            ratios.push(stamps / raw_rate);
            println!(
                "{connections:>5}  {round:>5}  {raw_rate:>14.0}  {stamps:>10.0}  {:>8.2}  {:>8.2}  {:>9.3}",
                load.p50_ms,
                load.p99_ms,
                stamps / raw_rate
            );
        }
        println!(
            "{connections:>5}  {:>5}  {:>14}  {:>10}  {:>8}  {:>8}  {:>9.3}",
            "med",
            "",
            "",
            "",
            "",
            median(ratios)
        );
    }
    daemon.signal("TERM");
    daemon.wait_exit();
}
