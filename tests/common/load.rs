//! Load through the balancer with wrk (Debian's package): one-time signatures of [`DOCUMENT`]
//! at concurrency 16, every 200's body kept for openssl, every other status counted.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::cluster::Cluster;
use super::{http_with, text};

/// What the load signs.
pub const DOCUMENT: &[u8] = b"a document signed while daemons come and go\n";

/// The wrk script: one fixed request; every 200's body is written to `$OUT/ok.jsonl` and every
/// other status to `$OUT/other.txt`; a JSON summary at the end (socket errors and timeouts
/// included in `failures`).
const SCRIPT: &str = r#"
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GovStack-AuthenticationToken"] = os.getenv("TOKEN")
local ok, other
function init(args)
  ok = io.open(os.getenv("OUT") .. "/ok.jsonl", "w")
  ok:setvbuf("line")
  other = io.open(os.getenv("OUT") .. "/other.txt", "w")
  other:setvbuf("line")
end
function response(status, headers, body)
  if status == 200 then ok:write(body, "\n") else other:write(status, "\n") end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"sockets":%d,"status":%d}\n',
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
"#;

/// What a wrk run through the balancer saw.
pub struct Run {
    /// The 200s' bodies.
    pub ok: Vec<Value>,
    /// Every other status.
    pub other_statuses: Vec<u16>,
    /// Connections that failed or timed out.
    pub socket_errors: u64,
    /// Requests wrk completed.
    pub requests: u64,
}

/// Load the balancer for `seconds` with one-time signatures, in a thread.
pub fn wrk(cluster: &Cluster, seconds: u32, name: &str) -> std::thread::JoinHandle<Run> {
    let out = cluster.path(name);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("script.lua"), SCRIPT).unwrap();
    let url = format!("http://{}/v1/sign/onetime", cluster.lb());
    let (token, body) = (access_token(cluster), request_body());
    std::thread::spawn(move || {
        let run = std::process::Command::new("wrk")
            .args(["-t1", "-c16", &format!("-d{seconds}s"), "--timeout", "10s", "-s"])
            .arg(out.join("script.lua"))
            .arg(&url)
            .env("BODY", body)
            .env("TOKEN", token)
            .env("OUT", &out)
            .output()
            .expect("wrk runs (apt-get install -y wrk)");
        assert!(run.status.success(), "wrk: {}", text(&run.stderr));
        let stdout = text(&run.stdout);
        let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| panic!("no summary from wrk:\n{stdout}"));
        let ok = std::fs::read_to_string(out.join("ok.jsonl")).unwrap_or_default();
        let other = std::fs::read_to_string(out.join("other.txt")).unwrap_or_default();
        Run {
            ok: ok.lines().map(|line| serde_json::from_str(line).expect("a 200 is JSON")).collect(),
            other_statuses: other.lines().map(|line| line.trim().parse().unwrap()).collect(),
            socket_errors: summary["sockets"].as_u64().unwrap(),
            requests: summary["requests"].as_u64().unwrap(),
        }
    })
}

pub fn access_token(cluster: &Cluster) -> String {
    let now = esignd::jose::claims::now();
    cluster.provider.mint(&json!({"sub": "LOAD-0001", "name": "Load Citizen", "aud": "esignd", "exp": now + 3600}))
}

pub fn request_body() -> String {
    json!({
        "format": "CAdES", "hash": STANDARD.encode(esignd::hsm::HashAlgorithm::Sha256.digest(DOCUMENT)),
        "hashType": "SHA2-256", "dataToBeDisplayed": "load under faults", "requestTimestamp": "2026-11-23T12:00:00Z",
    })
    .to_string()
}

pub fn sign(addr: SocketAddr, token: &str) -> (u16, Value) {
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", token)];
    let (status, answer) = http_with(addr, "POST", "/v1/sign/onetime", &headers, request_body().as_bytes());
    (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
}
