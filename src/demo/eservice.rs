//! The demo eService: what an integrator's backend does, inside esignd for the demo. It creates
//! a session for a digest the browser computed — or prepares an uploaded PDF with the `esign`
//! library and asks for the digest of its byte ranges — and when the citizen comes back it
//! redeems the signature (embedding it into the prepared PDF) and keeps the result briefly for
//! download.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Signatures waiting to be downloaded, and PDFs waiting for their signature.
#[derive(Default)]
pub struct DemoShop {
    downloads: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    prepared: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

/// How long a signed file stays downloadable.
const KEEP: Duration = Duration::from_secs(600);

impl DemoShop {
    /// Keep `p7s` for download; returns its id.
    pub fn keep(&self, p7s: Vec<u8>) -> String {
        let id = crate::ids::random_hex(16);
        let mut downloads = self.downloads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        downloads.retain(|_, (_, at)| at.elapsed() < KEEP);
        downloads.insert(id.clone(), (p7s, Instant::now()));
        id
    }

    /// Keep a prepared PDF until session `correlation_id` is signed.
    pub fn keep_prepared(&self, correlation_id: &str, pdf: Vec<u8>) {
        let mut prepared = self.prepared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        prepared.retain(|_, (_, at)| at.elapsed() < KEEP);
        prepared.insert(correlation_id.to_owned(), (pdf, Instant::now()));
    }

    /// The prepared PDF of session `correlation_id`, taken (once).
    pub fn take_prepared(&self, correlation_id: &str) -> Option<Vec<u8>> {
        let mut prepared = self.prepared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        prepared.remove(correlation_id).filter(|(_, at)| at.elapsed() < KEEP).map(|(pdf, _)| pdf)
    }

    /// A kept signature.
    pub fn get(&self, id: &str) -> Option<Vec<u8>> {
        let downloads = self.downloads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        downloads.get(id).filter(|(_, at)| at.elapsed() < KEEP).map(|(p7s, _)| p7s.clone())
    }
}
