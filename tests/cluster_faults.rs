//! Two daemons behind HAProxy on one PostgreSQL, under wrk's load (Debian's package, through
//! the balancer, concurrency 16), while things go wrong:
//!
//! - **Rolling restart:** SIGTERM one daemon mid-run. It says `draining` on `/readyz` while
//!   still serving (`server.drain_notice_secs`), the balancer moves new requests to the other,
//!   it finishes what it holds and exits 0, and comes back. No request fails.
//! - **Crash:** kill -9 one daemon mid-run. Every 200 carries a signature openssl verifies; no
//!   row is half-written (every published certificate has its audit record and back); a webhook
//!   the killed daemon had queued is delivered by the survivor; the audit chain verifies; the
//!   killed daemon, started again, rejoins.
//! - **The database goes away** for 10 s: 503 with a clear message, then service again without
//!   restarting the daemons.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::cluster::Cluster;
use common::eservices::new_session;
use common::load::{DOCUMENT, access_token, sign, wrk};
use common::{binding_cookie, http_full, http_get, http_with, oracle, text};
use serde_json::{Value, json};

/// openssl verifies every SignResponse's signature over [`DOCUMENT`] at its time-stamp's time,
/// with the CA chain (two threads).
fn verify_all(dir: &Path, responses: &[Value], chain: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    std::fs::write(dir.join("document.bin"), DOCUMENT).unwrap();
    std::thread::scope(|scope| {
        for (half, part) in responses.chunks(responses.len().div_ceil(2).max(1)).enumerate() {
            scope.spawn(move || {
                for (n, response) in part.iter().enumerate() {
                    assert_eq!(response["status"]["code"], "OK", "{response}");
                    let p7s = dir.join(format!("{half}-{n}.p7s"));
                    std::fs::write(&p7s, STANDARD.decode(response["signature"].as_str().unwrap()).unwrap()).unwrap();
                    let token = STANDARD.decode(response["signatureTimestamp"].as_str().unwrap()).unwrap();
                    let at = oracle::gen_time(&token);
                    let out = oracle::cms_verify(dir, &p7s, &dir.join("document.bin"), &dir.join("chain.pem"), at);
                    oracle::assert_ok(&out, "openssl cms -verify of a 200 answered under load");
                }
            });
        }
    });
}

/// Every published certificate has its `certificate.issued` record and every record its
/// certificate: a transaction cut short by a crash left neither.
fn nothing_half_written(cluster: &Cluster) {
    let db = |sql: &str| cluster.pg.psql("esignd", sql);
    let published = db("SELECT count(*) FROM certificates");
    let issued = db("SELECT count(*) FROM audit WHERE type = 'certificate.issued'");
    assert_eq!(published, issued, "certificates published vs certificate.issued records");
    let orphans = db("SELECT count(*) FROM audit a WHERE a.type = 'certificate.issued' \
         AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.serial = (a.fields::jsonb ->> 'serial'))");
    assert_eq!(orphans, "0", "records of certificates that were never published");
}

/// Wait until the balancer sends requests to daemon `n` again (its health checks pass).
fn until_serving(cluster: &mut Cluster, n: usize, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let start = cluster.answered()[n];
    while cluster.answered()[n] <= start {
        assert!(Instant::now() < deadline, "the balancer never sent daemon {n} a request");
        let (status, answer) = sign(cluster.lb(), token);
        assert_eq!(status, 200, "{answer}");
    }
}

#[test]
fn a_rolling_restart_under_load_fails_no_request() {
    let mut cluster = Cluster::start(0, "", &[("ESIGND__SERVER__DRAIN_NOTICE_SECS", "2")]);
    let token = access_token(&cluster);
    let load = wrk(&cluster, 7, "rolling");
    std::thread::sleep(Duration::from_millis(1500));
    cluster.daemon(1).signal("TERM");
    let draining = cluster.daemon(1).wait_for("draining: /readyz says so; still serving");
    assert_eq!(draining["notice_secs"], 2);
    let (status, ready) = http_get(cluster.addr(1), "/readyz");
    assert_eq!((status, ready.contains("draining")), (503, true), "{ready}");
    assert_eq!(cluster.daemon(1).wait_exit(), Some(0), "{}", cluster.daemon(1).log());
    cluster.daemons[1] = None;
    cluster.start_daemon(1);
    let run = load.join().unwrap();
    assert!(run.ok.len() > 50, "only {} signatures under load", run.ok.len());
    assert_eq!((run.other_statuses.as_slice(), run.socket_errors), (&[][..], 0), "every request succeeded");
    until_serving(&mut cluster, 1, &token);
    verify_all(&cluster.path("rolling-verified"), &run.ok, &http_get(cluster.lb(), "/v1/ca").1);
    nothing_half_written(&cluster);
    cluster.audit_verify();
}

#[test]
fn a_daemon_killed_under_load_loses_nothing_it_answered() {
    let extra = "\n[webhooks]\nattempts = 5\nfirst_retry_ms = 2000\n";
    let mut cluster = Cluster::start(1, extra, &[]);
    let token = access_token(&cluster);
    let load = wrk(&cluster, 6, "crash");
    std::thread::sleep(Duration::from_millis(1000));

    // A session on daemon 0 ends (the citizen cancels); its webhook's first attempt is refused
    // and its retry is due in 2 s — by when daemon 0 is dead.
    let a = cluster.addr(0);
    let body = new_session("crash-1", json!({})).to_string();
    let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
    let (status, created) = http_with(a, "POST", "/v1/sessions", &headers, body.as_bytes());
    assert_eq!(status, 201, "{}", text(&created));
    let created: Value = serde_json::from_slice(&created).unwrap();
    let page = created["redirectUrl"].as_str().unwrap();
    let page = &page[page.find("/sign/").unwrap()..];
    let cookie = binding_cookie(a, page);
    let origin = format!("http://{}", cluster.lb());
    let form = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
    ];
    let token_param = page.split("token=").nth(1).unwrap();
    let (status, _, _) =
        http_full(a, "POST", "/sign/interactive/cancel", &form, format!("token={token_param}").as_bytes());
    assert_eq!(status, 303);
    // The first attempt is made before the redirect, unless the other daemon claimed the
    // delivery first: then it is on its way. Its retry is 2 s later.
    let asked = Instant::now();
    while cluster.webhooks.received().is_empty() && asked.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(cluster.webhooks.received().len(), 1, "the first attempt, refused");

    cluster.daemon(0).signal("KILL");
    cluster.daemon(0).wait_exit();
    cluster.daemons[0] = None;
    let run = load.join().unwrap();
    assert!(run.ok.len() > 50, "only {} signatures under load", run.ok.len());

    // The survivor delivers the webhook, with the body the first attempt carried.
    let seen = cluster.webhooks.wait_for(2);
    assert_eq!(seen[0], seen[1], "the body sealed once is sent again");

    verify_all(&cluster.path("crash-verified"), &run.ok, &http_get(cluster.lb(), "/v1/ca").1);
    eprintln!(
        "under kill -9: {} answered 200, {} other statuses {:?}, {} socket errors",
        run.ok.len(),
        run.other_statuses.len(),
        run.other_statuses.iter().collect::<std::collections::BTreeSet<_>>(),
        run.socket_errors
    );
    assert!(run.other_statuses.iter().all(|s| [502, 503].contains(s)), "{:?}", run.other_statuses);
    nothing_half_written(&cluster);
    cluster.audit_verify();
    let outbox = cluster.pg.psql("esignd", "SELECT count(*) FROM outbox");
    assert_eq!(outbox, "0", "the delivery left the outbox");

    // The killed daemon comes back and takes requests again.
    cluster.start_daemon(0);
    until_serving(&mut cluster, 0, &token);
    cluster.audit_verify();
}

#[test]
fn requests_while_the_database_is_away_get_503_and_service_comes_back() {
    let mut cluster = Cluster::start(0, "", &[]);
    let token = access_token(&cluster);
    let a = cluster.addr(0);
    assert_eq!(sign(a, &token).0, 200);

    cluster.pg.pause();
    let away = Instant::now();
    let (status, answer) = sign(a, &token);
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["status"]["message"], "the store is unavailable; try again shortly", "{answer}");
    // Readiness answers are reused for up to a second (HAProxy's health checks may have just
    // asked): within a few seconds it says unready.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, ready) = http_get(a, "/readyz");
        if status == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "still ready with the database away: {ready}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, detail) = http_get(cluster.daemon(0).ops_on(), "/readyz");
    assert!(status == 503 && detail.contains("store"), "{detail}");
    // Every request answers (503) within the connection wait, none hangs.
    while away.elapsed() < Duration::from_secs(10) {
        assert_eq!(sign(cluster.lb(), &token).0, 503);
        std::thread::sleep(Duration::from_millis(500));
    }
    cluster.pg.resume();

    // Without restarting anything: signing, readiness, the audit chain.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, answer) = sign(cluster.lb(), &token);
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {status} {answer}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for n in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_get(cluster.addr(n), "/readyz").0 != 200 {
            assert!(Instant::now() < deadline, "daemon {n} stays unready");
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(sign(cluster.addr(n), &token).0, 200, "daemon {n} signs again");
    }
    nothing_half_written(&cluster);
    cluster.audit_verify();
}
