//! Shared test helpers: SoftHSM tokens (in this process, or in a directory of their own for
//! tests that start esignd/esignctl), the openssl oracle, and a minimal HTTP client.
#![allow(dead_code)]

pub mod app;
pub mod audit;
pub mod cluster;
pub mod daemon;
pub mod eservices;
pub mod fake_tsa;
pub mod haproxy;
pub mod load;
pub mod oidc;
pub mod oracle;
pub mod pdf;
pub mod postgres;
pub mod request_object;
pub mod spec;
pub mod suite;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use esignd::hsm::pkcs11::{Pkcs11KeyStore, Pkcs11Settings, TokenSelector, context, token};

/// The security officer PIN of in-process test tokens.
pub const SO_PIN: &str = "test-so-pin-0000";
/// The user PIN of in-process test tokens.
pub const USER_PIN: &str = "test-user-pin-1234";

/// The SoftHSM2 module (Debian's path unless ESIGND_TEST_PKCS11_MODULE says otherwise).
pub fn module() -> PathBuf {
    let path = std::env::var_os("ESIGND_TEST_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
    assert!(path.is_file(), "{path:?} is missing: run tests/run.sh, or apt-get install -y softhsm2 opensc");
    path
}

/// Create the suite's SoftHSM configuration named by SOFTHSM2_CONF (set by .cargo/config.toml),
/// with its token directory, before the module is first loaded in this process.
fn ensure_test_softhsm_conf() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let conf =
            PathBuf::from(std::env::var_os("SOFTHSM2_CONF").expect("SOFTHSM2_CONF is set by .cargo/config.toml"));
        let dir = conf.parent().expect("the configuration lives in a directory");
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        // Every test makes a token and SoftHSM reads them all at start-up: forget those left by
        // earlier runs (tests/run.sh starts from an empty directory anyway). Tokens of a test
        // binary running right now are younger than an hour.
        for entry in std::fs::read_dir(&tokens).unwrap().flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600));
            if old {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let template =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("softhsm/softhsm2.conf.in")).unwrap();
        let text = template.replace("@TOKENDIR@", tokens.to_str().unwrap());
        // Test binaries may start at once: write a private file and rename it into place.
        let private = dir.join(format!("softhsm2.conf.{}", std::process::id()));
        std::fs::write(&private, text).unwrap();
        std::fs::rename(private, conf).unwrap();
    });
}

/// A token of its own for one test, made in this process, with a pool of `sessions`.
pub struct TestToken {
    /// Its label.
    pub label: String,
    /// A logged-in key store on it.
    pub store: Pkcs11KeyStore,
}

/// Initialise a fresh token with a unique label and open a key store on it.
pub fn new_token(sessions: usize) -> TestToken {
    static SERIALISE: Mutex<()> = Mutex::new(());
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    ensure_test_softhsm_conf();
    let label = {
        // Two threads must not both pick the same free slot.
        let _one_at_a_time = SERIALISE.lock().unwrap_or_else(|e| e.into_inner());
        let ctx = context::load(&module()).unwrap();
        let mut nonce = [0u8; 3];
        getrandom::fill(&mut nonce).unwrap();
        let label =
            format!("t{}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), hex::encode(nonce));
        token::init(&ctx, &label, &SO_PIN.into(), &USER_PIN.into()).unwrap();
        label
    };
    let store = open_store(&label, sessions);
    TestToken { label, store }
}

/// A key store on the in-process token `label`.
pub fn open_store(label: &str, sessions: usize) -> Pkcs11KeyStore {
    Pkcs11KeyStore::open(settings(label, sessions, USER_PIN)).unwrap()
}

/// Settings for the in-process token `label`.
pub fn settings(label: &str, sessions: usize, pin: &str) -> Pkcs11Settings {
    Pkcs11Settings {
        module: module(),
        token: TokenSelector::Label(label.to_owned()),
        pin: pin.into(),
        sessions,
        call_timeout: Duration::from_secs(10),
    }
}

/// `pkcs11-tool --list-objects` (OpenSC) on the in-process token `label`: what another process
/// sees on the token. Returns the listing.
pub fn pkcs11_tool_listing(label: &str) -> String {
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module())
        .args(["--token-label", label, "--login", "--pin", USER_PIN, "--list-objects"])
        .output()
        .unwrap();
    assert!(out.status.success(), "pkcs11-tool: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Objects in a stable order, to compare inventories.
pub fn sorted(mut objects: Vec<esignd::hsm::ObjectInfo>) -> Vec<esignd::hsm::ObjectInfo> {
    objects.sort_by(|a, b| (a.label.as_str(), a.class as u8).cmp(&(b.label.as_str(), b.class as u8)));
    objects
}

/// A token directory made by `softhsm/make-token`, for tests that run the binaries.
pub struct TokenDir {
    /// The directory (removed when the test ends).
    pub dir: tempfile::TempDir,
}

impl TokenDir {
    /// Make and provision a token with `softhsm/make-token`, the script developers and CI use.
    pub fn new() -> Self {
        Self::with_listen("127.0.0.1:0")
    }

    /// As [`TokenDir::new`], with the daemon configured to listen on `listen`.
    pub fn with_listen(listen: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("softhsm/make-token"))
            .arg(dir.path())
            .env("ESIGNCTL", env!("CARGO_BIN_EXE_esignctl"))
            .env("ESIGND_LISTEN", listen)
            .env("ESIGND_PKCS11_MODULE", module())
            .output()
            .unwrap();
        assert!(out.status.success(), "make-token failed:\n{}{}", text(&out.stdout), text(&out.stderr));
        Self { dir }
    }

    /// Path of a file in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The daemon configuration made by make-token.
    pub fn config(&self) -> PathBuf {
        self.path("esignd.toml")
    }

    /// A command for `program` with this token's SOFTHSM2_CONF.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("SOFTHSM2_CONF", self.path("softhsm2.conf")).env_remove("ESIGND_CONFIG");
        command
    }

    /// Run `esignctl --config <ours> args...`.
    pub fn esignctl(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_esignctl")).arg("--config").arg(self.config()).args(args).output().unwrap()
    }

    /// The user PIN make-token chose.
    pub fn pin(&self) -> String {
        std::fs::read_to_string(self.path("pin")).unwrap().trim().to_owned()
    }

    /// Run pkcs11-tool (OpenSC) against this token, logged in.
    pub fn pkcs11_tool(&self, args: &[&str]) -> Output {
        self.command("pkcs11-tool")
            .arg("--module")
            .arg(module())
            .args(["--token-label", "esignd", "--login", "--pin"])
            .arg(self.pin())
            .args(args)
            .output()
            .unwrap()
    }
}

/// Run openssl with `args`.
pub fn openssl<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("openssl").args(args).output().expect("openssl is installed (tests/run.sh installs it)")
}

/// A CSR made by openssl with a fresh key (`newkey` as `openssl req -newkey` takes it, plus
/// `-pkeyopt`s) for `subject`: the key at `{dir}/{name}.key`, the request at `{dir}/{name}.csr`;
/// returns the request, PEM.
pub fn openssl_csr(dir: &Path, name: &str, subject: &str, newkey: &str, options: &[&str]) -> String {
    let (key, request) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.csr")));
    let mut args = vec!["req", "-new", "-newkey", newkey, "-nodes", "-subj", subject];
    for option in options {
        args.extend(["-pkeyopt", option]);
    }
    args.extend(["-keyout", key.to_str().unwrap(), "-out", request.to_str().unwrap()]);
    let out = openssl(&args);
    assert!(out.status.success(), "openssl req: {}", text(&out.stderr));
    std::fs::read_to_string(request).unwrap()
}

/// A device's P-256 key as a user's wallet keeps it: PKCS#8 PEM encrypted (AES-256-CBC) with the
/// PIN in `pin_file`, made by openssl at `key`.
pub fn encrypted_device_key(key: &Path, pin_file: &Path) {
    let pass = format!("file:{}", pin_file.display());
    let out = openssl([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes-256-cbc",
        "-pass",
        &pass,
        "-out",
        key.to_str().unwrap(),
    ]);
    oracle::assert_ok(&out, "openssl genpkey");
}

/// A self-signed P-256 root made by openssl in `dir`: `{name}.key` and `{name}.pem`, valid for
/// `days`. Returns the certificate's path.
pub fn openssl_root(dir: &Path, name: &str, subject: &str, days: u32) -> PathBuf {
    let (key, certificate) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pem")));
    let days = days.to_string();
    let args: Vec<&OsStr> = [
        OsStr::new("req"),
        OsStr::new("-x509"),
        OsStr::new("-newkey"),
        OsStr::new("ec"),
        OsStr::new("-pkeyopt"),
        OsStr::new("ec_paramgen_curve:P-256"),
        OsStr::new("-nodes"),
        OsStr::new("-subj"),
        OsStr::new(subject),
        OsStr::new("-days"),
        OsStr::new(&days),
        OsStr::new("-keyout"),
        key.as_os_str(),
        OsStr::new("-out"),
        certificate.as_os_str(),
    ]
    .into();
    let out = openssl(&args);
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    certificate
}

/// Run a Node.js script of the test harness in `dir` (relative to the crate: `tests/oidc`,
/// `tests/browser`); returns its standard output, trimmed.
pub fn node(dir: &str, args: &[&str]) -> String {
    let out = Command::new("node")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .args(args)
        .output()
        .expect("node is installed (tests/run.sh installs it)");
    assert!(out.status.success(), "node {args:?}:\n{}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// Lossy UTF-8 of process output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A minimal HTTP/1.1 exchange; returns the status code and the body.
pub fn http(addr: SocketAddr, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, Vec<u8>) {
    let headers: Vec<(&str, &str)> = content_type.map(|c| ("Content-Type", c)).into_iter().collect();
    http_with(addr, method, path, &headers, body)
}

/// A JSON API call: `body` (if any) sent as `application/json` with `headers`; the status and the
/// answer's JSON (`Null` when the answer is not JSON).
pub fn http_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(serde_json::Value::to_string).unwrap_or_default();
    let mut all = headers.to_vec();
    if !body.is_empty() {
        all.push(("Content-Type", "application/json"));
    }
    let (status, answer) = http_with(addr, method, path, &all, body.as_bytes());
    (status, serde_json::from_slice(&answer).unwrap_or(serde_json::Value::Null))
}

/// A minimal HTTP/1.1 exchange with extra request headers; returns the status code and the body.
pub fn http_with(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let (status, body, _) = http_full(addr, method, path, headers, body);
    (status, body)
}

/// As [`http_with`], also returning the `Location` header.
#[allow(dead_code)] // not every test binary follows redirects
pub fn http_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>, Option<String>) {
    let (status, head, body) = http_exchange(addr, method, path, headers, body);
    let location = head.iter().find(|(name, _)| name.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone());
    (status, body, location)
}

/// GET a signing page as a browser would first open it: the `name=value` of the browser-binding
/// cookie it sets, to send with the page's forms.
pub fn binding_cookie(addr: SocketAddr, page: &str) -> String {
    let (status, head, _) = http_exchange(addr, "GET", page, &[], b"");
    assert_eq!(status, 200, "{page}");
    let cookie = head.iter().find(|(name, _)| name.eq_ignore_ascii_case("set-cookie")).expect("a binding cookie");
    cookie.1.split(';').next().unwrap().to_owned()
}

/// One HTTP/1.1 exchange: the status, the response headers and the body.
pub fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer and close before reading a body it refuses.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response head");
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("an HTTP status line");
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':').map(|(name, value)| (name.to_owned(), value.trim().to_owned())))
        .collect();
    (status, headers, response[split + 4..].to_vec())
}

/// A minimal HTTP/1.1 GET; returns the status code and the body as text.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, body) = http(addr, "GET", path, None, &[]);
    (status, String::from_utf8_lossy(&body).into_owned())
}
