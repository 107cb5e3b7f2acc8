//! Signing with the user's own device, end to end: a real OpenID provider vouches for the user,
//! the reference device `esign-device` (a key made by openssl, encrypted with the PIN) enrols,
//! and signs by pseudonym — through the GovStack API and through the signing page — answering
//! over the device API. The eService redeems the signature; `openssl cms -verify` and
//! `openssl ts -verify` judge it. Refused and unanswered requests end with a clear status (the
//! sweeper and the webhook included); a stopping daemon answers waiting devices; wallets bind.
//! The device-state and bad-input matrices are the in-process tier's (tests/app_devices.rs).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::daemon::Daemon;
use common::eservices::{CALLBACK, Webhooks, clients_toml, sha256_hex};
use common::oidc::Provider;
use common::spec::Spec;
use common::{TokenDir, http_get, openssl, oracle, request_object, text};
use esignd::device_client::key::{KeySource, UnlockedKey};
use esignd::hsm::HashAlgorithm;
use esignd::service::devices::binding::Possession;
use secrecy::SecretString;
use serde_json::{Value, json};

const DOCUMENT: &[u8] = b"Lease agreement, flat 4B, 12 Rue Haute\n";
const PIN: &str = "4711-device-pin";

struct Setup {
    token: TokenDir,
    provider: Provider,
    daemon: Daemon,
    addr: SocketAddr,
    webhooks: Webhooks,
}

/// esignd with a real provider, eServices `eservice-a` (API key "key-a", with a webhook) and
/// `eservice-b` ("key-b").
fn setup() -> Setup {
    setup_with("", &[])
}

/// As [`setup`], with more configuration (`extra` TOML, and `env` overrides such as
/// `ESIGND__SERVER__DRAIN_SECS` for sections the token's file has already).
fn setup_with(extra: &str, env: &[(&str, &str)]) -> Setup {
    let provider = Provider::start(&[]);
    let webhooks = Webhooks::start(0);
    let token = TokenDir::new();
    let config = format!(
        "\n[identity]\nissuer = \"{issuer}\"\naudience = \"esignd\"\n{clients}",
        issuer = provider.issuer,
        clients = clients_toml(webhooks.url()),
    ) + extra;
    let existing = std::fs::read_to_string(token.config()).unwrap();
    std::fs::write(token.config(), existing + &config).unwrap();
    std::fs::write(token.path("device-pin"), format!("{PIN}\n")).unwrap();
    let mut daemon = Daemon::start_with({
        let mut command = common::daemon::esignd(&token);
        command.envs(env.iter().copied());
        command
    });
    let addr = daemon.listening_on();
    Setup { token, provider, daemon, addr, webhooks }
}

fn api(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
    common::http_json(addr, method, path, headers, body)
}

/// A device: a P-256 key made by openssl and encrypted with the PIN (or a key on a SoftHSM
/// token of its own), and its state file.
#[derive(Clone)]
struct Device {
    name: String,
    key: PathBuf,
    state: PathBuf,
    /// The key options and PIN file of `esign-device`.
    key_args: Vec<String>,
    /// The SOFTHSM2_CONF of a token device.
    softhsm_conf: Option<PathBuf>,
}

impl Device {
    fn command(&self, server: SocketAddr) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_esign-device"));
        command.args(["--server", &format!("http://{server}")]).args(&self.key_args);
        command.args(["--state", self.state.to_str().unwrap()]);
        if let Some(conf) = &self.softhsm_conf {
            command.env("SOFTHSM2_CONF", conf);
        }
        command
    }
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.token.path(name)
    }

    fn device(&self, name: &str) -> Device {
        let key = self.path(&format!("{name}.key"));
        common::encrypted_device_key(&key, &self.path("device-pin"));
        let key_args = vec![
            "--key-file".to_owned(),
            key.to_str().unwrap().to_owned(),
            "--pin-file".to_owned(),
            self.path("device-pin").to_str().unwrap().to_owned(),
        ];
        Device { name: name.to_owned(), key, state: self.path(&format!("{name}.json")), key_args, softhsm_conf: None }
    }

    /// Run `esign-device` for `device` with `args`.
    fn esign_device(&self, device: &Device, args: &[&str]) -> Output {
        device.command(self.addr).args(args).output().unwrap()
    }

    /// Enrol `device` for `user` under `pseudonym`.
    fn enrol(&self, device: &Device, user: &str, pseudonym: &str) {
        let token_file = self.path(&format!("{}-{user}.token", device.name));
        std::fs::write(&token_file, self.provider.access_token("wallet-app", user)).unwrap();
        let out = self.esign_device(
            device,
            &["enroll", "--id-token-file", token_file.to_str().unwrap(), "--pseudonym", pseudonym],
        );
        oracle::assert_ok(&out, "esign-device enroll");
        assert!(text(&out.stdout).contains(&format!("pseudonym={pseudonym}")), "{}", text(&out.stdout));
    }

    /// The device answers `count` requests (`--refuse` when `refuse`), in the background.
    fn serve(&self, device: &Device, count: usize, refuse: bool) -> std::thread::JoinHandle<Output> {
        let mut command = device.command(self.addr);
        command.args(["serve", "--count", &count.to_string(), "--wait", "5"]);
        if refuse {
            command.arg("--refuse");
        }
        std::thread::spawn(move || command.output().unwrap())
    }

    fn pseudonym_token(&self, key: &str, pseudonym: &str) -> (u16, Value) {
        api(self.addr, "GET", &format!("/v1/token/pseodonym/{pseudonym}"), &[("apikey", key)], None)
    }

    fn sign_by_pseudonym(&self, key: &str, token: &str) -> (u16, Value) {
        let body = json!({
            "format": "CAdES",
            "hash": STANDARD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)),
            "hashType": "SHA2-256",
            "dataToBeDisplayed": "Lease agreement 4B",
            "nonce": "n-0001",
            "state": "s-0001",
            "requestTimestamp": "2026-11-23T09:12:28Z",
        });
        api(self.addr, "POST", "/v1/sign/pseudonym", &[("apikey", key), ("X-Pseodonym-Token", token)], Some(&body))
    }

    fn redeem(&self, key: &str, signature_id: &str) -> (u16, Value) {
        api(self.addr, "GET", &format!("/v1/sign/response/{signature_id}"), &[("apikey", key)], None)
    }

    /// Redeem once the device has answered (202 until then).
    fn redeem_when_done(&self, key: &str, signature_id: &str) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, answer) = self.redeem(key, signature_id);
            if status != 202 || Instant::now() > deadline {
                return (status, answer);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Judge a SignResponse with openssl: the CMS (as of the time-stamp) and the time-stamp
    /// token over the signature value. Returns the signer's subject.
    fn judge(&self, name: &str, response: &Value, device: &Device) -> String {
        let dir = self.path(name);
        let chain = http_get(self.addr, "/v1/ca").1;
        let subject = oracle::sign_response(&dir, response, DOCUMENT, &chain);
        // The signer is the enrolled device certificate, not a one-time one.
        let state: Value = serde_json::from_str(&std::fs::read_to_string(&device.state).unwrap()).unwrap();
        assert_eq!(response["certificate"].as_str().unwrap().trim(), state["certificate"].as_str().unwrap().trim());
        let p7s = std::fs::read(dir.join("signature.p7s")).unwrap();
        std::fs::write(dir.join("signature-value.bin"), oracle::signature_value(&p7s)).unwrap();
        oracle::assert_ok(
            &oracle::ts_verify(&dir.join("timestamp.tst"), &dir.join("signature-value.bin"), &dir.join("chain.pem")),
            "openssl ts -verify",
        );
        subject
    }
}

/// `method` `path` from a browser with `cookie` (when not empty): the status and where it was
/// sent (or the page).
fn location(setup: &Setup, path: &str, method: &str, body: &[u8], cookie: &str) -> (u16, String) {
    let mut headers: Vec<(&str, &str)> =
        if body.is_empty() { vec![] } else { vec![("Content-Type", "application/x-www-form-urlencoded")] };
    if !cookie.is_empty() {
        headers.push(("Cookie", cookie));
    }
    let (status, raw, location) = common::http_full(setup.addr, method, path, &headers, body);
    (status, location.unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned()))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?.1.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

#[test]
fn an_enrolled_device_signs_by_pseudonym_through_the_api_and_the_signing_page() {
    let setup = setup();
    let phone = setup.device("phone");
    setup.enrol(&phone, "jane", "jane-phone");

    // GovStack API: pseudonym token (either spelling), request, 202 while the device is silent.
    let govstack = Spec::govstack();
    let (status, issued) = setup.pseudonym_token("key-a", "jane-phone");
    assert_eq!(status, 200, "{issued}");
    govstack.assert_answer("/{version}/token/pseodonym/{pseudonym}", "get", "200", &issued, &["jwt"]);
    let jwt = issued["jwt"].as_str().unwrap().to_owned();
    assert_eq!(api(setup.addr, "GET", "/v1/token/pseudonym/jane-phone", &[("apikey", "key-a")], None).0, 200);
    assert_eq!(setup.pseudonym_token("key-a", "nobody-here").0, 404);
    assert_eq!(api(setup.addr, "GET", "/v1/token/pseodonym/jane-phone", &[], None).0, 401);
    // Another eService cannot use eservice-a's token.
    assert_eq!(setup.sign_by_pseudonym("key-b", &jwt).0, 401);

    let (status, queued) = setup.sign_by_pseudonym("key-a", &jwt);
    assert_eq!(status, 200, "{queued}");
    govstack.assert_answer("/{version}/sign/pseudonym", "post", "200", &queued, &["signatureId", "nonce", "state"]);
    assert_eq!((queued["nonce"].as_str(), queued["state"].as_str()), (Some("n-0001"), Some("s-0001")));
    let signature_id = queued["signatureId"].as_str().unwrap().to_owned();
    let (status, pending) = setup.redeem("key-a", &signature_id);
    assert_eq!((status, pending["status"]["code"].as_str()), (202, Some("PENDING")), "{pending}");
    assert_eq!(setup.redeem("key-b", &signature_id).0, 404, "another eService cannot see it");

    let device = setup.serve(&phone, 1, false).join().unwrap();
    oracle::assert_ok(&device, "esign-device serve");
    let shown = text(&device.stdout);
    assert!(shown.contains("Lease agreement 4B") && shown.contains(": signed"), "{shown}");

    let (status, response) = setup.redeem_when_done("key-a", &signature_id);
    assert_eq!(status, 200, "{response}");
    govstack.assert_answer("/{version}/sign/response/{signatureId}", "get", "200", &response, &["signature"]);
    assert_eq!((response["nonce"].as_str(), response["state"].as_str()), (Some("n-0001"), Some("s-0001")));
    let subject = setup.judge("api", &response, &phone);
    assert!(subject.contains("CN=Jane Doe"), "{subject}");
    assert_eq!(setup.redeem("key-a", &signature_id).0, 404, "redeemed once only");

    // The user can refuse on the device: the request ends, and the eService hears why.
    let (_, queued) = setup.sign_by_pseudonym("key-a", &jwt);
    let refused = queued["signatureId"].as_str().unwrap().to_owned();
    oracle::assert_ok(&setup.serve(&phone, 1, true).join().unwrap(), "esign-device serve --refuse");
    let (status, answer) = setup.redeem_when_done("key-a", &refused);
    assert_eq!(status, 410, "{answer}");
    assert!(answer["status"]["message"].as_str().unwrap().contains("refused"), "{answer}");

    // The webhook says so, signed by the service key.
    let delivered = setup.webhooks.wait_for(1);
    let jwks = format!("http://{}/.well-known/jwks.json", setup.addr);
    let verified = setup.provider.verify_jose(&jwks, &delivered[0], None);
    assert_eq!(verified["payload"]["isSuccess"], true, "{verified}");
    assert_eq!(verified["payload"]["signatureId"], signature_id.as_str());

    // Without a pseudonym token: 302 to the GovStack pseudonym page of a session made for the
    // request, which opens with the pseudonym form first.
    let body = json!({
        "format": "CAdES", "hash": STANDARD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)), "hashType": "SHA2-256",
        "dataToBeDisplayed": "Lease agreement 4B (browser)", "nonce": "n-0002", "state": "s-0002",
    })
    .to_string();
    let (status, _, redirect) = common::http_full(
        setup.addr,
        "POST",
        "/v1/sign/pseudonym",
        &[("apikey", "key-a"), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    let redirect = redirect.expect("a Location");
    assert_eq!(status, 302);
    assert!(redirect.contains("/v1/sign/interactivePseudonym?") && redirect.contains("callbackUrl="), "{redirect}");
    let page_url = &redirect[redirect.find("/v1/").unwrap()..];
    let cookie = common::binding_cookie(setup.addr, page_url);
    let (status, page) = location(&setup, page_url, "GET", b"", &cookie);
    assert_eq!(status, 200);
    assert!(page.contains("Lease agreement 4B (browser)"), "the page shows the decoded text: {page}");
    assert!(page.contains("name=\"pseudonym\"") && page.contains("autofocus"), "{page}");
    let token = query_param(page_url, "token").unwrap();

    // (An unknown pseudonym, in each language: the in-process tier, tests/app_sessions.rs.)
    let choice = format!("token={token}&pseudonym=jane-phone");
    let (status, waiting_url) = location(&setup, "/sign/interactive/device", "POST", choice.as_bytes(), &cookie);
    assert_eq!(status, 303, "{waiting_url}");
    let (status, waiting) = location(&setup, &waiting_url, "GET", b"", &cookie);
    assert_eq!(status, 200);
    assert!(waiting.contains("http-equiv=\"refresh\""), "{waiting}");

    let device = setup.serve(&phone, 1, false).join().unwrap();
    oracle::assert_ok(&device, "esign-device serve");
    let (status, back) = location(&setup, &waiting_url, "GET", b"", &cookie);
    assert_eq!(status, 303);
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(query_param(&back, "nonce").as_deref(), Some("n-0002"));
    assert_eq!(query_param(&back, "state").as_deref(), Some("s-0002"));
    let (status, response) = setup.redeem("key-a", &query_param(&back, "signatureId").unwrap());
    assert_eq!(status, 200, "{response}");
    setup.judge("browser", &response, &phone);

    // The audit: the enrolment, then a device signature and a refusal, event by event.
    let db = setup.token.path("esignd.db");
    let trail = common::audit::types(&db, common::audit::AROUND);
    let mut expected = common::audit::sequence(
        &["device.certificate.created", "session.created", "device.request.queued"],
        &common::audit::DEVICE_SIGNED,
    );
    expected.extend(["session.created", "device.request.queued", "device.request.answered", "session.failed"]);
    assert_eq!(trail[5..5 + expected.len()], expected, "after the harness's provisioning: {trail:?}");
    common::audit::assert_no_personal_data(&db, &["Jane", "jane", &jwt]);
}

#[test]
fn a_citizen_signs_with_their_device_in_chromium() {
    let setup = setup();
    let phone = setup.device("phone");
    setup.enrol(&phone, "jane", "jane-phone");
    // The eService's signed GovStack pseudonym link (signed by the npm jose library).
    let parameters = json!({
        "format": "CAdES", "hash": URL_SAFE_NO_PAD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)),
        "hashType": "SHA2-256", "dataToBeDisplayed": URL_SAFE_NO_PAD.encode("Lease agreement 4B, signed in Chromium"),
        "nonce": "n-chromium", "state": "s-chromium", "callbackUrl": CALLBACK,
    });
    let claims = request_object::claims(&format!("http://{}", setup.addr), parameters).to_string();
    let request =
        common::node("tests/oidc", &["request-object.mjs", &request_object::private_jwk().to_string(), &claims]);
    // Chromium opens the link itself: GovStack answers it with the page (200), cookie and all.
    let page_url = format!("http://{}/v1/sign/interactivePseudonym?client_id=eservice-a&request={request}", setup.addr);

    // Chromium goes to the waiting page; only then does the device take the request.
    let mut chromium = std::process::Command::new("node")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser"))
        .args(["pseudonym.mjs", &page_url, "jane-phone", CALLBACK])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node is installed (tests/run.sh installs it)");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(chromium.stdout.take().unwrap()));
    let mut next =
        || -> Value { serde_json::from_str(&lines.next().expect("a line from pseudonym.mjs").unwrap()).unwrap() };
    let waiting = next();
    assert!(waiting["waitingPage"].as_str().unwrap().contains("Confirm on your device"), "{waiting}");
    let device = setup.serve(&phone, 1, false).join().unwrap();
    oracle::assert_ok(&device, "esign-device serve");
    assert!(text(&device.stdout).contains("signed in Chromium"), "{}", text(&device.stdout));
    let seen = next();
    assert!(chromium.wait().unwrap().success(), "pseudonym.mjs failed");

    let signing_page = seen["signingPage"].as_str().unwrap();
    assert!(signing_page.contains("Lease agreement 4B, signed in Chromium"), "{signing_page}");
    let fingerprint = hex::encode(HashAlgorithm::Sha256.digest(DOCUMENT));
    assert!(signing_page.contains(&fingerprint[..4]), "the page shows the digest: {signing_page}");
    assert_eq!(seen["consoleErrors"], json!([]), "{seen}");
    let back = seen["finalUrl"].as_str().unwrap();
    assert_eq!(query_param(back, "state").as_deref(), Some("s-chromium"), "{back}");
    let (status, response) = setup.redeem("key-a", &query_param(back, "signatureId").unwrap());
    assert_eq!(status, 200, "{response}");
    setup.judge("chromium", &response, &phone);
}

#[test]
fn a_device_whose_key_lives_on_a_softhsm_token_signs() {
    let setup = setup();
    let phone_token = TokenDir::new();
    let device = Device {
        name: "hsm-phone".into(),
        key: PathBuf::new(),
        state: setup.path("hsm-phone.json"),
        key_args: [
            "--pkcs11-module",
            common::module().to_str().unwrap(),
            "--token",
            "esignd",
            "--key-label",
            "citizen-signing-key",
            "--pin-file",
            phone_token.path("pin").to_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec(),
        softhsm_conf: Some(phone_token.path("softhsm2.conf")),
    };
    oracle::assert_ok(&setup.esign_device(&device, &["keygen", "--curve", "p384"]), "esign-device keygen (PKCS#11)");
    let listing = text(&phone_token.pkcs11_tool(&["--list-objects"]).stdout);
    assert!(listing.contains("citizen-signing-key"), "{listing}");
    setup.enrol(&device, "jane", "jane-hsm-phone");

    let jwt = setup.pseudonym_token("key-a", "jane-hsm-phone").1["jwt"].as_str().unwrap().to_owned();
    let (_, queued) = setup.sign_by_pseudonym("key-a", &jwt);
    let served = setup.serve(&device, 1, false).join().unwrap();
    oracle::assert_ok(&served, "esign-device serve (PKCS#11)");
    assert!(
        text(&served.stdout).contains("ecdsa-with-SHA256"),
        "P-384 key, SHA-256 document: {}",
        text(&served.stdout)
    );
    let (status, response) = setup.redeem_when_done("key-a", queued["signatureId"].as_str().unwrap());
    assert_eq!(status, 200, "{response}");
    setup.judge("hsm-device", &response, &device);

    // A wrong PIN does not open the token.
    std::fs::write(setup.path("wrong-pin"), "000000\n").unwrap();
    let mut wrong = device.clone();
    let position = wrong.key_args.iter().position(|a| a == "--pin-file").unwrap();
    wrong.key_args[position + 1] = setup.path("wrong-pin").to_str().unwrap().to_owned();
    let out = setup.esign_device(&wrong, &["serve", "--count", "1", "--wait", "0"]);
    assert!(!out.status.success() && text(&out.stderr).contains("PIN"), "{}", text(&out.stderr));
}

#[test]
fn an_unanswered_request_expires_and_the_eservice_is_told() {
    let setup = setup_with("\n[devices]\nrequest_timeout_secs = 5\n[store]\nsweep_interval_secs = 1\n", &[]);
    let watch = setup.device("watch");
    setup.enrol(&watch, "jane", "jane-watch");
    let jwt = setup.pseudonym_token("key-a", "jane-watch").1["jwt"].as_str().unwrap().to_owned();
    let (status, queued) = setup.sign_by_pseudonym("key-a", &jwt);
    assert_eq!(status, 200, "{queued}");
    let signature_id = queued["signatureId"].as_str().unwrap();
    assert_eq!(setup.redeem("key-a", signature_id).0, 202);

    // Nobody answers: the sweeper ends the request; the webhook and the redemption say so.
    let delivered = setup.webhooks.wait_for(1);
    let jwks = format!("http://{}/.well-known/jwks.json", setup.addr);
    let verified = setup.provider.verify_jose(&jwks, &delivered[0], None);
    assert_eq!(verified["payload"]["isSuccess"], false, "{verified}");
    assert_eq!(verified["payload"]["error"], "expired", "{verified}");
    assert_eq!(verified["payload"]["correlationId"], signature_id, "the eService knows the request by its signatureId");
    let (status, polled) =
        api(setup.addr, "GET", &format!("/v1/sessions/{signature_id}"), &[("apikey", "key-a")], None);
    assert_eq!((status, polled["status"].as_str()), (200, Some("failed")), "{polled}");
    let (status, answer) = setup.redeem("key-a", signature_id);
    assert_eq!(status, 410, "{answer}");
    assert!(answer["status"]["message"].as_str().unwrap().contains("expired"), "{answer}");

    // A device that comes late finds nothing to sign.
    let key = unlock(&watch.key);
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&watch.state).unwrap()).unwrap();
    let pem = state["certificate"].as_str().unwrap();
    let der = der::Encode::to_der(&<x509_cert::Certificate as der::DecodePem>::from_pem(pem).unwrap()).unwrap();
    let jwt = esignd::device_client::jwt::make(&key, &der, "jane-watch", &format!("http://{}", setup.addr)).unwrap();
    let auth = format!("Bearer {jwt}");
    let (status, listed) = api(setup.addr, "GET", "/v1/device/requests?wait=0", &[("Authorization", &auth)], None);
    assert_eq!((status, &listed["requests"]), (200, &json!([])), "{listed}");
    // (No eService floods a device: the in-process tier, tests/app_devices.rs.)
}

#[test]
fn a_stopping_daemon_answers_the_devices_waiting_for_requests() {
    let mut setup = setup_with("", &[("ESIGND__SERVER__DRAIN_SECS", "60")]);
    let watch = setup.device("watch");
    setup.enrol(&watch, "jane", "jane-watch");
    let key = unlock(&watch.key);
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&watch.state).unwrap()).unwrap();
    let pem = state["certificate"].as_str().unwrap();
    let der = der::Encode::to_der(&<x509_cert::Certificate as der::DecodePem>::from_pem(pem).unwrap()).unwrap();
    let jwt = esignd::device_client::jwt::make(&key, &der, "jane-watch", &format!("http://{}", setup.addr)).unwrap();
    let addr = setup.addr;
    let poll = std::thread::spawn(move || {
        let auth = format!("Bearer {jwt}");
        api(addr, "GET", "/v1/device/requests?wait=30", &[("Authorization", &auth)], None)
    });
    // Let the poll reach the daemon and wait there, then stop the daemon.
    std::thread::sleep(Duration::from_secs(1));
    setup.daemon.signal("TERM");
    let (status, listed) = poll.join().unwrap();
    assert_eq!((status, &listed["requests"]), (200, &json!([])), "{listed}");
    assert_eq!(setup.daemon.wait_exit(), Some(0));
    let log = setup.daemon.log();
    assert!(log.contains("\"drained\"") && !log.contains("drain deadline reached"), "{log}");
}

fn unlock(path: &Path) -> UnlockedKey {
    KeySource::File(path.to_owned()).unlock(&SecretString::from(PIN.to_owned())).unwrap()
}

/// POST a wallet binding; the answer must be HTTP 200 and fit e-Signet's schema.
fn wallet_binding(setup: &Setup, partner: &str, body: &Value) -> Value {
    let headers = [("partner-id", partner), ("partner-api-key", "partner-key")];
    let (status, answer) = api(setup.addr, "POST", "/binding/wallet-binding", &headers, Some(body));
    assert_eq!(status, 200, "e-Signet answers business errors with 200: {answer}");
    Spec::esignet().assert_answer("/binding/wallet-binding", "post", "200", &answer, &["responseTime", "errors"]);
    answer
}

#[test]
fn wallets_bind_rebind_and_sign_through_the_device_api() {
    let partners = format!(
        "\n[[devices.binding_partners]]\nid = \"mimoto\"\napi_key_sha256 = \"{key}\"\n\
         \n[[devices.binding_partners]]\nid = \"other-partner\"\napi_key_sha256 = \"{key}\"\n",
        key = sha256_hex("partner-key")
    );
    let setup = setup_with(&partners, &[]);
    std::fs::write(setup.path("partner-key"), "partner-key\n").unwrap();
    let partner_key = setup.path("partner-key");
    let token_file = setup.path("jane.token");
    let jane = setup.provider.access_token("wallet-app", "jane");
    std::fs::write(&token_file, &jane).unwrap();
    let bind = |device: &Device, individual: &str, partner: &str| {
        setup.esign_device(
            device,
            &[
                "bind",
                "--id-token-file",
                token_file.to_str().unwrap(),
                "--individual-id",
                individual,
                "--partner-id",
                partner,
                "--partner-api-key-file",
                partner_key.to_str().unwrap(),
            ],
        )
    };
    let wallet_user_id = |out: &Output| {
        oracle::assert_ok(out, "esign-device bind");
        text(&out.stdout).trim().strip_prefix("bound: walletUserId=").unwrap().to_owned()
    };

    let first = setup.device("wallet-1");
    let id = wallet_user_id(&bind(&first, "jane", "mimoto"));
    assert_eq!(id.len(), 43, "{id}");
    let first_serial = {
        let state: Value = serde_json::from_str(&std::fs::read_to_string(&first.state).unwrap()).unwrap();
        std::fs::write(setup.path("wallet-1.pem"), state["certificate"].as_str().unwrap()).unwrap();
        let out = openssl(["x509", "-noout", "-serial", "-in", setup.path("wallet-1.pem").to_str().unwrap()]);
        text(&out.stdout).trim().trim_start_matches("serial=").to_owned()
    };

    // Binding again (a new phone, a new key): the same walletUserId, the old certificate revoked.
    let second = setup.device("wallet-2");
    assert_eq!(wallet_user_id(&bind(&second, "jane", "mimoto")), id);
    let (_, list) = api(setup.addr, "GET", "/v1/cert/list", &[("X-GovStack-AuthenticationToken", &jane)], None);
    let states: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["status"]["code"].as_str().unwrap()).collect();
    assert_eq!(states, ["REVOKED", "ACTIVE"], "{list}");
    let (_, der) = common::http(setup.addr, "GET", "/v1/crl", None, &[]);
    std::fs::write(setup.path("crl.der"), der).unwrap();
    let crl = text(
        &openssl(["crl", "-inform", "DER", "-noout", "-text", "-in", setup.path("crl.der").to_str().unwrap()]).stdout,
    );
    assert!(crl.contains(&format!("Serial Number: {first_serial}")), "{crl}");
    // Another partner gets another walletUserId for the same person.
    let third = setup.device("wallet-3");
    assert_ne!(wallet_user_id(&bind(&third, "jane", "other-partner")), id);

    // The bound wallet signs like any device; the replaced one is turned away.
    let jwt = setup.pseudonym_token("key-a", &id).1["jwt"].as_str().unwrap().to_owned();
    let (status, queued) = setup.sign_by_pseudonym("key-a", &jwt);
    assert_eq!(status, 200, "{queued}");
    let old = setup.serve(&first, 1, false).join().unwrap();
    assert!(!old.status.success() && text(&old.stderr).contains("REVOKED"), "{}", text(&old.stderr));
    oracle::assert_ok(&setup.serve(&second, 1, false).join().unwrap(), "esign-device serve (bound wallet)");
    let (status, response) = setup.redeem_when_done("key-a", queued["signatureId"].as_str().unwrap());
    assert_eq!(status, 200, "{response}");
    assert!(setup.judge("wallet", &response, &second).contains("CN=Jane Doe"));
    // The audit: three bindings (the second replacing the first), then the wallet's signature.
    let db = setup.token.path("esignd.db");
    let trail = common::audit::types(&db, common::audit::AROUND);
    let expected = common::audit::sequence(
        &["wallet.bound", "wallet.bound", "wallet.bound", "session.created", "device.request.queued"],
        &common::audit::DEVICE_SIGNED,
    );
    assert_eq!(trail[5..], expected, "after the harness's provisioning: {trail:?}");
    let replaced =
        common::audit::sqlite(&db, "SELECT json_extract(fields, '$.replaces') FROM audit WHERE type = 'wallet.bound'");
    let replaced = text(&replaced.stdout);
    assert_eq!(replaced.lines().filter(|l| *l != "[]").count(), 1, "the rebinding names what it replaced: {replaced}");
    common::audit::assert_no_personal_data(&db, &["Jane", "jane"]);

    // Someone else binding jane's key: duplicate_public_key, and nothing issued.
    std::fs::write(&token_file, setup.provider.access_token("wallet-app", "bob")).unwrap();
    let out = bind(&second, "bob", "mimoto");
    assert!(!out.status.success() && text(&out.stderr).contains("duplicate_public_key"), "{}", text(&out.stderr));

    // Only registered partners bind, with their key.
    let body = json!({ "requestTime": "x", "request": {} });
    for headers in [vec![("partner-id", "mimoto"), ("partner-api-key", "wrong")], vec![("partner-id", "stranger")]] {
        let (status, answer) = api(setup.addr, "POST", "/binding/wallet-binding", &headers, Some(&body));
        assert_eq!(status, 401, "{answer}");
    }

    // The envelope: e-Signet's codes, HTTP 200.
    let wallet = unlock(&setup.device("wallet-4").key);
    let stranger = unlock(&setup.device("wallet-5").key);
    let key = serde_json::to_value(esignd::jose::jwk::Jwk::from_spki(&wallet.public_key().unwrap(), "ES256").unwrap())
        .unwrap();
    let signed_by = |signer: &UnlockedKey, time: &str, individual: &str, token: &str| {
        let nonce = esignd::service::devices::binding::nonce(token);
        let said = Possession { individual_id: individual, partner_id: "mimoto", request_time: time, nonce: &nonce };
        esignd::device_client::jwt::key_proof(signer, &said).unwrap()
    };
    let envelope_with = |time: String, individual: &str, token: &str, proof: Option<String>| {
        json!({
            "requestTime": time,
            "request": {
                "individualId": individual, "authFactorType": "WLA", "format": "jwt",
                "challengeList": [{ "authFactorType": "IDT", "challenge": token, "format": "jwt" }],
                "publicKey": key, "keyProof": proof,
            }
        })
    };
    let envelope = |time: String, individual: &str, token: &str| {
        let proof = signed_by(&wallet, &time, individual, token);
        envelope_with(time, individual, token, Some(proof))
    };
    let now = std::time::SystemTime::now();
    let time = |at: std::time::SystemTime| esignd::vocabulary::rfc3339(at);
    let code = |answer: &Value| answer["errors"][0]["errorCode"].as_str().unwrap_or("none").to_owned();
    let late = wallet_binding(&setup, "mimoto", &envelope(time(now - Duration::from_secs(300)), "jane", &jane));
    assert_eq!(code(&late), "key_binding_failed", "{late}");
    // A partner cannot have a key it does not hold certified in jane's name: no proof, or one by
    // another key, is refused.
    for proof in [None, Some(signed_by(&stranger, &time(now), "jane", &jane))] {
        let refused = wallet_binding(&setup, "mimoto", &envelope_with(time(now), "jane", &jane, proof));
        assert_eq!(code(&refused), "key_binding_failed", "{refused}");
    }
    assert_eq!(code(&wallet_binding(&setup, "mimoto", &envelope(time(now), "john", &jane))), "invalid_auth_challenge");
    assert_eq!(
        code(&wallet_binding(&setup, "mimoto", &envelope(time(now), "jane", "not.a.token"))),
        "invalid_challenge"
    );
    // Every code esignd can give is one of e-Signet's, and the check would notice one that is not.
    let esignet = Spec::esignet();
    let schema = esignet.response_schema("/binding/wallet-binding", "post", "200");
    let with_code = |code: &str| json!({ "responseTime": "t", "errors": [{ "errorCode": code, "errorMessage": "m" }] });
    for code in esignd::service::devices::binding::BindingCode::ALL {
        assert_eq!(esignet.mismatch(&with_code(code.as_str()), &schema, "answer"), None);
    }
    assert!(esignet.mismatch(&with_code("invalid_request"), &schema, "answer").is_some());
    let bound = wallet_binding(&setup, "mimoto", &envelope(time(now), "jane", &jane));
    assert_eq!(bound["errors"], json!([]), "{bound}");
    assert_eq!(bound["response"]["walletUserId"], id.as_str());
    assert!(bound["response"]["expireDateTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{bound}");

    // e-Signet's own partner authentication: a bearer token the ID provider issued to the partner
    // with the wallet_binding scope. Another partner's token, one without the scope, and the
    // citizen's own token are refused.
    let by_bearer = |partner: &str, token: &str| {
        let bearer = format!("Bearer {token}");
        let headers = [("partner-id", partner), ("Authorization", bearer.as_str())];
        api(setup.addr, "POST", "/binding/wallet-binding", &headers, Some(&envelope(time(now), "jane", &jane)))
    };
    let mimoto = setup.provider.partner_token("mimoto", "wallet_binding");
    let (status, bound) = by_bearer("mimoto", &mimoto);
    assert_eq!((status, &bound["errors"]), (200, &json!([])), "{bound}");
    assert_eq!(bound["response"]["walletUserId"], id.as_str());
    let cases = [
        ("another partner's token", setup.provider.partner_token("other-partner", "wallet_binding"), "partner-id"),
        ("no wallet_binding scope", setup.provider.partner_token("mimoto", ""), "wallet_binding scope"),
        ("the citizen's token", jane.clone(), "wallet_binding scope"),
    ];
    for (attack, token, says) in cases {
        let (status, answer) = by_bearer("mimoto", &token);
        assert_eq!(status, 401, "{attack}: {answer}");
        assert!(answer.to_string().contains(says), "{attack}: {answer}");
    }
}
