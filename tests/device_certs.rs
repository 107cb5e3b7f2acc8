//! GovStack `/v1/cert/*` end to end: users of a real OpenID provider enrol their devices' keys
//! by CSRs made with openssl, see only their own certificates, suspend, reactivate and revoke
//! them through exactly the spec's transitions; the CRL that follows each change is judged by
//! `openssl crl` and `openssl verify -crl_check`. Bad CSRs and requests leave nothing behind.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::daemon::Daemon;
use common::eservices::enrolment;
use common::oidc::Provider;
use common::{TokenDir, http_get, http_with, openssl, text};
use serde_json::{Value, json};

struct Setup {
    token: TokenDir,
    provider: Provider,
    _daemon: Daemon,
    addr: SocketAddr,
}

fn setup() -> Setup {
    let provider = Provider::start(&[]);
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap()
        + &format!("\n[identity]\nissuer = \"{}\"\naudience = \"esignd\"\n", provider.issuer);
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    Setup { token, provider, _daemon: daemon, addr }
}

impl Setup {
    fn call(&self, method: &str, path: &str, user_token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(token) = user_token {
            headers.push(("X-GovStack-AuthenticationToken", token));
        }
        let (status, answer) = http_with(self.addr, method, path, &headers, body.as_bytes());
        (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.token.path(name)
    }

    /// Fetch the CRL, check its signature against the CA with openssl, and return its text.
    fn crl_text(&self) -> String {
        let (status, der) = common::http(self.addr, "GET", "/v1/crl", None, &[]);
        assert_eq!(status, 200);
        std::fs::write(self.path("crl.der"), der).unwrap();
        std::fs::write(self.path("chain.pem"), http_get(self.addr, "/v1/ca").1).unwrap();
        let out = openssl([
            "crl",
            "-inform",
            "DER",
            "-in",
            p(&self.path("crl.der")),
            "-CAfile",
            p(&self.path("chain.pem")),
            "-verify",
            "-noout",
            "-text",
        ]);
        assert!(out.status.success(), "openssl crl: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("verify OK"), "the CRL's signature: {}", text(&out.stderr));
        let pem = openssl(["crl", "-inform", "DER", "-in", p(&self.path("crl.der")), "-out", p(&self.path("crl.pem"))]);
        assert!(pem.status.success());
        text(&out.stdout)
    }

    /// `openssl verify` of the certificate in `cert.pem`, with the CRL when `crl_check`.
    fn verify(&self, crl_check: bool) -> (bool, String) {
        let (chain, crl, cert) = (self.path("chain.pem"), self.path("crl.pem"), self.path("cert.pem"));
        let mut args = vec!["verify", "-CAfile", p(&chain)];
        if crl_check {
            args.extend(["-crl_check", "-CRLfile", p(&crl)]);
        }
        args.push(p(&cert));
        let out = openssl(&args);
        (out.status.success(), text(&out.stdout) + &text(&out.stderr))
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A CSR from openssl with a fresh key: `newkey` as openssl's `-newkey`, plus `-pkeyopt`s.
fn csr(dir: &Path, name: &str, newkey: &str, options: &[&str]) -> String {
    common::openssl_csr(dir, name, "/CN=Whatever the device says", newkey, options)
}

fn change(code: &str) -> Value {
    json!({ "requestTimestamp": "2026-11-23T09:12:28Z", "status": { "code": code, "message": "user action" } })
}

#[test]
fn a_user_enrols_a_device_and_walks_its_certificate_through_the_lifecycle() {
    let setup = setup();
    let jane = setup.provider.access_token("wallet-app", "jane");
    let bob = setup.provider.access_token("wallet-app", "bob");
    let dir = setup.token.dir.path();

    let (status, created) = setup.call(
        "POST",
        "/v1/cert/create",
        Some(&jane),
        Some(&enrolment(&csr(dir, "phone", "ec", &["ec_paramgen_curve:P-256"]), Some("jane-phone"))),
    );
    assert_eq!(status, 200, "{created}");
    common::spec::Spec::govstack().assert_answer(
        "/{version}/cert/create",
        "post",
        "200",
        &created,
        &["certificateId", "pseudonym", "certificate", "status"],
    );
    assert_eq!(created["pseudonym"], "jane-phone");
    assert_eq!(created["status"]["code"], "OK");
    let id = created["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 64);
    std::fs::write(setup.path("cert.pem"), created["certificate"].as_str().unwrap()).unwrap();

    // openssl: chains to the CA, names the user (not what the CSR said), names the CRL.
    let crl = setup.crl_text();
    let (ok, said) = setup.verify(false);
    assert!(ok, "{said}");
    let shown =
        text(&openssl(["x509", "-noout", "-text", "-nameopt", "RFC2253", "-in", p(&setup.path("cert.pem"))]).stdout);
    assert!(shown.contains("CN=Jane Doe") && !shown.contains("Whatever the device says"), "{shown}");
    assert!(shown.contains("Non Repudiation"), "{shown}");
    assert!(shown.contains(&format!("URI:http://{}/v1/crl", setup.addr)), "{shown}");
    assert!(crl.contains("No Revoked Certificates"), "{crl}");
    let (ok, said) = setup.verify(true);
    assert!(ok, "{said}");

    // The pseudonym is unique; a generated one is given when none is asked for.
    let again = enrolment(&csr(dir, "tablet", "ec", &["ec_paramgen_curve:P-384"]), Some("jane-phone"));
    assert_eq!(setup.call("POST", "/v1/cert/create", Some(&bob), Some(&again)).0, 409);
    let (status, bobs) =
        setup.call("POST", "/v1/cert/create", Some(&bob), Some(&enrolment(&csr(dir, "bob", "rsa:2048", &[]), None)));
    assert_eq!(status, 200, "{bobs}");
    assert_eq!(bobs["pseudonym"].as_str().unwrap().len(), 16);

    // Everyone sees their own certificates only, and cannot touch another's.
    let (status, list) = setup.call("GET", "/v1/cert/list", Some(&jane), None);
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        (list[0]["certificateId"].as_str(), list[0]["status"]["code"].as_str()),
        (Some(id.as_str()), Some("ACTIVE"))
    );
    let (_, list) = setup.call("GET", "/v1/cert/list?filter=ALL", Some(&bob), None);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_ne!(list[0]["certificateId"], id.as_str());
    let path = format!("/v1/cert/{id}");
    assert_eq!(setup.call("PATCH", &path, Some(&bob), Some(&change("REVOKE"))).0, 404);

    // Suspended: on the CRL as certificateHold; openssl refuses the certificate.
    let (status, answer) = setup.call("PATCH", &path, Some(&jane), Some(&change("SUSPEND")));
    assert_eq!((status, answer["status"]["code"].as_str()), (200, Some("SUSPENDED")), "{answer}");
    let crl = setup.crl_text();
    let serial = text(&openssl(["x509", "-noout", "-serial", "-in", p(&setup.path("cert.pem"))]).stdout);
    let serial = serial.trim().trim_start_matches("serial=").to_owned();
    assert!(crl.contains(&serial) && crl.contains("Certificate Hold"), "{serial} not held in\n{crl}");
    let (ok, said) = setup.verify(true);
    assert!(!ok && said.contains("revoked"), "{said}");
    let (_, held) = setup.call("GET", "/v1/cert/list?filter=SUSPENDED", Some(&jane), None);
    assert_eq!(held.as_array().unwrap().len(), 1);

    // An eService holding jane's signing token cannot touch her devices; a token of hers from an
    // old login may suspend (safety first) but not bring the lost phone back.
    let signing = setup.provider.access_token("eservice-jwt", "jane");
    for (method, route, body) in
        [("PATCH", path.as_str(), Some(change("ACTIVATE"))), ("GET", "/v1/cert/list?filter=ALL", None)]
    {
        let (status, answer) = setup.call(method, route, Some(&signing), body.as_ref());
        assert_eq!(status, 401, "{method} {route}: {answer}");
        assert!(answer["status"]["message"].as_str().unwrap().contains("another audience"), "{answer}");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let stale = setup.provider.mint(&json!({
        "sub": "jane", "name": "Jane Doe", "aud": "esignd-devices", "exp": now + 300, "auth_time": now - 3600,
    }));
    let (status, answer) = setup.call("PATCH", &path, Some(&stale), Some(&change("ACTIVATE")));
    assert_eq!(status, 401, "{answer}");
    assert!(answer["status"]["message"].as_str().unwrap().contains("fresh login"), "{answer}");
    let (_, held) = setup.call("GET", "/v1/cert/list?filter=SUSPENDED", Some(&stale), None);
    assert_eq!(held.as_array().unwrap().len(), 1, "still suspended");

    // Reactivated with a fresh login: off the CRL again.
    let (status, answer) = setup.call("PATCH", &path, Some(&jane), Some(&change("ACTIVATE")));
    assert_eq!((status, answer["status"]["code"].as_str()), (200, Some("ACTIVATED")), "{answer}");
    assert!(!setup.crl_text().contains(&serial));
    assert!(setup.verify(true).0);

    // Revoked for good: listed without a hold; nothing brings it back.
    let (status, _) = setup.call("PATCH", &path, Some(&jane), Some(&change("REVOKE")));
    assert_eq!(status, 200);
    let crl = setup.crl_text();
    assert!(crl.contains(&serial) && !crl.contains("Certificate Hold"), "{crl}");
    assert!(!setup.verify(true).0);
    for code in ["ACTIVATE", "SUSPEND", "REVOKE"] {
        let (status, answer) = setup.call("PATCH", &path, Some(&jane), Some(&change(code)));
        assert_eq!(status, 422, "{code}: {answer}");
    }
    let (_, revoked) = setup.call("GET", "/v1/cert/list?filter=REVOKED", Some(&jane), None);
    assert_eq!(revoked[0]["status"]["code"], "REVOKED", "state unchanged by refused transitions");
    let (_, active) = setup.call("GET", "/v1/cert/list?filter=ACTIVATED", Some(&jane), None);
    assert_eq!(active, json!([]));
    assert_eq!(setup.call("GET", "/v1/cert/list?filter=SOMETIMES", Some(&jane), None).0, 400);
    assert_eq!(setup.call("PATCH", &path, Some(&jane), Some(&change("DELETE"))).0, 422);
}
