//! Two daemons behind HAProxy (round robin, Debian's package) on one PostgreSQL and one SoftHSM
//! token directory, as a deployment runs them: any daemon finishes what another started.
//!
//! - A citizen in headless Chromium signs a session through the balancer, so the session's
//!   requests land on both daemons; the signature verifies with openssl.
//! - A device long-polling on daemon B answers a request queued on daemon A (B is woken by
//!   PostgreSQL's notification); the eService redeems it on A and B at once: one 200, one 404.
//! - Device certificates change state on A and B in turn, and twice at once: every CRL either
//!   daemon serves verifies, lists what it must, and its number is higher than the last.
//! - `esignctl audit verify` accepts the chain both daemons wrote.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Barrier};

use common::cluster::Cluster;
use common::eservices::{CALLBACK, PERMIT, enrolment, new_session};
use common::{http, http_get, openssl, oracle, text};
use serde_json::{Value, json};

fn api(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
    common::http_json(addr, method, path, headers, body)
}

/// The CRL `addr` serves: its number, after openssl has checked its signature against the CA;
/// and its text.
fn crl(dir: &Path, addr: SocketAddr) -> (u64, String) {
    let (status, der) = http(addr, "GET", "/v1/crl", None, &[]);
    assert_eq!(status, 200);
    std::fs::write(dir.join("crl.der"), der).unwrap();
    std::fs::write(dir.join("chain.pem"), http_get(addr, "/v1/ca").1).unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let out = openssl(["crl", "-inform", "DER", "-in", &p("crl.der"), "-CAfile", &p("chain.pem"), "-noout", "-text"]);
    assert!(out.status.success() && text(&out.stderr).contains("verify OK"), "openssl crl: {}", text(&out.stderr));
    let shown = text(&out.stdout);
    let number = shown
        .split("X509v3 CRL Number:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no CRL number in {shown}"));
    (number, shown)
}

/// A device certificate for `user` from `POST /v1/cert/create` on `addr`: its id and serial (as
/// openssl prints serials in a CRL, upper-case hex).
fn certificate(cluster: &Cluster, addr: SocketAddr, user_token: &str, name: &str) -> (String, String) {
    let dir = cluster.token.dir.path();
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let csr = common::openssl_csr(dir, name, "/CN=device", "ec", &["ec_paramgen_curve:P-256"]);
    let headers = [("X-GovStack-AuthenticationToken", user_token)];
    let (status, created) = api(addr, "POST", "/v1/cert/create", &headers, Some(&enrolment(&csr, Some(name))));
    assert_eq!(status, 200, "{created}");
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, created["certificate"].as_str().unwrap()).unwrap();
    let serial = text(&openssl(["x509", "-noout", "-serial", "-in", &p(&pem)]).stdout);
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    (created["certificateId"].as_str().unwrap().to_owned(), serial)
}

fn change(addr: SocketAddr, user_token: &str, id: &str, code: &str) -> u16 {
    let body =
        json!({ "requestTimestamp": "2026-11-23T09:12:28Z", "status": { "code": code, "message": "user action" } });
    let headers = [("X-GovStack-AuthenticationToken", user_token)];
    let (status, answer) = api(addr, "PATCH", &format!("/v1/cert/{id}"), &headers, Some(&body));
    assert!(status == 200, "{code} on {addr}: {status} {answer}");
    status
}

#[test]
fn two_daemons_behind_a_balancer_finish_each_others_work() {
    let mut cluster = Cluster::start(0, "", &[]);
    let (a, b, lb) = (cluster.addr(0), cluster.addr(1), cluster.lb());

    // --- A session in Chromium through the balancer.
    let before = cluster.answered();
    let (status, created) =
        api(lb, "POST", "/v1/sessions", &[("apikey", "key-a")], Some(&new_session("cluster-1", json!({}))));
    assert_eq!(status, 201, "{created}");
    let link = created["redirectUrl"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("http://{lb}/")), "links name the balancer: {link}");
    let seen: Value =
        serde_json::from_str(&common::node("tests/browser", &["session.mjs", &format!("http://{lb}"), &link, "jane"]))
            .unwrap();
    assert_eq!(seen["consoleErrors"], json!([]), "{seen}");
    let location = seen["location"].as_str().unwrap_or_default();
    assert!(location.starts_with(CALLBACK) && location.contains("signatureId="), "{seen}");
    let signature_id = location.split("signatureId=").nth(1).unwrap().split('&').next().unwrap();
    let (status, response) = api(lb, "GET", &format!("/v1/sign/response/{signature_id}"), &[("apikey", "key-a")], None);
    assert_eq!(status, 200, "{response}");
    let chain = http_get(lb, "/v1/ca").1;
    let subject = oracle::sign_response(&cluster.path("session"), &response, PERMIT, &chain);
    assert!(subject.contains("jane") || subject.contains("Jane"), "{subject}");
    let after = cluster.answered();
    assert!(
        after[0] > before[0] + 1 && after[1] > before[1] + 1,
        "the session's requests were shared by both daemons: {before:?} -> {after:?}"
    );

    // --- Load through the balancer (8 clients, 200 requests): the daemons' counters moved by
    // exactly the requests sent. (wrk stops with requests in flight that it does not count.)
    let route = |metrics: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| l.starts_with("esignd_http_requests_total{") && l.contains("route=\"/v1/sign/onetime\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    let scrape = |cluster: &mut Cluster| -> Vec<u64> {
        (0..2).map(|n| route(&http_get(cluster.daemon(n).ops_on(), "/metrics").1)).collect()
    };
    let before = scrape(&mut cluster);
    let token = common::load::access_token(&cluster);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let token = token.clone();
            std::thread::spawn(move || (0..25).map(|_| common::load::sign(lb, &token).0).collect::<Vec<u16>>())
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let after = scrape(&mut cluster);
    let moved: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(moved.iter().sum::<u64>(), 200, "counters {before:?} -> {after:?} for 200 requests");
    assert!(moved.iter().all(|&m| m > 0), "both daemons took load: {moved:?}");

    // --- A device polling on B answers a request queued on A.
    let wallet = cluster.provider.access_token("wallet-app", "jane");
    std::fs::write(cluster.path("jane.token"), &wallet).unwrap();
    let out = cluster
        .device("phone", lb)
        .args(["enroll", "--id-token-file", cluster.path("jane.token").to_str().unwrap(), "--pseudonym", "jane-phone"])
        .output()
        .unwrap();
    oracle::assert_ok(&out, "esign-device enroll");
    let mut serve = cluster.device("phone", b);
    serve.args(["serve", "--count", "1", "--wait", "25"]);
    let device = std::thread::spawn(move || serve.output().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (status, issued) = api(a, "GET", "/v1/token/pseodonym/jane-phone", &[("apikey", "key-a")], None);
    assert_eq!(status, 200, "{issued}");
    let jwt = issued["jwt"].as_str().unwrap();
    let request = json!({
        "format": "CAdES", "hash": new_session("x", json!({}))["hash"].clone(), "hashType": "SHA2-256",
        "dataToBeDisplayed": "Building permit B-12", "nonce": "n-1", "state": "s-1",
        "requestTimestamp": "2026-11-23T09:12:28Z",
    });
    let (status, queued) =
        api(a, "POST", "/v1/sign/pseudonym", &[("apikey", "key-a"), ("X-Pseodonym-Token", jwt)], Some(&request));
    assert_eq!(status, 200, "{queued}");
    let out = device.join().unwrap();
    oracle::assert_ok(&out, "esign-device serve on daemon B");

    // --- The eService redeems on A and B at once: one gets it.
    let signature_id = queued["signatureId"].as_str().unwrap().to_owned();
    let start = Arc::new(Barrier::new(2));
    let racers: Vec<_> = [a, b]
        .into_iter()
        .map(|addr| {
            let (start, path) = (Arc::clone(&start), format!("/v1/sign/response/{signature_id}"));
            std::thread::spawn(move || {
                start.wait();
                api(addr, "GET", &path, &[("apikey", "key-a")], None)
            })
        })
        .collect();
    let mut answers: Vec<(u16, Value)> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    answers.sort_by_key(|(status, _)| *status);
    assert_eq!(answers.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [200, 404], "{answers:?}");
    oracle::sign_response(&cluster.path("device"), &answers[0].1, PERMIT, &chain);

    // --- CRL numbers rise across both daemons, one change at a time and two at once.
    let dir = cluster.path("crls");
    std::fs::create_dir_all(&dir).unwrap();
    let certificates: Vec<(String, String)> = (0..4)
        .map(|n| certificate(&cluster, if n % 2 == 0 { a } else { b }, &wallet, &format!("jane-card-{n}")))
        .collect();
    let (mut last, _) = crl(&dir, a);
    let steps = [(a, 0, "SUSPEND", b), (b, 1, "SUSPEND", a), (a, 0, "REVOKE", b), (b, 1, "REVOKE", a)];
    for (on, n, code, read_from) in steps {
        change(on, &wallet, &certificates[n].0, code);
        let (number, shown) = crl(&dir, read_from);
        assert!(number > last, "{code} on {on}: CRL {number} after {last}");
        assert!(shown.contains(&certificates[n].1), "CRL {number} lists {}:\n{shown}", certificates[n].1);
        last = number;
    }
    let start = Arc::new(Barrier::new(2));
    let racers: Vec<_> = [(a, 2), (b, 3)]
        .into_iter()
        .map(|(addr, n)| {
            let (start, wallet, id) = (Arc::clone(&start), wallet.clone(), certificates[n].0.clone());
            std::thread::spawn(move || {
                start.wait();
                change(addr, &wallet, &id, "REVOKE")
            })
        })
        .collect();
    for racer in racers {
        assert_eq!(racer.join().unwrap(), 200);
    }
    for read_from in [a, b] {
        let (number, shown) = crl(&dir, read_from);
        assert!(number >= last + 2, "two changes at once took two numbers: {number} after {last}");
        for (_, serial) in &certificates {
            assert!(shown.contains(serial), "CRL {number} lists {serial}:\n{shown}");
        }
    }

    // --- The audit chain both daemons wrote verifies.
    cluster.audit_verify();
    let redeemed = cluster.pg.psql("esignd", "SELECT count(*) FROM audit WHERE type = 'signature.redeemed'");
    assert_eq!(redeemed, "2", "the session's and the device's, each once");
}
