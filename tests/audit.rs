//! The audit trail as the daemon writes it (`docs/audit.md`), judged from outside: Debian's
//! `sqlite3` reads and tampers with the store, openssl checks checkpoints as the document says,
//! and `GET /v1/audit/log` is called as an auditor, as two citizens and as nobody.
//!
//! 1. One-time signatures for two citizens and sessions leave their events in order, with no
//!    name, subject id or token anywhere in the table; checkpoints are made, signed by the
//!    audit key and time-stamped (`openssl dgst -verify`, `openssl ts -verify`); an auditor
//!    pages through everything, each citizen sees their own records only, no credential is 401.
//! 2. `esignctl audit verify` accepts the untouched trail and names each tampering: a field
//!    changed, a record deleted, two swapped, one forged, a checkpoint dropped; the newest
//!    records cut off (with their checkpoint) pass unless the auditor kept a later checkpoint
//!    (`--against`).
//! 3. kill -9 in the middle of a signing load: the chain verifies, and every signature returned
//!    to a caller has its `signature.produced` record.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::audit::{AROUND, assert_no_personal_data, sqlite, types};
use common::daemon::Daemon;
use common::eservices::{clients_toml, new_session, sha256_hex};
use common::{TokenDir, http_get, http_with, openssl, text};
use serde_json::{Value, json};

const AUDITOR_KEY: &str = "auditor-key-4f9a";

/// esignd on the demo profile's mock ID provider (tokens for any citizen), eServices "key-a"
/// and "key-b", an auditor, and a checkpoint every `every` records.
fn start(every: u64) -> (TokenDir, Daemon, SocketAddr) {
    let token = TokenDir::new();
    let extra = format!(
        "{clients}\n[[auditors]]\nid = \"supervisor\"\napi_key_sha256 = \"{auditor}\"\n\
         \n[audit]\ncheckpoint_every = {every}\ncheckpoint_secs = 3600\n\n[identity]\nmode = \"mock\"\n",
        clients = clients_toml("http://127.0.0.1:9/webhook"),
        auditor = sha256_hex(AUDITOR_KEY),
    );
    let config = std::fs::read_to_string(token.config()).unwrap() + &extra;
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    (token, daemon, addr)
}

/// An access token for citizen `sub` from the mock provider.
fn citizen(addr: SocketAddr, name: &str, sub: &str) -> String {
    let (status, token) = http_get(addr, &format!("/demo/id-token?name={name}&sub={sub}&for=signing"));
    assert_eq!(status, 200, "{token}");
    token.trim().to_owned()
}

/// A one-time signature for the citizen behind `token`: the certificate's serial, as openssl
/// prints it (upper-case hex, no leading zeros).
fn sign(addr: SocketAddr, token: &str, dir: &Path) -> Option<String> {
    let digest = esignd::hsm::HashAlgorithm::Sha256.digest(b"an audited document");
    let body = json!({ "format": "CAdES", "hash": STANDARD.encode(digest), "hashType": "SHA2-256" }).to_string();
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", token)];
    let (status, answer) = http_with(addr, "POST", "/v1/sign/onetime", &headers, body.as_bytes());
    if status != 200 {
        return None;
    }
    let response: Value = serde_json::from_slice(&answer).ok()?;
    let pem = dir.join(format!("leaf-{}.pem", rand_name()));
    std::fs::write(&pem, response["certificate"].as_str()?).ok()?;
    let out = openssl(["x509", "-in", pem.to_str()?, "-noout", "-serial"]);
    Some(text(&out.stdout).trim().trim_start_matches("serial=").trim_start_matches('0').to_ascii_uppercase())
}

fn rand_name() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    hex::encode(bytes)
}

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, body) = http_with(addr, "GET", path, headers, b"");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The stored checkpoints, as an auditor reads them.
fn checkpoints(addr: SocketAddr) -> Vec<Value> {
    let (status, answer) = get(addr, "/v1/audit/checkpoints?limit=1000", &[("apikey", AUDITOR_KEY)]);
    assert_eq!(status, 200, "{answer}");
    answer["checkpoints"].as_array().unwrap().clone()
}

/// Wait until at least `n` checkpoints exist.
fn wait_for_checkpoints(addr: SocketAddr, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = checkpoints(addr);
        if found.len() >= n {
            return found;
        }
        assert!(Instant::now() < deadline, "only {} checkpoints after 30 s", found.len());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `esignctl audit verify` on the store at `db`, with `args`.
fn verify(token: &TokenDir, db: &Path, args: &[&str]) -> Output {
    token
        .command(env!("CARGO_BIN_EXE_esignctl"))
        .arg("--config")
        .arg(token.config())
        .env("ESIGND__STORE__PATH", db)
        .args(["audit", "verify"])
        .args(args)
        .output()
        .unwrap()
}

fn esignctl(token: &TokenDir, args: &[&str]) -> String {
    let out = token.esignctl(args);
    assert!(out.status.success(), "esignctl {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Every record an auditor reads, page by page of `page` records.
fn read_all(addr: SocketAddr, page: usize, headers: &[(&str, &str)]) -> Vec<Value> {
    let mut records = Vec::new();
    let mut after = 0;
    loop {
        let (status, answer) = get(addr, &format!("/v1/audit/log?after={after}&limit={page}"), headers);
        assert_eq!(status, 200, "{answer}");
        records.extend(answer["records"].as_array().unwrap().iter().cloned());
        match answer["next"].as_u64() {
            Some(next) => after = next,
            None => return records,
        }
    }
}

#[test]
fn the_trail_records_signatures_checkpoints_verify_and_tampering_is_named() {
    let (token, mut daemon, addr) = start(6);
    let jane = citizen(addr, "Jane+Doe", "jane-4711");
    let john = citizen(addr, "John+Roe", "john-0815");
    let jane_serial = sign(addr, &jane, token.path("").as_path()).expect("Jane's signature");
    sign(addr, &john, token.path("").as_path()).expect("John's signature");
    for n in 1..=2 {
        let body = new_session(&format!("audited-{n}"), json!({})).to_string();
        let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
        assert_eq!(http_with(addr, "POST", "/v1/sessions", &headers, body.as_bytes()).0, 201);
    }
    // A refused session (its correlation id taken): no session.created, one request.refused.
    let again = new_session("audited-1", json!({})).to_string();
    let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
    assert_eq!(http_with(addr, "POST", "/v1/sessions", &headers, again.as_bytes()).0, 409);
    let first = wait_for_checkpoints(addr, 1)[0].clone();

    // Who may read: an auditor everything (in pages), a citizen their own records, nobody else.
    assert_eq!(get(addr, "/v1/audit/log", &[]).0, 401);
    assert_eq!(get(addr, "/v1/audit/log", &[("apikey", "key-a")]).0, 401, "an eService is not an auditor");
    assert_eq!(get(addr, "/v1/audit/checkpoints", &[]).0, 401);
    assert_eq!(get(addr, "/v1/audit/log", &[("x-govstack-authenticationtoken", "not-a-token")]).0, 401);
    let spec = common::spec::Spec::audit_api();
    let (status, page) = get(addr, "/v1/audit/log?limit=2", &[("apikey", AUDITOR_KEY)]);
    assert_eq!(status, 200);
    spec.assert_answer("/v1/audit/log", "get", "200", &page, &["records", "next"]);
    let (_, listed) = get(addr, "/v1/audit/checkpoints", &[("apikey", AUDITOR_KEY)]);
    spec.assert_answer("/v1/audit/checkpoints", "get", "200", &listed, &["checkpoints"]);
    let everything = read_all(addr, 3, &[("apikey", AUDITOR_KEY)]);
    let seqs: Vec<u64> = everything.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "every record, once, in order");
    let subject_of = |sub: &str| {
        let said = esignctl(&token, &["audit", "find", "--subject", sub]);
        said.lines().next().unwrap().trim_start_matches("subject ").to_owned()
    };
    let (jane_hash, john_hash) = (subject_of("jane-4711"), subject_of("john-0815"));
    assert_ne!(jane_hash, john_hash);
    let (status, janes) = get(addr, "/v1/audit/log", &[("x-govstack-authenticationtoken", &jane)]);
    assert_eq!(status, 200, "{janes}");
    let janes = janes["records"].as_array().unwrap();
    let kinds: Vec<&str> = janes.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["certificate.issued", "signature.produced"], "Jane's own records");
    assert!(janes.iter().all(|r| r["fields"]["subject"] == jane_hash.as_str()));
    let jane_serial_hex = janes[0]["fields"]["serial"].as_str().unwrap().trim_start_matches('0').to_ascii_uppercase();
    assert_eq!(jane_serial_hex, jane_serial, "the record names the certificate Jane got");
    // Filters: by type and by serial.
    let path = format!("/v1/audit/log?type=key.destroyed&serial={}", janes[0]["fields"]["serial"].as_str().unwrap());
    let (_, destroyed) = get(addr, &path, &[("apikey", AUDITOR_KEY)]);
    assert_eq!(destroyed["records"].as_array().unwrap().len(), 1, "{destroyed}");
    assert_eq!(get(addr, "/v1/audit/log?from=yesterday", &[("apikey", AUDITOR_KEY)]).0, 400);

    // A checkpoint verifies with openssl exactly as docs/audit.md says.
    let dir = token.path("openssl");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("checkpoint.json"), first.to_string()).unwrap();
    std::fs::write(dir.join("audit-key.pem"), esignctl(&token, &["audit", "public-key"])).unwrap();
    std::fs::write(dir.join("ca-chain.pem"), http_get(addr, "/v1/ca").1).unwrap();
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit.md")).unwrap();
    let block = doc.split("<!-- tested: verify-checkpoint -->\n```sh\n").nth(1).unwrap().split("\n```").next().unwrap();
    let out =
        std::process::Command::new("bash").args(["-euo", "pipefail", "-c", block]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("Verified OK") && said.contains("Verification: OK"), "{said}");
    // The same block refuses a checkpoint whose head was changed.
    let mut forged = first.clone();
    forged["head"] = json!("00".repeat(32));
    std::fs::write(dir.join("checkpoint.json"), forged.to_string()).unwrap();
    let out =
        std::process::Command::new("bash").args(["-euo", "pipefail", "-c", block]).current_dir(&dir).output().unwrap();
    assert!(!out.status.success(), "a forged head verifies: {}", text(&out.stdout));

    // More records, a second checkpoint; the auditor keeps it.
    for n in 3..=8 {
        let body = new_session(&format!("audited-{n}"), json!({})).to_string();
        let headers = [("Content-Type", "application/json"), ("apikey", "key-a")];
        assert_eq!(http_with(addr, "POST", "/v1/sessions", &headers, body.as_bytes()).0, 201);
    }
    let kept = wait_for_checkpoints(addr, 2).last().unwrap().clone();
    std::fs::write(token.path("kept.json"), kept.to_string()).unwrap();
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(), Some(0));

    let db = token.path("esignd.db");
    let signed = ["certificate.issued", "signature.produced", "timestamp.issued", "key.destroyed"];
    // esignctl provision --dev (the harness's token) made five objects: each is a token.changed.
    let mut expected = vec!["token.changed"; 5];
    expected.extend(signed.iter().chain(&signed));
    expected.extend(["session.created"; 8]);
    assert_eq!(types(&db, AROUND), expected);
    let all = types(&db, &[]);
    assert_eq!(
        (all.get(5).map(String::as_str), all.last().map(String::as_str)),
        (Some("daemon.started"), Some("daemon.stopped")),
        "the daemon's start follows the provisioning, and its stop ends the trail"
    );
    assert_eq!(all.iter().filter(|t| *t == "request.refused").count(), 5, "the 409 and the four 401s: {all:?}");
    assert_no_personal_data(&db, &["Jane", "John", "jane-4711", "john-0815", &jane, &john, AUDITOR_KEY]);

    let untouched = verify(&token, &db, &[]);
    assert!(untouched.status.success(), "{}", text(&untouched.stderr));
    let said = text(&untouched.stdout);
    assert!(said.starts_with(&format!("audit OK: {} records, ", all.len())), "{said}");
    let kept_file = token.path("kept.json");
    let kept_arg = kept_file.to_str().unwrap();
    assert!(verify(&token, &db, &["--against", kept_arg]).status.success());

    let tampered = |name: &str, sql: &str, args: &[&str], named: &str| {
        let copy = token.path(name);
        std::fs::copy(&db, &copy).unwrap();
        sqlite(&copy, sql);
        let out = verify(&token, &copy, args);
        assert!(!out.status.success(), "{name}: tampering went unnoticed: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains(named), "{name}: {}", text(&out.stderr));
    };
    let seq_of = |filter: &str| -> u64 {
        let found = text(&sqlite(&db, &format!("SELECT seq FROM audit WHERE {filter}")).stdout);
        found.trim().parse().unwrap_or_else(|_| panic!("one record where {filter}: {found:?}"))
    };
    let edited = seq_of("json_extract(fields, '$.correlationId') = 'audited-2'");
    tampered(
        "edited.db",
        &format!("UPDATE audit SET fields = replace(fields, 'audited-2', 'forged') WHERE seq = {edited}"),
        &[],
        &format!("record {edited} was changed"),
    );
    tampered("deleted.db", "DELETE FROM audit WHERE seq = 3", &[], "record 4 stands where record 3 belongs");
    tampered(
        "swapped.db",
        "UPDATE audit SET seq = -seq WHERE seq IN (2, 3); UPDATE audit SET seq = 5 + seq WHERE seq < 0",
        &[],
        "record 2 does not follow the record before it",
    );
    tampered(
        "forged.db",
        &format!(
            "INSERT INTO audit SELECT {n}, time, type, fields, hash, 'ff' FROM audit WHERE seq = {last}",
            n = all.len() + 1,
            last = all.len()
        ),
        &[],
        &format!("record {} was changed", all.len() + 1),
    );
    let first_seq = first["seq"].as_u64().unwrap();
    tampered(
        "dropped.db",
        &format!("DELETE FROM audit_checkpoints WHERE seq = {first_seq}"),
        &[],
        &format!("notes a checkpoint of record {first_seq} that is missing"),
    );
    // Cut off everything after the first checkpoint's note, with the later checkpoints: the
    // database alone looks whole; the checkpoint the auditor kept says otherwise.
    let note = seq_of(&format!("type = 'audit.checkpoint' AND json_extract(fields, '$.covers') = {first_seq}"));
    let cut = format!("DELETE FROM audit WHERE seq > {note}; DELETE FROM audit_checkpoints WHERE seq > {first_seq}");
    let copy = token.path("cut.db");
    std::fs::copy(&db, &copy).unwrap();
    sqlite(&copy, &cut);
    let alone = verify(&token, &copy, &[]);
    assert!(alone.status.success(), "{}", text(&alone.stderr));
    let kept_seq = kept["seq"].as_u64().unwrap();
    tampered(
        "cut-against.db",
        &cut,
        &["--against", kept_arg],
        &format!("a signed checkpoint covers record {kept_seq}"),
    );
}

#[test]
fn a_daemon_killed_under_load_leaves_a_chain_that_verifies_with_every_returned_signature() {
    let (token, mut daemon, addr) = start(50);
    let stop = Arc::new(AtomicBool::new(false));
    let dir = token.path("");
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let (stop, dir) = (Arc::clone(&stop), dir.clone());
            let access = citizen(addr, "Load+Tester", &format!("load-{n}"));
            std::thread::spawn(move || {
                let mut serials = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    // The daemon goes away mid-exchange: the harness's client panics then.
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sign(addr, &access, &dir))) {
                        Ok(Some(serial)) => serials.push(serial),
                        _ => break,
                    }
                }
                serials
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    daemon.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    let returned: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    daemon.wait_exit();
    assert!(returned.len() >= 4, "the load ran: {} signatures", returned.len());

    let db = token.path("esignd.db");
    let out = verify(&token, &db, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let produced = text(
        &sqlite(&db, "SELECT json_extract(fields, '$.serial') FROM audit WHERE type = 'signature.produced'").stdout,
    );
    let recorded: Vec<String> = produced.lines().map(|s| s.trim_start_matches('0').to_ascii_uppercase()).collect();
    for serial in &returned {
        assert!(recorded.contains(serial), "signature {serial} was returned but has no record");
    }
    // What the audit costs in space (reported, not asserted): records per signature and the
    // bytes of a record's columns.
    let sizes = sqlite(
        &db,
        "SELECT count(*), sum(length(time) + length(type) + length(fields) + length(prev) + length(hash) + 8) \
         FROM audit WHERE type IN ('certificate.issued', 'signature.produced', 'timestamp.issued', 'key.destroyed')",
    );
    let sizes = text(&sizes.stdout);
    let (records, bytes) = sizes.trim().split_once('|').unwrap();
    let (records, bytes): (f64, f64) = (records.parse().unwrap(), bytes.parse().unwrap());
    eprintln!(
        "audit: {} one-time signatures, {:.1} records per signature, {:.0} bytes per record",
        recorded.len(),
        records / recorded.len() as f64,
        bytes / records
    );
}
