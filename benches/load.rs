//! `POST /v1/sign/onetime` under load, against the raw PKCS#11 cycle measured in the same run.
//!
//! esignd runs as an operator runs it (`esignd serve`, the release build under `cargo bench`,
//! a token made by `softhsm/make-token`, the built-in TSA, JSON logs at info), with a
//! real OpenID provider (oidc-provider, tests/oidc) as issuer. Each request carries a JWT access
//! token signed by the provider, which esignd checks locally against the provider's JWKS (fetched
//! once and cached). `wrk` (Debian's package) drives the load from one thread at concurrency 16
//! and 64 and reports requests/s, p50 and p99; every response must be a 200. Before and after
//! each load run the raw cycle (P-256 keygen, three signatures, destroy; cryptoki only, two OS
//! threads, i.e. both cores) is measured in this process on a token of the same SoftHSM; the
//! ratio is requests/s over the mean of the two. wrk, esignd and the provider share the
//! machine, as they would on a 2-core host that runs its own reverse proxy.
//!
//! Three deployments, each measured the same way: SQLite-1 (one daemon on its SQLite file),
//! PostgreSQL-1 (one daemon on a PostgreSQL the bench starts, durable commits) and PostgreSQL-2
//! (two daemons on it behind HAProxy, round robin, sharing the token). On one 2-core machine
//! this shows the overhead of sharing, not scale.
//!
//!     cargo bench --bench load              # 3 rounds of 10 s per concurrency and deployment
//!     cargo bench --bench load -- --quick   # one round of 2 s
//!     cargo bench --bench load -- --mode=postgres2   # one deployment (sqlite, postgres, postgres2)
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

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::Daemon;
use common::oidc::Provider;
use common::{TokenDir, http_with, text};
use esignd::hsm::pkcs11::{TokenSelector, context, token};
use raw_cycle::{median, rate, raw_cycle};
use serde_json::json;

/// The wrk script: one fixed request (the summary is [`wrk::DONE`]).
const SCRIPT: &str = r#"
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GovStack-AuthenticationToken"] = os.getenv("TOKEN")
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (rounds, seconds, raw_slice) = wrk::plan();

    let modes: Vec<Mode> = match args.iter().find_map(|a| a.strip_prefix("--mode=")) {
        Some(name) => vec![Mode::named(name)],
        None => vec![Mode::Sqlite, Mode::Postgres1, Mode::Postgres2],
    };
    let provider = Provider::start(&[]);
    let now = esignd::jose::claims::now();
    let access_token =
        provider.mint(&json!({"sub": "BENCH-0001", "name": "Bench Citizen", "aud": "esignd", "exp": now + 3600}));
    let digest = esignd::hsm::HashAlgorithm::Sha256.digest(b"a document under load\n");
    let body = json!({
        "format": "CAdES", "hash": STANDARD.encode(digest), "hashType": "SHA2-256",
        "dataToBeDisplayed": "load test", "requestTimestamp": "2026-11-23T12:00:00Z",
    })
    .to_string();
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("onetime.lua");
    std::fs::write(&script, format!("{SCRIPT}{}", wrk::DONE)).unwrap();

    // The yardstick, on a token of the same SoftHSM in this process.
    let raw_token = common::new_token(2);
    let ctx = context::load(&common::module()).unwrap();
    let (slot, _) = token::find(&ctx, &TokenSelector::Label(raw_token.label.clone())).unwrap();
    let raw = || {
        rate(2, raw_slice, || {
            let session = ctx.open_rw_session(slot).unwrap();
            move || raw_cycle(&session, false)
        })
    };

    let wrk = |url: &str, connections: u32, seconds: u32| {
        let env = [("BODY", body.as_ref()), ("TOKEN", access_token.as_ref())];
        wrk::run(&script, url, connections, seconds, &env)
    };
    println!("POST /v1/sign/onetime (CAdES B-T, built-in TSA, SoftHSM) with wrk vs the raw PKCS#11 cycle on 2 threads");
    println!("cpu µs/req: the daemons' own CPU time (SoftHSM included; PostgreSQL and HAProxy not)");
    println!(
        "{:<12}  {:>5}  {:>5}  {:>12}  {:>10}  {:>8}  {:>8}  {:>7}  {:>11}",
        "store", "conns", "round", "raw cycles/s", "requests/s", "p50 ms", "p99 ms", "req/raw", "cpu µs/req"
    );
    for mode in modes {
        let deployment = Deployment::start(mode, &provider);
        check_one_request(deployment.addr, &access_token, &body);
        let url = format!("http://{}/v1/sign/onetime", deployment.addr);
        wrk(&url, 16, 1); // warm-up: JWKS fetched, sessions open, pages faulted in
        for connections in [16, 64] {
            let mut results = Vec::new();
            for round in 1..=rounds {
                let before = raw();
                let cpu = deployment.cpu_seconds();
                let load = wrk(&url, connections, seconds);
                let cpu_per_request = (deployment.cpu_seconds() - cpu) * 1e6 / load.requests;
                let after = raw();
                assert_eq!(load.failures, 0, "{} of the requests failed at concurrency {connections}", load.failures);
                let raw_rate = (before + after) / 2.0;
                let ratio = load.requests_per_second / raw_rate;
                println!(
                    "{:<12}  {connections:>5}  {round:>5}  {raw_rate:>12.0}  {:>10.0}  {:>8.2}  {:>8.2}  {ratio:>7.3}  {cpu_per_request:>11.0}",
                    mode.name(),
                    load.requests_per_second,
                    load.p50_ms,
                    load.p99_ms
                );
                results.push((raw_rate, load, ratio, cpu_per_request));
            }
            if rounds > 1 {
                let pick = |f: fn(&(f64, wrk::Load, f64, f64)) -> f64| median(results.iter().map(f).collect());
                println!(
                    "{:<12}  {connections:>5}  {:>5}  {:>12.0}  {:>10.0}  {:>8.2}  {:>8.2}  {:>7.3}  {:>11.0}",
                    mode.name(),
                    "med",
                    pick(|r| r.0),
                    pick(|r| r.1.requests_per_second),
                    pick(|r| r.1.p50_ms),
                    pick(|r| r.1.p99_ms),
                    pick(|r| r.2),
                    pick(|r| r.3)
                );
            }
        }
    }
}

/// Where the daemons keep their state, and how many run.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// One daemon on its SQLite file (the embedded default).
    Sqlite,
    /// One daemon on PostgreSQL.
    Postgres1,
    /// Two daemons on one PostgreSQL behind HAProxy (round robin), sharing the token.
    Postgres2,
}

impl Mode {
    fn named(name: &str) -> Mode {
        match name {
            "sqlite" => Mode::Sqlite,
            "postgres" => Mode::Postgres1,
            "postgres2" => Mode::Postgres2,
            other => panic!("--mode={other}: use sqlite, postgres or postgres2"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Sqlite => "SQLite-1",
            Mode::Postgres1 => "PostgreSQL-1",
            Mode::Postgres2 => "PostgreSQL-2",
        }
    }
}

/// The daemons of one mode, and what they stand on.
struct Deployment {
    /// Where wrk sends its requests (the daemon, or the balancer).
    addr: std::net::SocketAddr,
    daemons: Vec<Daemon>,
    _balancer: Option<common::haproxy::Haproxy>,
    _postgres: Option<common::postgres::Postgres>,
    _token: TokenDir,
}

impl Deployment {
    fn start(mode: Mode, provider: &Provider) -> Deployment {
        let token_dir = TokenDir::new();
        // One address makes every request here, as a busy eService or a reverse proxy would: no
        // per-address limits.
        let config = std::fs::read_to_string(token_dir.config()).unwrap().replacen(
            "[server]\n",
            "[server]\nrequests_per_ip_per_second = 0\nmax_connections_per_ip = 1024\n",
            1,
        ) + &format!("\n[identity]\nissuer = \"{}\"\naudience = \"esignd\"\n", provider.issuer);
        std::fs::write(token_dir.config(), config.replace("format = \"pretty\"", "format = \"json\"")).unwrap();
        // PostgreSQL as an operator runs it: durable commits (fsync on).
        let postgres = (!matches!(mode, Mode::Sqlite)).then(|| common::postgres::Postgres::start_with(&[]));
        let count = if matches!(mode, Mode::Postgres2) { 2 } else { 1 };
        let mut daemons: Vec<Daemon> = (0..count)
            .map(|_| {
                let mut command = common::daemon::esignd(&token_dir);
                if let Some(postgres) = &postgres {
                    command.env("ESIGND__STORE__URL", postgres.url());
                }
                Daemon::start_with(command)
            })
            .collect();
        let addrs: Vec<_> = daemons.iter_mut().map(Daemon::listening_on).collect();
        let balancer = (count > 1).then(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            common::haproxy::Haproxy::start(port, &addrs)
        });
        let addr = balancer.as_ref().map_or(addrs[0], |b| b.addr);
        Deployment { addr, daemons, _balancer: balancer, _postgres: postgres, _token: token_dir }
    }

    /// CPU time all the daemons have used.
    fn cpu_seconds(&self) -> f64 {
        self.daemons.iter().map(|d| cpu_seconds(d.pid())).sum()
    }
}

/// CPU time the process `pid` has used, user and system (from `/proc/{pid}/stat`): what the
/// daemon spends per request, HSM work included (SoftHSM runs in its process), whatever else
/// shares the machine.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the daemon's /proc entry");
    // Fields after the parenthesised command name: state is the 3rd field, utime the 14th, stime the 15th.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    static TICKS_PER_SECOND: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let per_second = TICKS_PER_SECOND.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf");
        text(&out.stdout).trim().parse().expect("CLK_TCK is a number")
    });
    ticks / per_second
}

/// One request by hand before the load: a 200 with a signature, so that wrk measures signing
/// and not a fast refusal.
fn check_one_request(addr: std::net::SocketAddr, access_token: &str, body: &str) {
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", access_token)];
    let (status, answer) = http_with(addr, "POST", "/v1/sign/onetime", &headers, body.as_bytes());
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status, 200, "the request wrk will repeat fails:\n{answer}");
    assert!(answer.contains("\"signature\""), "{answer}");
}
