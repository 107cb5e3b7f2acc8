//! The demo profile (`[identity] mode = "mock"`) as a visitor meets it: Debian's headless
//! Chromium clicks through `/demo` and the downloaded signature verifies with openssl; a
//! scripted HTTP client walks the same flow and meets the mock provider's and the demo's
//! refusals.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::Daemon;
use common::{TokenDir, http, http_get, openssl, text};
use serde_json::Value;

const DOCUMENT: &[u8] = b"Minutes of the village council, 12 November\n";

/// esignd in the demo profile on a port of its own.
fn demo() -> (TokenDir, Daemon, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let token = TokenDir::with_listen(&format!("127.0.0.1:{port}"));
    let mut daemon = Daemon::start_with({
        let mut command = common::daemon::esignd(&token);
        command.env("ESIGND__IDENTITY__MODE", "mock");
        command
    });
    let warning = daemon.wait_for(
        "DEMO PROFILE: the built-in mock ID provider accepts any name; never expose this daemon beyond this machine",
    );
    assert_eq!(warning["level"], "WARN");
    let addr = daemon.listening_on();
    (token, daemon, addr)
}

/// The result page at `done_path` names `signer`; its download verifies with the command it
/// shows.
fn download_and_verify(token: &TokenDir, addr: SocketAddr, done_path: &str, signer: &str) {
    let (status, page) = http_get(addr, done_path);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(signer), "{page}");
    let download = page.split("href=\"/demo/download/").nth(1).unwrap().split('"').next().unwrap();
    let (status, p7s) = http(addr, "GET", &format!("/demo/download/{download}"), None, &[]);
    assert_eq!(status, 200);
    std::fs::write(token.path("signature.p7s"), p7s).unwrap();
    let document = token.path("minutes.txt");
    std::fs::write(&document, DOCUMENT).unwrap();
    run_the_shown_command(token, addr, &page, &document).unwrap();
}

fn node(dir: &str, args: &[&str]) -> Value {
    serde_json::from_str(&common::node(dir, args)).unwrap()
}

/// A visitor in Chromium at the demo page signs `document` as Ana Visitor (tests/browser/demo.mjs);
/// what the browser saw, and that the pages logged no errors.
fn visitor_signs(token: &TokenDir, addr: SocketAddr, document: &Path) -> Value {
    let base = format!("http://{addr}");
    let out = token.dir.path().to_str().unwrap();
    let seen = node("tests/browser", &["demo.mjs", &base, document.to_str().unwrap(), "Ana Visitor", out]);
    assert_eq!(seen["consoleErrors"], serde_json::json!([]), "the pages logged errors");
    seen
}

/// The openssl command the result page shows, run as the visitor would (in a directory holding
/// the file and the signature), with the chain fetched from `/v1/ca`; openssl's complaint if it
/// does not verify.
fn run_the_shown_command(token: &TokenDir, addr: SocketAddr, page: &str, document: &Path) -> Result<(), String> {
    let command = page.split("openssl cms -verify").nth(1).expect("the page shows the openssl command");
    let command = command.split("-out /dev/null").next().unwrap().replace("\\\n", " ");
    std::fs::write(token.path("chain.pem"), http_get(addr, "/v1/ca").1).unwrap();
    let mut args: Vec<String> = vec!["cms".into(), "-verify".into()];
    for arg in command.split_whitespace() {
        args.push(match arg {
            "YOUR_FILE" => document.to_str().unwrap().to_owned(),
            "signature.p7s" | "chain.pem" => token.path(arg).to_str().unwrap().to_owned(),
            other => other.to_owned(),
        });
    }
    args.extend(["-out".into(), "/dev/null".into()]);
    let out = openssl(&args);
    if out.status.success() && text(&out.stderr).contains("Verification successful") {
        Ok(())
    } else {
        Err(format!("openssl {args:?}:\n{}{}", text(&out.stdout), text(&out.stderr)))
    }
}

#[test]
fn a_visitor_in_chromium_signs_a_file_and_the_download_verifies() {
    let (token, _daemon, addr) = demo();
    let document = token.path("minutes.txt");
    std::fs::write(&document, DOCUMENT).unwrap();
    let seen = visitor_signs(&token, addr, &document);

    // The signing page showed the digest Chromium computed, and the file's name.
    let digest = hex::encode(esignd::hsm::HashAlgorithm::Sha256.digest(DOCUMENT));
    let signing_page = seen["signingPage"].as_str().unwrap();
    assert!(signing_page.replace(' ', "").contains(&digest), "the digest is not on the signing page: {signing_page}");
    assert!(signing_page.contains("minutes.txt"), "{signing_page}");

    let result_page = seen["resultPage"].as_str().unwrap();
    assert!(result_page.contains("CN=Ana Visitor"), "{result_page}");
    assert_eq!(Path::new(seen["saved"].as_str().unwrap()), token.path("signature.p7s"));
    run_the_shown_command(&token, addr, result_page, &document).unwrap();

    // A different file does not verify against the same signature.
    let other = token.path("other.txt");
    std::fs::write(&other, b"Minutes of another council\n").unwrap();
    assert!(
        run_the_shown_command(&token, addr, result_page, &other).is_err(),
        "a signature over one file verified another"
    );
}

#[test]
fn the_flow_without_a_browser_and_what_the_demo_refuses() {
    let (token, _daemon, addr) = demo();
    let digest = esignd::hsm::HashAlgorithm::Sha256.digest(DOCUMENT);
    let start = |body: &str| http(addr, "POST", "/demo/start", Some("application/json"), body.as_bytes());

    let (status, _) = start(r#"{"hash":"AAAA"}"#);
    assert_eq!(status, 400, "a digest that is not SHA-256 long");
    let (status, _) = start(r#"{"hash":"not base64!"}"#);
    assert_eq!(status, 400);
    let (status, _) = http(addr, "POST", "/demo/start-pdf", Some("text/plain"), b"%PDF-1.7");
    assert_eq!(status, 415, "a PDF comes as application/pdf");
    let (status, body) = http(addr, "POST", "/demo/start-pdf", Some("application/pdf"), b"just text");
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("not a PDF"), "{}", String::from_utf8_lossy(&body));

    let (status, body) = start(&format!(r#"{{"hash":"{}","fileName":"minutes.txt"}}"#, STANDARD.encode(digest)));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let redirect: Value = serde_json::from_slice(&body).unwrap();
    let redirect_url = redirect["redirectUrl"].as_str().unwrap();
    let done_prefix = format!("http://{addr}/demo/done");
    let walked = node("tests/oidc", &["sign.mjs", redirect_url, &done_prefix, "Bo Citizen", "start"]);
    let landed = walked["url"].as_str().unwrap();
    let query = landed.split_once('?').unwrap().1;
    assert!(query.starts_with("signatureId="), "{landed}");

    let done_path = landed.strip_prefix(&format!("http://{addr}")).unwrap();
    download_and_verify(&token, addr, done_path, "CN=Bo Citizen");
    // The demo's certificate says what it is, to a person (O) and to a validator (its policy,
    // under RFC 5612's documentation arc), as does the development CA above it.
    let signature = token.path("signature.p7s");
    let out =
        openssl(["pkcs7", "-inform", "DER", "-in", signature.to_str().unwrap(), "-print_certs", "-text", "-noout"]);
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signer = printed
        .split("Certificate:")
        .find(|c| c.contains("CN=Bo Citizen"))
        .unwrap_or_else(|| panic!("no signer certificate in {printed}"));
    assert!(signer.contains("O=esignd DEMO - not a real signature"), "{signer}");
    assert!(signer.contains("Policy: 1.3.6.1.4.1.32473.4713.1"), "{signer}");
    let (_, chain) = http_get(addr, "/v1/ca");
    std::fs::write(token.path("ca.pem"), chain).unwrap();
    let out = openssl(["x509", "-in", token.path("ca.pem").to_str().unwrap(), "-noout", "-text"]);
    assert!(text(&out.stdout).contains("Policy: 1.3.6.1.4.1.32473.4713.1"), "the development CA is marked");

    // The signature is redeemed once; coming back shows that it is gone.
    let (status, _) = http_get(addr, done_path);
    assert_eq!(status, 404);
    let (status, _) = http_get(addr, "/demo/download/0000");
    assert_eq!(status, 404);

    // The mock provider sends browsers only to esignd's own callback.
    let (status, page) = http_get(addr, "/mock-idp/authorize?redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s");
    assert_eq!(status, 400, "{page}");
    let (status, _) = http(
        addr,
        "POST",
        "/mock-idp/authorize",
        Some("application/x-www-form-urlencoded"),
        b"name=Eve&sub=1&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
    );
    assert_eq!(status, 400);
    let (status, body) = http(
        addr,
        "POST",
        "/mock-idp/token",
        Some("application/x-www-form-urlencoded"),
        b"grant_type=authorization_code&code=made-up&code_verifier=x",
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn a_visitor_signs_with_the_reference_device() {
    let (token, _daemon, addr) = demo();
    // The demo's recipe: a mock token for the device's owner, then esign-device.
    let (status, id_token) = http_get(addr, "/demo/id-token?name=Jane+Citizen&sub=DEMO-0002");
    assert_eq!(status, 200, "{id_token}");
    assert_eq!(http_get(addr, "/demo/id-token?name=Jane+Citizen").0, 400);
    std::fs::write(token.path("token.txt"), id_token.trim()).unwrap();
    std::fs::write(token.path("device-pin"), "2468\n").unwrap();
    let device = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_esign-device"))
            .args(["--server", &format!("http://{addr}")])
            .args(["--key-file", token.path("phone.key").to_str().unwrap()])
            .args(["--pin-file", token.path("device-pin").to_str().unwrap()])
            .args(["--state", token.path("phone.json").to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    common::oracle::assert_ok(&device(&["keygen"]), "esign-device keygen");
    let token_file = token.path("token.txt");
    let enrolled = device(&["enroll", "--id-token-file", token_file.to_str().unwrap(), "--pseudonym", "jane"]);
    common::oracle::assert_ok(&enrolled, "esign-device enroll");

    // The demo eService's session, signed with the device from the signing page.
    let digest = esignd::hsm::HashAlgorithm::Sha256.digest(DOCUMENT);
    let body = format!(r#"{{"hash":"{}","fileName":"minutes.txt"}}"#, STANDARD.encode(digest));
    let (status, started) = http(addr, "POST", "/demo/start", Some("application/json"), body.as_bytes());
    assert_eq!(status, 200);
    let redirect: Value = serde_json::from_slice(&started).unwrap();
    let redirect_url = redirect["redirectUrl"].as_str().unwrap();
    let session_token = redirect_url.split("token=").nth(1).unwrap().to_owned();
    // The citizen's browser opens the signing page (which binds the session to it) and chooses
    // the device there.
    let cookie = common::binding_cookie(addr, &redirect_url[redirect_url.find("/sign/").unwrap()..]);
    let (status, _, waiting) = common::http_full(
        addr,
        "POST",
        "/sign/interactive/device",
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &cookie)],
        format!("token={session_token}&pseudonym=jane").as_bytes(),
    );
    assert_eq!(status, 303);
    let served = device(&["serve", "--count", "1", "--wait", "5"]);
    common::oracle::assert_ok(&served, "esign-device serve");
    assert!(text(&served.stdout).contains("Demo: minutes.txt"), "{}", text(&served.stdout));
    let (status, _, done) = common::http_full(addr, "GET", &waiting.unwrap(), &[("Cookie", &cookie)], b"");
    assert_eq!(status, 303);
    let done = done.unwrap();
    let done_path = done.strip_prefix(&format!("http://{addr}")).unwrap_or(&done);
    download_and_verify(&token, addr, done_path, "CN=Jane Citizen");
}

#[test]
fn a_visitor_in_chromium_signs_a_pdf_and_downloads_it_signed() {
    let (token, _daemon, addr) = demo();
    let document = token.path("permit.pdf");
    std::fs::write(&document, common::pdf::minimal_pdf()).unwrap();
    let seen = visitor_signs(&token, addr, &document);
    let signing_page = seen["signingPage"].as_str().unwrap();
    assert!(signing_page.contains("permit.pdf") && signing_page.contains("PAdES"), "{signing_page}");
    let saved = Path::new(seen["saved"].as_str().unwrap()).to_owned();
    assert_eq!(saved, token.path("signed.pdf"));
    let signed = std::fs::read(&saved).unwrap();
    assert!(signed.starts_with(&common::pdf::minimal_pdf()), "the uploaded bytes are kept as they were");

    // pyHanko and pdfsig judge the download.
    let (_, chain) = http_get(addr, "/v1/ca");
    std::fs::write(token.path("ca.pem"), chain).unwrap();
    let pyhanko = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyhanko-venv/bin/pyhanko");
    let out = std::process::Command::new(pyhanko)
        .args(["sign", "validate", "--pretty-print", "--trust-replace", "--trust"])
        .arg(token.path("ca.pem"))
        .arg(&saved)
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert!(out.status.success() && said.contains("The signature is judged VALID"), "{said}{}", text(&out.stderr));
    let pdfsig = text(&std::process::Command::new("pdfsig").arg(&saved).output().unwrap().stdout);
    assert!(pdfsig.contains("Signature is Valid"), "{pdfsig}");
}
