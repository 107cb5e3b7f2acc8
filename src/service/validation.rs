//! The validation data every SignResponse carries (`docs/long-term-validation.md`): the CA
//! chain, encoded once at start, and the CA's installed CRL, read from the store at most once a
//! second rather than once per signature.
//!
//! A CRL installed by this daemon or another reaches the responses within [`CRL_FRESH`]. That
//! delay cannot change what a response proves: the CRL in it covers the one-minute signer
//! certificate (never revoked; it says "no revocation available") and the built-in TSA's
//! certificate, and it carries its own thisUpdate for a validator to judge.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use x509_cert::Certificate;

use super::ServiceError;
use crate::store::Store;

/// How long a CRL read from the store is served before it is read again.
pub const CRL_FRESH: Duration = Duration::from_secs(1);

/// The chain (base64 DER) and the last CRL read.
pub(crate) struct ValidationData {
    certificates: Vec<String>,
    crl: Mutex<Option<(Instant, Option<String>)>>,
}

impl ValidationData {
    /// For `chain`, CA certificate first.
    ///
    /// # Errors
    /// A certificate that does not encode.
    pub fn new(chain: &[Certificate]) -> Result<Self, der::Error> {
        let certificates = chain
            .iter()
            .map(|certificate| der::Encode::to_der(certificate).map(|der| STANDARD.encode(der)))
            .collect::<Result<_, _>>()?;
        Ok(Self { certificates, crl: Mutex::new(None) })
    }

    /// `validationData`: `certificates` (base64 DER, CA first) and `crls` (the installed CRL,
    /// at most [`CRL_FRESH`] old; none before the first is signed).
    ///
    /// # Errors
    /// Store failures.
    pub async fn json(&self, store: &dyn Store) -> Result<serde_json::Value, ServiceError> {
        let crls: Vec<String> = self.crl(store).await?.into_iter().collect();
        Ok(serde_json::json!({ "certificates": self.certificates, "crls": crls }))
    }

    async fn crl(&self, store: &dyn Store) -> Result<Option<String>, ServiceError> {
        if let Some((read, crl)) = &*self.lock()
            && read.elapsed() < CRL_FRESH
        {
            return Ok(crl.clone());
        }
        let read = Instant::now();
        let crl = store.crl().await?.map(|crl| STANDARD.encode(crl.der));
        *self.lock() = Some((read, crl.clone()));
        Ok(crl)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Option<String>)>> {
        self.crl.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
