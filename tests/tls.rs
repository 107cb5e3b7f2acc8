//! HTTPS on the public listener (`[server.tls]`), judged by curl and `openssl s_client`: the
//! certificate is served with HTTP/1.1; plain HTTP to the TLS port gets no answer; after new
//! files and SIGHUP new connections see the new certificate while a connection opened before
//! goes on answering (Python's ssl module keeps one alive across the reload); a broken file on
//! SIGHUP keeps the certificate in use.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::daemon::Daemon;
use common::{TokenDir, openssl, text};

/// A self-signed certificate for 127.0.0.1 with common name `name`, into `cert` and `key`.
fn certificate(dir: &Path, name: &str) {
    let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    let out = openssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name}"),
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Install certificate `name` as the daemon's files.
fn install(dir: &Path, name: &str) {
    std::fs::copy(dir.join(format!("{name}.pem")), dir.join("tls.pem")).unwrap();
    std::fs::copy(dir.join(format!("{name}.key")), dir.join("tls.key")).unwrap();
}

/// The subject `openssl s_client` sees at `addr`.
fn presented(addr: SocketAddr) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-servername", "127.0.0.1", "-brief"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = text(&out.stdout) + &text(&out.stderr);
    said.lines().find(|l| l.starts_with("Peer certificate:")).unwrap_or_else(|| panic!("{said}")).to_owned()
}

fn curl(addr: SocketAddr, ca: &Path) -> (bool, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--cacert"])
        .arg(ca)
        .arg(format!("https://{addr}/healthz"))
        .output()
        .unwrap();
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

/// Python: one TLS connection, a request, then (after the caller's signal on stdin) a second
/// request on the same connection. Prints both status lines.
const KEEP_ALIVE: &str = r#"
import socket, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[2])
host, port = sys.argv[1].rsplit(":", 1)
stream = context.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
def ask():
    stream.sendall(b"GET /healthz HTTP/1.1\r\nHost: esignd\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += stream.recv(1)
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    body = b""
    while len(body) < length:
        body += stream.recv(length - len(body))
    print(head.split(b"\r\n")[0].decode(), flush=True)
ask()
sys.stdin.readline()
ask()
"#;

#[test]
fn https_is_served_and_a_sighup_swaps_the_certificate_without_dropping_connections() {
    let token = TokenDir::new();
    let dir = token.path("");
    certificate(&dir, "first");
    certificate(&dir, "second");
    install(&dir, "first");
    let config =
        std::fs::read_to_string(token.config()).unwrap() + "\n[server.tls]\ncert = \"tls.pem\"\nkey = \"tls.key\"\n";
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();

    let (ok, said) = curl(addr, &dir.join("first.pem"));
    assert!(ok && said.contains("\"ok\""), "{said}");
    assert!(presented(addr).contains("CN=first") || presented(addr).contains("CN = first"), "{}", presented(addr));
    // Plain HTTP to the TLS port: no HTTP answer.
    let plain = std::panic::catch_unwind(|| common::http_get(addr, "/healthz"));
    assert!(plain.is_err(), "plain HTTP was answered on the TLS port");

    // A connection opened before the reload...
    let mut held = Command::new("python3")
        .args(["-c", KEEP_ALIVE, &addr.to_string(), dir.join("first.pem").to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    let mut stdout = std::io::BufReader::new(held.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut first_line).unwrap();
    assert_eq!(first_line.trim(), "HTTP/1.1 200 OK");

    install(&dir, "second");
    daemon.signal("HUP");
    daemon.wait_for("TLS certificate reloaded");
    // ...new connections see the new certificate...
    assert!(presented(addr).contains("second"), "{}", presented(addr));
    let (ok, said) = curl(addr, &dir.join("second.pem"));
    assert!(ok, "{said}");
    let (ok, _) = curl(addr, &dir.join("first.pem"));
    assert!(!ok, "the old certificate is no longer presented");
    // ...and the held one still answers.
    std::io::Write::write_all(held.stdin.as_mut().unwrap(), b"go\n").unwrap();
    let mut second_line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut second_line).unwrap();
    assert_eq!(second_line.trim(), "HTTP/1.1 200 OK", "the connection opened before the reload was kept");
    assert!(held.wait().unwrap().success());

    // A broken key on SIGHUP: refused, the certificate in use stays.
    std::fs::write(dir.join("tls.key"), "not a key\n").unwrap();
    daemon.signal("HUP");
    let refused = daemon.wait_for("TLS certificate not reloaded; the previous one stays in use");
    assert!(refused["error"].as_str().unwrap().contains("tls.key"), "{refused}");
    assert!(curl(addr, &dir.join("second.pem")).0);
}

/// `curl` over TLS with `apikey: key`, with the client certificate `client` (a name made by
/// [`certificate`]) if given: the status and the body.
fn curl_as(addr: SocketAddr, dir: &Path, key: &str, client: Option<&str>) -> (String, String) {
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error", "--write-out", "\n%{http_code}", "--cacert"]).arg(dir.join("server.pem"));
    if let Some(client) = client {
        command
            .arg("--cert")
            .arg(dir.join(format!("{client}.pem")))
            .arg("--key")
            .arg(dir.join(format!("{client}.key")));
    }
    let out = command
        .args(["-H", &format!("apikey: {key}")])
        .arg(format!("https://{addr}/v1/sessions/none-such"))
        .output()
        .unwrap();
    let said = text(&out.stdout);
    let (body, status) = said.rsplit_once('\n').unwrap_or(("", ""));
    (status.to_owned(), body.to_owned())
}

#[test]
fn an_eservice_that_pins_a_client_certificate_is_served_only_with_it() {
    let token = TokenDir::new();
    let dir = token.path("");
    for name in ["server", "permits", "stranger"] {
        certificate(&dir, name);
    }
    std::fs::copy(dir.join("server.pem"), dir.join("tls.pem")).unwrap();
    std::fs::copy(dir.join("server.key"), dir.join("tls.key")).unwrap();
    let der = openssl(["x509", "-in", dir.join("permits.pem").to_str().unwrap(), "-outform", "DER"]).stdout;
    let pinned = hex::encode(esignd::hsm::HashAlgorithm::Sha256.digest(&der));
    let sha = |key: &str| hex::encode(esignd::hsm::HashAlgorithm::Sha256.digest(key.as_bytes()));
    let config = std::fs::read_to_string(token.config()).unwrap()
        + &format!(
            "\n[server.tls]\ncert = \"tls.pem\"\nkey = \"tls.key\"\n\
             \n[[clients]]\nid = \"permits\"\napi_key_sha256 = \"{p}\"\ncallback_urls = [\"http://127.0.0.1:9/cb\"]\ncert_sha256 = \"{pinned}\"\n\
             \n[[clients]]\nid = \"open\"\napi_key_sha256 = \"{o}\"\ncallback_urls = [\"http://127.0.0.1:9/cb\"]\n",
            p = sha("key-p"),
            o = sha("key-o"),
        );
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();

    // Past the caller check, an unknown correlation id is 404: the caller was accepted.
    assert_eq!(curl_as(addr, &dir, "key-p", Some("permits")).0, "404", "the pinned certificate with the key");
    let (status, body) = curl_as(addr, &dir, "key-p", None);
    assert_eq!(status, "401", "{body}");
    assert!(body.contains("mutual TLS"), "the refusal says what is missing: {body}");
    assert_eq!(curl_as(addr, &dir, "key-p", Some("stranger")).0, "401", "another certificate");
    assert_eq!(curl_as(addr, &dir, "key-o", None).0, "404", "a client that pins nothing needs none");
    assert_eq!(curl_as(addr, &dir, "key-o", Some("stranger")).0, "404", "nor minds one");
    assert_eq!(curl_as(addr, &dir, "wrong", Some("permits")).0, "401", "the certificate is no key");

    // openssl s_client, presenting the pinned certificate, gets the same answer as curl.
    let mut s_client = Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &addr.to_string(), "-CAfile"])
        .arg(dir.join("server.pem"))
        .arg("-cert")
        .arg(dir.join("permits.pem"))
        .arg("-key")
        .arg(dir.join("permits.key"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        s_client.stdin.as_mut().unwrap(),
        b"GET /v1/sessions/none-such HTTP/1.1\r\nHost: esignd\r\napikey: key-p\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let out = s_client.wait_with_output().unwrap();
    assert!(text(&out.stdout).starts_with("HTTP/1.1 404"), "{}{}", text(&out.stdout), text(&out.stderr));
}
