//! wrk (Debian's package), the load generator of `benches/load.rs` and `benches/tsa.rs`: one
//! fixed request from a Lua script, and a JSON summary at the end. Non-2xx answers count as
//! failures (`summary.errors.status`), as do socket errors and timeouts.
//! (Included with `#[path]`; a subfolder so cargo does not take it for a benchmark.)

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// The end of every script: wrk's `done()` hook printing the summary [`run`] reads.
pub const DONE: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"failures":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"#;

/// What one wrk run reports.
#[derive(Clone, Copy)]
#[allow(dead_code)] // not every benchmark reads every field
pub struct Load {
    pub requests: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failures: u64,
}

/// How long a benchmark runs: `(rounds, seconds per round, raw-cycle slice)` for `cargo bench`,
/// `-- --quick`, or a one-second check under `cargo test` (no `--bench` argument). Fails at once
/// when wrk is missing.
pub fn plan() -> (u32, u32, Duration) {
    let args: Vec<String> = std::env::args().collect();
    let under_test = !args.iter().any(|a| a == "--bench");
    let quick = under_test || args.iter().any(|a| a == "--quick");
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is missing: apt-get install -y wrk (tests/run.sh installs it)"
    );
    match (under_test, quick) {
        (true, _) => (1, 1, Duration::from_millis(200)),
        (false, true) => (1, 2, Duration::from_millis(500)),
        (false, false) => (3, 10, Duration::from_secs(2)),
    }
}

/// Run `script` (ending in [`DONE`]) against `url` from one thread at `connections` for
/// `seconds`, with `env` for the script.
pub fn run(script: &Path, url: &str, connections: u32, seconds: u32, env: &[(&str, &OsStr)]) -> Load {
    let out = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "5s", "-s"])
        .arg(script)
        .arg(url)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("no summary from wrk:\n{stdout}"));
    let requests = summary["requests"].as_f64().unwrap();
    Load {
        requests,
        requests_per_second: requests / (summary["duration_us"].as_f64().unwrap() / 1e6),
        p50_ms: summary["p50_us"].as_f64().unwrap() / 1e3,
        p99_ms: summary["p99_us"].as_f64().unwrap() / 1e3,
        failures: summary["failures"].as_u64().unwrap(),
    }
}
