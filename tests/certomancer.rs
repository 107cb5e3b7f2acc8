//! The TSA client against a third-party TSA: certomancer's Animator (PyPI `certomancer`,
//! installed by tests/run.sh into target/certomancer-venv) on loopback. A one-time signature
//! stamped by it must carry a token that `openssl ts -verify` accepts with certomancer's root.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TokenDir, openssl, oracle, text};

/// The certomancer executable: $ESIGND_TEST_CERTOMANCER, or the venv tests/run.sh makes.
fn certomancer() -> PathBuf {
    let path = std::env::var_os("ESIGND_TEST_CERTOMANCER")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/certomancer-venv/bin/certomancer"));
    assert!(path.is_file(), "{path:?} is missing: run tests/run.sh, which installs certomancer[web-api] into a venv");
    path
}

/// A certomancer PKI with a root and a TSA whose EKU is timeStamping only, keys made by openssl.
fn write_pki(dir: &Path, port: u16) {
    for key in ["root", "tsa"] {
        let out = openssl([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            dir.join(format!("{key}.key.pem")).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let config = format!(
        r#"external-url-prefix: "http://127.0.0.1:{port}"
keysets:
  thirdparty-keys:
    keys:
      root: {{path: root.key.pem}}
      tsa: {{path: tsa.key.pem}}
pki-architectures:
  thirdparty:
    keyset: thirdparty-keys
    entity-defaults: {{country-name: BE, organization-name: Third Party Time}}
    entities:
      root: {{common-name: Third Party Root}}
      tsa: {{common-name: Third Party TSA}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2090-01-01T00:00:00+0000"}}
        extensions:
          - {{id: basic_constraints, critical: true, value: {{ca: true}}}}
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}}
      tsa:
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2080-01-01T00:00:00+0000"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature]}}
          - {{id: extended_key_usage, critical: true, value: [time_stamping]}}
    services:
      time-stamping:
        tsa: {{signing-key: tsa, signing-cert: tsa}}
"#
    );
    std::fs::write(dir.join("certomancer.yml"), config).unwrap();
}

struct Animator(Child);

impl Drop for Animator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn animate(dir: &Path, port: u16) -> Animator {
    let child = Command::new(certomancer())
        .current_dir(dir)
        .args(["--config", "certomancer.yml", "animate", "--no-web-ui", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let animator = Animator(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "certomancer did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    animator
}

#[test]
fn a_third_party_tsa_stamps_signatures_that_openssl_accepts() {
    let token = TokenDir::new();
    let pki = token.path("certomancer");
    std::fs::create_dir_all(&pki).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    write_pki(&pki, port);
    let summoned = Command::new(certomancer())
        .current_dir(&pki)
        .args(["--config", "certomancer.yml", "mass-summon", "--flat", "--no-pfx", "thirdparty", "out"])
        .output()
        .unwrap();
    assert!(summoned.status.success(), "{}", text(&summoned.stderr));
    let root = pki.join("out/root.cert.pem");
    let _animator = animate(&pki, port);

    let out = token.path("selftest");
    let url = format!("http://127.0.0.1:{port}/thirdparty/tsa/tsa");
    let output = token
        .command(env!("CARGO_BIN_EXE_esignctl"))
        .arg("--config")
        .arg(token.config())
        .args(["selftest", "--out", out.to_str().unwrap()])
        .envs([
            ("ESIGND__TSA__MODE", "external"),
            ("ESIGND__TSA__URLS", url.as_str()),
            ("ESIGND__TSA__TRUST", root.to_str().unwrap()),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "selftest with certomancer failed:\n{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("Third Party TSA"), "{}", text(&output.stdout));

    let p7s = std::fs::read(out.join("signature.p7s")).unwrap();
    std::fs::write(out.join("signature-value.bin"), oracle::signature_value(&p7s)).unwrap();
    oracle::assert_ok(
        &oracle::ts_verify(&out.join("timestamp.tst"), &out.join("signature-value.bin"), &root),
        "openssl ts -verify against certomancer's root",
    );
    let at = oracle::gen_time(&std::fs::read(out.join("timestamp.tst")).unwrap());
    oracle::assert_ok(
        &oracle::cms_verify(&out, &out.join("signature.p7s"), &out.join("document.bin"), &out.join("chain.pem"), at),
        "openssl cms -verify",
    );
}
