//! Outbound HTTPS trusts whom the operator said, judged against `openssl s_server` on loopback
//! with a certificate from a private CA: trusted through `[outbound] ca_file`, refused with the
//! system roots alone and with another CA; a configuration whose CA file is not PEM, or that
//! trusts nobody, is refused at start.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{openssl, openssl_root, text};
use esignd::outbound::HttpClient;
use hyper::Method;

/// `openssl s_server -WWW` serving `dir` on 127.0.0.1 with `{name}.pem`/`{name}.key`; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path, name: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept", &format!("127.0.0.1:{port}")])
            .args(["-cert", &format!("{name}.pem"), "-key", &format!("{name}.key")])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server certificate for 127.0.0.1 signed by the CA `ca` in `dir`.
fn server_certificate(dir: &Path, ca: &str, name: &str) {
    let p = |file: &str| dir.join(file).to_str().unwrap().to_owned();
    std::fs::write(dir.join("server.cnf"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
    for args in [
        vec!["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            .into_iter()
            .chain(["-subj", "/CN=idp.test", "-keyout"])
            .map(str::to_owned)
            .chain([p(&format!("{name}.key")), "-out".into(), p(&format!("{name}.csr"))])
            .collect::<Vec<_>>(),
        ["x509", "-req", "-days", "2", "-in"]
            .into_iter()
            .map(str::to_owned)
            .chain([p(&format!("{name}.csr")), "-CA".into(), p(&format!("{ca}.pem")), "-CAkey".into()])
            .chain([p(&format!("{ca}.key")), "-CAcreateserial".into(), "-extfile".into(), p("server.cnf")])
            .chain(["-out".into(), p(&format!("{name}.pem"))])
            .collect(),
    ] {
        let out = openssl(&args);
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    }
}

fn der_of(pem: &Path) -> Vec<u8> {
    let pem = std::fs::read_to_string(pem).unwrap();
    der::Encode::to_der(&<x509_cert::Certificate as der::DecodePem>::from_pem(&pem).unwrap()).unwrap()
}

#[tokio::test]
async fn https_calls_trust_the_configured_ca_and_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let private_ca = openssl_root(dir.path(), "private-ca", "/CN=Agency Private CA", 2);
    let other_ca = openssl_root(dir.path(), "other-ca", "/CN=Someone Else's CA", 2);
    server_certificate(dir.path(), "private-ca", "idp");
    std::fs::write(dir.path().join("jwks.json"), r#"{"keys":[]}"#).unwrap();
    let server = Server::start(dir.path(), "idp");
    let url = format!("https://127.0.0.1:{}/jwks.json", server.port);
    let get = |client: HttpClient| {
        let url = url.clone();
        async move { client.send(Method::GET, &url, &[], Vec::new(), Duration::from_secs(10)).await }
    };

    let trusted = get(HttpClient::trusting(false, &[der_of(&private_ca)])).await.expect("the configured CA is trusted");
    assert_eq!(trusted.status, 200);
    assert_eq!(&trusted.body[..], br#"{"keys":[]}"#);
    let with_system = get(HttpClient::trusting(true, &[der_of(&private_ca)])).await;
    assert_eq!(with_system.expect("system roots and the CA file together").status, 200);

    for (what, client) in [
        ("the system roots alone", HttpClient::trusting(true, &[])),
        ("another CA", HttpClient::trusting(false, &[der_of(&other_ca)])),
    ] {
        let refused = get(client).await;
        let error = refused.err().unwrap_or_else(|| panic!("{what} trusted a private CA's server"));
        assert!(error.to_string().contains("127.0.0.1"), "{what}: {error}");
    }
}

#[test]
fn a_ca_file_that_is_not_pem_or_a_trust_of_nobody_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pin"), "0000\n").unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
    for (outbound, key) in [
        ("ca_file = \"ca.pem\"", "outbound.ca_file"),
        ("system_roots = false", "outbound.system_roots"),
        ("ca_file = \"missing.pem\"", "outbound.ca_file"),
    ] {
        let config = dir.path().join("esignd.toml");
        std::fs::write(&config, format!("[hsm]\npin_file = \"pin\"\n[outbound]\n{outbound}\n")).unwrap();
        let error = esignd::config::Config::load(Some(&config)).unwrap_err().to_string();
        assert!(error.contains(key), "{outbound}: {error}");
    }
}
