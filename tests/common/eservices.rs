//! The eServices of the session and device tests: two registered clients (`eservice-a` with API
//! key "key-a" and a webhook, `eservice-b` with "key-b"), the requests they send (a session for a
//! building permit, a device enrolment), and a webhook receiver that keeps what it was sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fake_tsa::{FakeTsa, Reply, serve};

/// eservice-a's callback URL.
pub const CALLBACK: &str = "http://127.0.0.1:9/eservice/callback";

/// The document of the session tests.
pub const PERMIT: &[u8] = b"Application for a building permit, form B-12\n";

/// A `POST /v1/sessions` body for [`PERMIT`], back to [`CALLBACK`], with `extra` members.
pub fn new_session(correlation_id: &str, extra: serde_json::Value) -> serde_json::Value {
    use base64::Engine as _;
    let mut body = serde_json::json!({
        "correlationId": correlation_id,
        "hash": base64::engine::general_purpose::STANDARD.encode(esignd::hsm::HashAlgorithm::Sha256.digest(PERMIT)),
        "hashType": "SHA2-256",
        "format": "CAdES",
        "dataToBeDisplayed": "Building permit B-12 <script>alert(1)</script>",
        "callbackUrl": CALLBACK,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A `POST /v1/cert/create` body for `csr`, under `pseudonym` when given.
pub fn enrolment(csr: &str, pseudonym: Option<&str>) -> serde_json::Value {
    let mut body = serde_json::json!({
        "CSR": csr, "SCDType": "REMOTE_SCD_APP_ANDROID", "SCDRemoteId": "654C4DB3-3F68-4969-8ED2-80EA16B46EB0",
        "SCDKeyId": 0, "requestTimestamp": "2026-11-23T09:12:28Z",
    });
    if let Some(pseudonym) = pseudonym {
        body["pseodonym"] = serde_json::json!(pseudonym);
    }
    body
}

/// SHA-256 of `text`, hex: how API keys are configured.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(esignd::hsm::HashAlgorithm::Sha256.digest(text.as_bytes()))
}

/// The `[[clients]]` tables of the two eServices, eservice-a's webhook at `webhook_url` and its
/// request-object keys in a JWKS file (`super::request_object`).
pub fn clients_toml(webhook_url: &str) -> String {
    format!(
        "\n[[clients]]\nid = \"eservice-a\"\napi_key_sha256 = \"{a}\"\ncallback_urls = [\"{CALLBACK}\"]\nwebhook_url = \"{webhook_url}\"\n\
         jwks_file = {jwks:?}\n\
         \n[[clients]]\nid = \"eservice-b\"\napi_key_sha256 = \"{b}\"\ncallback_urls = [\"http://127.0.0.1:9/b/callback\"]\n",
        a = sha256_hex("key-a"),
        jwks = super::request_object::jwks_file(),
        b = sha256_hex("key-b"),
    )
}

/// A webhook receiver on loopback.
pub struct Webhooks {
    seen: Arc<Mutex<Vec<String>>>,
    server: FakeTsa,
}

impl Webhooks {
    /// Start one that refuses (500) the first `failures` deliveries and takes the rest.
    pub fn start(failures: usize) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::clone(&seen);
        let server = serve(move |body| {
            let mut seen = received.lock().unwrap();
            seen.push(String::from_utf8_lossy(body).into_owned());
            if seen.len() <= failures {
                Reply::Status(500, b"try later".to_vec())
            } else {
                Reply::Status(200, Vec::new())
            }
        });
        Self { seen, server }
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Every delivery so far.
    pub fn received(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Wait until `n` deliveries arrived; all of them.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.received();
            if seen.len() >= n {
                return seen;
            }
            assert!(Instant::now() < deadline, "only {} of {n} webhook deliveries arrived", seen.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
