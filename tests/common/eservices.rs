//! The eServices of the session and device tests: two registered clients (`eservice-a` with API
//! key "key-a" and a webhook, `eservice-b` with "key-b"), and a webhook receiver that keeps what
//! it was sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fake_tsa::{FakeTsa, Reply, serve};

/// eservice-a's callback URL.
pub const CALLBACK: &str = "http://127.0.0.1:9/eservice/callback";

/// SHA-256 of `text`, hex: how API keys are configured.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(esignd::hsm::HashAlgorithm::Sha256.digest(text.as_bytes()))
}

/// The `[[clients]]` tables of the two eServices, eservice-a's webhook at `webhook_url`.
pub fn clients_toml(webhook_url: &str) -> String {
    format!(
        "\n[[clients]]\nid = \"eservice-a\"\napi_key_sha256 = \"{a}\"\ncallback_urls = [\"{CALLBACK}\"]\nwebhook_url = \"{webhook_url}\"\n\
         \n[[clients]]\nid = \"eservice-b\"\napi_key_sha256 = \"{b}\"\ncallback_urls = [\"http://127.0.0.1:9/b/callback\"]\n",
        a = sha256_hex("key-a"),
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
