//! The one-time key pool in a running daemon (`[hsm.key_pool]`, RSA-2048 one-time keys, set
//! from the environment as an operator would): it fills in the background and says so on
//! `/metrics`; signatures take its keys (none found it empty) and carry RSA-2048 one-time
//! certificates; its keys are session objects, which no other process ever sees on the token
//! (pkcs11-tool lists what provisioning made, while the daemon runs and after kill -9).

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::{Daemon, esignd};
use common::{TokenDir, http_get, http_with, oracle, text};
use serde_json::json;

/// The value of the sample `name` (no labels) in the daemon's `/metrics`.
fn metric(ops: std::net::SocketAddr, name: &str) -> f64 {
    let (status, body) = http_get(ops, "/metrics");
    assert_eq!(status, 200, "{body}");
    let wanted = format!("{name} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

fn token_objects(token: &TokenDir) -> usize {
    let out = token.pkcs11_tool(&["--list-objects"]);
    assert!(out.status.success(), "pkcs11-tool: {}", text(&out.stderr));
    text(&out.stdout).matches(" Object;").count()
}

#[test]
fn the_key_pool_fills_serves_rsa_signatures_and_leaves_nothing_on_the_token() {
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap() + "\n[identity]\nmode = \"mock\"\n";
    std::fs::write(token.config(), config).unwrap();
    let provisioned = token_objects(&token);

    let mut command = esignd(&token);
    command.env("ESIGND__HSM__EPHEMERAL_KEY", "rsa2048").env("ESIGND__HSM__KEY_POOL__SIZE", "3");
    let mut daemon = Daemon::start_with(command);
    let (addr, ops) = (daemon.listening_on(), daemon.ops_on());
    assert_eq!(metric(ops, "esignd_key_pool_size"), 3.0);
    let started = Instant::now();
    while metric(ops, "esignd_key_pool_ready") < 3.0 {
        assert!(started.elapsed() < Duration::from_secs(120), "the pool never filled");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(token_objects(&token), provisioned, "pool keys are session objects: other processes never see them");

    let (status, access) = http_get(addr, "/demo/id-token?name=Jane+Doe&sub=jane&for=signing");
    assert_eq!(status, 200);
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", access.trim())];
    for n in 0..2u8 {
        let digest = STANDARD.encode(esignd::hsm::HashAlgorithm::Sha256.digest(&[n]));
        let body = json!({ "format": "CAdES", "hash": digest, "hashType": "SHA2-256" }).to_string();
        let (status, answer) = http_with(addr, "POST", "/v1/sign/onetime", &headers, body.as_bytes());
        assert_eq!(status, 200, "{}", text(&answer));
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        let pem = token.path("leaf.pem");
        std::fs::write(&pem, answer["certificate"].as_str().unwrap()).unwrap();
        let leaf = oracle::x509_text(&pem);
        assert!(leaf.contains("rsaEncryption") && leaf.contains("(2048 bit)"), "an RSA-2048 one-time key:\n{leaf}");
    }
    assert_eq!(metric(ops, "esignd_key_pool_empty_total"), 0.0, "both signatures took a key from the pool");

    daemon.signal("KILL");
    daemon.wait_exit();
    assert_eq!(token_objects(&token), provisioned, "after kill -9, only what provisioning made");
}
