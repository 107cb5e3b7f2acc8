//! The daemon as an operator starts it: `esignd --check-config`, `esignd serve` on a token
//! made by softhsm/make-token, its health endpoints, SIGTERM, and the ways start-up must fail.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, esignd};
use common::fake_tsa::{Reply, serve};
use common::{TokenDir, http_get, openssl_root, text};

fn check_config(token: &TokenDir, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = esignd(token).arg("--check-config").envs(env.iter().copied()).output().unwrap();
    (out.status.code(), text(&out.stderr))
}

#[test]
fn serves_health_and_readiness_and_drains_on_sigterm() {
    let token = TokenDir::new();
    // Play systemd's part of Type=notify: a datagram socket named by NOTIFY_SOCKET.
    let notify_path = token.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut command = esignd(&token);
    command.env("NOTIFY_SOCKET", &notify_path);
    let mut daemon = Daemon::start_with(command);
    let addr = daemon.listening_on();
    let mut datagram = [0u8; 256];
    let n = notify.recv(&mut datagram).unwrap();
    assert_eq!(&datagram[..n], b"READY=1\n", "sd_notify readiness once serving");

    let (status, body) = http_get(addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = http_get(addr, "/readyz");
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["checks"]["hsm"]["status"], "ok");
    assert_eq!(ready["checks"]["hsm"]["token"], "esignd");
    assert_eq!(ready["checks"]["store"]["status"], "ok");
    assert_eq!(ready["checks"]["tsa"]["status"], "ok", "{body}");
    assert_eq!(ready["checks"]["tsa"]["mode"], "builtin");
    let (status, body) = http_get(addr, "/v1/nothing-here");
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"]["code"], "ERROR");

    daemon.signal("TERM");
    let n = notify.recv(&mut datagram).unwrap();
    assert_eq!(&datagram[..n], b"STOPPING=1\n");
    assert_eq!(daemon.wait_exit(), Some(0));
    let log = daemon.seen.join("\n");
    assert!(log.contains(r#""message":"drained""#), "{log}");
    assert!(log.contains("key checked") && log.contains("sha256:"), "start-up names the keys it checked: {log}");
    assert!(!log.contains(&token.pin()), "the PIN never reaches the log");
    assert!(!log.contains("BEGIN CERTIFICATE"), "no whole certificates in the log");
}

#[test]
fn a_wrong_pin_stops_start_up_at_once_and_does_not_lock_the_token() {
    let token = TokenDir::new();
    let right = token.pin();
    std::fs::write(token.path("pin"), "wrong-pin-9999\n").unwrap();
    let started = Instant::now();
    let mut daemon = Daemon::start(&token);
    assert_eq!(daemon.wait_exit(), Some(69), "EX_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(20), "no retry loop");
    let log = daemon.seen.join("\n");
    assert!(log.contains("CKR_PIN_INCORRECT") && log.contains("hsm.pin_file"), "{log}");
    assert!(!log.contains("wrong-pin-9999"), "the PIN never reaches the log: {log}");

    std::fs::write(token.path("pin"), right).unwrap();
    let list = token.esignctl(&["key", "list"]);
    assert!(list.status.success(), "the right PIN still works: {}", text(&list.stderr));
}

#[test]
fn a_token_missing_a_key_is_refused_with_what_to_run() {
    let token = TokenDir::new();
    assert!(token.esignctl(&["key", "destroy", "--label", "esignd-service", "--yes"]).status.success());
    let mut daemon = Daemon::start(&token);
    assert_eq!(daemon.wait_exit(), Some(69));
    let log = daemon.seen.join("\n");
    assert!(log.contains("esignd-service") && log.contains("esignctl provision --dev"), "{log}");
}

#[test]
fn check_config_applies_environment_overrides_and_names_what_is_wrong() {
    // Files with mistakes are in fixtures/configs (tests/config_fixtures.rs); here the environment.
    let token = TokenDir::new();
    assert_eq!(check_config(&token, &[]).0, Some(0));
    assert_eq!(check_config(&token, &[("ESIGND__HSM__SESSIONS", "8")]).0, Some(0), "environment overrides");

    let (code, err) = check_config(&token, &[("ESIGND__HSM__COLOUR", "blue")]);
    assert_eq!(code, Some(64));
    assert!(err.contains("unknown field `colour`"), "{err}");

    let (code, err) = check_config(&token, &[("ESIGND__HSM__SESSIONS", "many")]);
    assert_eq!(code, Some(64));
    assert!(err.contains("hsm.sessions"), "{err}");

    let (code, err) = check_config(&token, &[("ESIGND__HSM__SESSIONS", "0")]);
    assert_eq!(code, Some(64));
    assert!(err.contains("hsm.sessions = \"0\""), "{err}");

    for (key, value, named) in [
        ("ESIGND__HSM__KEY_POOL__SIZE", "20000", "hsm.key_pool.size = \"20000\""),
        ("ESIGND__HSM__KEY_POOL__REFILL_THREADS", "0", "hsm.key_pool.refill_threads = \"0\""),
        ("ESIGND__HSM__KEY_POOL__WHEN_EMPTY", "wait", "hsm.key_pool.when_empty = \"wait\""),
    ] {
        let (code, err) = check_config(&token, &[(key, value)]);
        assert_eq!(code, Some(64), "{key}={value}: {err}");
        assert!(err.contains(named), "{err}");
    }
    let pool = [("ESIGND__HSM__KEY_POOL__SIZE", "64"), ("ESIGND__HSM__KEY_POOL__WHEN_EMPTY", "busy")];
    assert_eq!(check_config(&token, &pool).0, Some(0), "a valid key pool");

    let (code, err) = check_config(&token, &[("ESIGND__HSM__MODULE", "/nonexistent/pkcs11.so")]);
    assert_eq!(code, Some(64));
    assert!(err.contains("hsm.module") && err.contains("/nonexistent/pkcs11.so"), "{err}");

    let (code, err) = check_config(&token, &[("ESIGND__HSM__PIN_FILE", "/nonexistent/pin")]);
    assert_eq!(code, Some(64));
    assert!(err.contains("/nonexistent/pin"), "{err}");

    // A PostgreSQL store: its password file must be readable, and no password in the URL.
    let postgres = [("ESIGND__STORE__URL", "postgres://esignd@db.example/esignd")];
    assert_eq!(check_config(&token, &postgres).0, Some(0), "the database itself is not reached");
    let missing = [postgres[0], ("ESIGND__STORE__PASSWORD_FILE", "/nonexistent/store-password")];
    let (code, err) = check_config(&token, &missing);
    assert_eq!(code, Some(64));
    assert!(err.contains("store.password_file") && err.contains("/nonexistent/store-password"), "{err}");
    let (code, err) = check_config(&token, &[("ESIGND__STORE__URL", "postgres://esignd:hunter2@db.example/esignd")]);
    assert_eq!(code, Some(64));
    assert!(err.contains("store.url") && !err.contains("hunter2"), "{err}");
}

#[test]
fn an_unreachable_postgresql_stops_start_up_with_the_store_exit_code() {
    let token = TokenDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://esignd@127.0.0.1:{port}/esignd");
    let out = esignd(&token).arg("serve").env("ESIGND__STORE__URL", &url).output().unwrap();
    assert_eq!(out.status.code(), Some(73), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains(&url) && said.contains("connect"), "names the store and why: {said}");
}

#[test]
fn a_bad_config_stops_serve_before_binding() {
    let token = TokenDir::new();
    let out = esignd(&token).arg("serve").env("ESIGND__SERVER__LISTEN", "not-an-address").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("server.listen"), "{}", text(&out.stderr));
}

#[test]
fn the_built_in_tsa_answers_openssl_over_http() {
    use common::{http, openssl};
    let token = TokenDir::new();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    let p = |name: &str| token.path(name).to_str().unwrap().to_owned();

    let (status, chain) = http_get(addr, "/v1/ca");
    assert_eq!(status, 200);
    std::fs::write(p("ca.pem"), chain).unwrap();
    std::fs::write(p("data.txt"), "what is being time-stamped\n").unwrap();
    let query = openssl(["ts", "-query", "-data", &p("data.txt"), "-sha256", "-cert", "-out", &p("query.tsq")]);
    assert!(query.status.success(), "{}", text(&query.stderr));
    let (status, reply) =
        http(addr, "POST", "/tsa", Some("application/timestamp-query"), &std::fs::read(p("query.tsq")).unwrap());
    assert_eq!(status, 200);
    std::fs::write(p("reply.tsr"), reply).unwrap();
    let verified =
        openssl(["ts", "-verify", "-queryfile", &p("query.tsq"), "-in", &p("reply.tsr"), "-CAfile", &p("ca.pem")]);
    assert!(verified.status.success(), "openssl ts -verify: {}{}", text(&verified.stdout), text(&verified.stderr));
    let printed = text(&openssl(["ts", "-reply", "-in", &p("reply.tsr"), "-text"]).stdout);
    assert!(printed.contains("Status: Granted.") && printed.contains("Accuracy: 0x01 seconds"), "{printed}");

    // Malformed DER: a TimeStampResp with status rejection and badDataFormat, not an HTTP error.
    let (status, reply) = http(addr, "POST", "/tsa", Some("application/timestamp-query"), b"not DER at all");
    assert_eq!(status, 200);
    std::fs::write(p("rejected.tsr"), reply).unwrap();
    let printed = text(&openssl(["ts", "-reply", "-in", &p("rejected.tsr"), "-text"]).stdout);
    assert!(
        printed.contains("Status: Rejected.") && printed.contains("the data submitted has the wrong format"),
        "{printed}"
    );

    // Wrong content type, oversized body, wrong method.
    assert_eq!(http(addr, "POST", "/tsa", Some("application/json"), b"{}").0, 415);
    assert_eq!(http(addr, "POST", "/tsa", Some("application/timestamp-query"), &vec![0x30; 100_000]).0, 413);
    assert_eq!(http(addr, "GET", "/tsa", None, &[]).0, 405);
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));
}

#[test]
fn readiness_reports_an_external_tsa_that_cannot_stamp_and_spares_it_repeated_probes() {
    let token = TokenDir::new();
    let root = openssl_root(token.dir.path(), "tsa-root", "/CN=Some TSA root", 1);
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&asked);
    let tsa = serve(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Reply::Status(503, b"maintenance".to_vec())
    });
    let mut command = esignd(&token);
    command.envs([
        ("ESIGND__TSA__MODE", "external"),
        ("ESIGND__TSA__URLS", tsa.url.as_str()),
        ("ESIGND__TSA__TRUST", root.to_str().unwrap()),
    ]);
    let mut daemon = Daemon::start_with(command);
    let addr = daemon.listening_on();

    let (status, body) = http_get(addr, "/readyz");
    assert_eq!(status, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(ready["checks"]["hsm"]["status"], "ok");
    assert_eq!(ready["checks"]["tsa"]["status"], "error");
    assert_eq!(ready["checks"]["tsa"]["mode"], "external");
    let error = ready["checks"]["tsa"]["error"].as_str().unwrap();
    assert!(error.contains(&tsa.url) && error.contains("503"), "{error}");

    // A second probe right after is answered from the first.
    let (status, _) = http_get(addr, "/readyz");
    assert_eq!(status, 503);
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1, "the TSA was asked again at once");
}
