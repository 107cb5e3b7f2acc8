//! The operator's listener, judged from outside: Prometheus' own `promtool check metrics`
//! (Debian's `prometheus` package) accepts `/metrics`; counters move by exactly the requests
//! sent (signatures, refused requests, unknown paths); `/readyz` there gives every check's
//! detail; the public listener serves neither.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::Daemon;
use common::{TokenDir, http_get, http_with, text};
use serde_json::json;

/// The value of the sample `name{labels}` in `exposition` (0 when absent).
fn sample(exposition: &str, name: &str, labels: &str) -> f64 {
    let wanted = if labels.is_empty() { format!("{name} ") } else { format!("{name}{{{labels}}} ") };
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .map_or(0.0, |value| value.split_whitespace().next().unwrap().parse().unwrap())
}

fn scrape(ops: SocketAddr) -> String {
    let (status, body) = http_get(ops, "/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn metrics_pass_promtool_and_count_exactly_the_requests_sent() {
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap() + "\n[identity]\nmode = \"mock\"\n";
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    let ops = daemon.ops_on();
    let (status, access) = http_get(addr, "/demo/id-token?name=Jane+Doe&sub=jane&for=signing");
    assert_eq!(status, 200);

    let before = scrape(ops);
    let digest = STANDARD.encode(esignd::hsm::HashAlgorithm::Sha256.digest(b"a metered document"));
    let good = json!({ "format": "CAdES", "hash": digest, "hashType": "SHA2-256" }).to_string();
    let short = json!({ "format": "CAdES", "hash": STANDARD.encode([1u8; 5]), "hashType": "SHA2-256" }).to_string();
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", access.trim())];
    for _ in 0..7 {
        assert_eq!(http_with(addr, "POST", "/v1/sign/onetime", &headers, good.as_bytes()).0, 200);
    }
    for _ in 0..3 {
        assert_eq!(http_with(addr, "POST", "/v1/sign/onetime", &headers, short.as_bytes()).0, 400);
    }
    for path in ["/no/such/path", "/metrics"] {
        assert_eq!(http_get(addr, path).0, 404, "the public listener does not serve {path}");
    }
    let after = scrape(ops);

    let moved = |labels: &str| {
        sample(&after, "esignd_http_requests_total", labels) - sample(&before, "esignd_http_requests_total", labels)
    };
    assert_eq!(moved(r#"route="/v1/sign/onetime",method="POST",status="200""#), 7.0, "{after}");
    assert_eq!(moved(r#"route="/v1/sign/onetime",method="POST",status="400""#), 3.0, "{after}");
    assert_eq!(moved(r#"route="unmatched",method="GET",status="404""#), 2.0, "{after}");
    let timed = sample(&after, "esignd_http_request_seconds_count", r#"route="/v1/sign/onetime""#)
        - sample(&before, "esignd_http_request_seconds_count", r#"route="/v1/sign/onetime""#);
    assert_eq!(timed, 10.0, "every answer is timed");
    let transactions = sample(&after, "esignd_onetime_transaction_seconds_count", "")
        - sample(&before, "esignd_onetime_transaction_seconds_count", "");
    assert_eq!(transactions, 7.0, "only the signatures made are transactions");
    for step in ["keygen", "certificate", "signature", "destroy", "timestamp", "checks"] {
        let labels = format!("step=\"{step}\"");
        let timed = sample(&after, "esignd_onetime_step_seconds_count", &labels)
            - sample(&before, "esignd_onetime_step_seconds_count", &labels);
        assert_eq!(timed, 7.0, "step {step} timed in each transaction");
        assert!(sample(&after, "esignd_onetime_step_seconds_sum", &labels) > 0.0, "{step} took time");
    }
    assert_eq!(sample(&after, "esignd_onetime_timestamp_failures_total", ""), 0.0);
    // Each signature's store transaction is timed (and the scrape's own reads).
    let store_calls =
        sample(&after, "esignd_store_call_seconds_count", "") - sample(&before, "esignd_store_call_seconds_count", "");
    assert!(store_calls >= 7.0, "store calls timed: {store_calls}");
    assert!(after.contains("# TYPE esignd_onetime_timestamp_failures_total counter"), "{after}");
    assert!(sample(&after, "esignd_hsm_sessions", "") >= 1.0, "{after}");
    assert!(sample(&after, "esignd_audit_head_seq", "") >= 7.0 * 4.0, "{after}");
    assert!(after.contains("\nesignd_outbox_backlog 0\n"), "nothing waits to leave: {after}");

    // Prometheus' own checker accepts the exposition.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian's prometheus package, tests/run.sh)");
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), after.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(checked.status.success(), "promtool: {}{}", text(&checked.stdout), text(&checked.stderr));

    // /readyz on the operator's listener: every check's detail, for whoever asks there.
    let (status, ready) = http_get(ops, "/readyz");
    assert_eq!(status, 200, "{ready}");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["checks"]["hsm"]["status"], "ok", "{ready}");
    assert_eq!(http_with(ops, "POST", "/metrics", &[], b"").0, 405);
    assert_eq!(http_get(ops, "/v1/ca").0, 404, "the operator's listener serves nothing else");

    // `systemctl reload` without TLS: logged, the daemon goes on (SIGHUP's default would end it).
    daemon.signal("HUP");
    daemon.wait_for("SIGHUP: nothing to reload (no [server.tls])");
    assert_eq!(http_get(addr, "/healthz").0, 200);
}
