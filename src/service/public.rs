//! What anyone may ask: the CA chain (where every certificate's caIssuers points), a published
//! certificate by serial, the CRL, the service key's JWKS, the built-in TSA, and readiness for
//! operators.

use der::pem::LineEnding;
use der::{Decode, EncodePem};

use super::engine::TsaReadiness;
use super::{EsignService, ServiceError};

/// How long a readiness answer is given again.
const READINESS_REUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether esignd can do its job now.
#[derive(Clone, Debug)]
pub struct Readiness {
    /// The HSM: a logged-in session within the per-call deadline.
    pub hsm: Check,
    /// The store answers.
    pub store: Check,
    /// A time-stamp can be had (at most a probe interval old).
    pub tsa: TsaReadiness,
}

/// One dependency's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Why it is not usable, if it is not.
    pub error: Option<String>,
    /// The token's label and serial (the HSM check).
    pub token: Option<(String, String)>,
}

impl EsignService {
    /// The CA chain as PEM, CA certificate first.
    ///
    /// # Errors
    /// An encoding failure.
    pub fn ca_chain_pem(&self) -> Result<String, ServiceError> {
        crate::pki::pem::write_chain(self.core.engine.ca_chain()).map_err(|e| ServiceError::damaged("CA chain", e))
    }

    /// The service key's JWKS (it verifies session tokens and webhooks).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::to_value(&self.core.jwks).expect("a JWKS serialises")
    }

    /// The certificate esignd issued with hex `serial`, as PEM.
    ///
    /// # Errors
    /// [`ServiceError::UnknownCertificate`]; store failures.
    pub async fn certificate_pem(&self, serial: &str) -> Result<String, ServiceError> {
        let der = self.core.store.certificate(serial).await?.ok_or(ServiceError::UnknownCertificate)?;
        x509_cert::Certificate::from_der(&der)
            .and_then(|c| c.to_pem(LineEnding::LF))
            .map_err(|e| ServiceError::damaged("certificate", e))
    }

    /// The CA's current CRL (DER).
    ///
    /// # Errors
    /// HSM and store failures.
    pub async fn crl(&self) -> Result<Vec<u8>, ServiceError> {
        self.devices.crl().await
    }

    /// The largest TimeStampReq the built-in TSA reads; `None` when esignd runs no TSA.
    pub fn tsa_request_limit(&self) -> Option<usize> {
        self.core.engine.runs_tsa().then_some(self.tsa_request_limit)
    }

    /// The built-in TSA's TimeStampResp to a DER TimeStampReq (a malformed request gets a
    /// rejection, not an error).
    ///
    /// # Errors
    /// [`ServiceError::NoBuiltinTsa`]; [`ServiceError::PublicShareBusy`]; no HSM session within
    /// the deadline.
    pub async fn timestamp(&self, request: Vec<u8>) -> Result<Vec<u8>, ServiceError> {
        // A query the TSA refuses is answered here: it costs no HSM work, so it takes no place
        // in the public share (a flood of them must not crowd out real queries).
        let query = match self.core.engine.read_tsa_query(&request) {
            None => return Err(ServiceError::NoBuiltinTsa),
            Some(Err(rejection)) => return Ok(rejection),
            Some(Ok(query)) => query,
        };
        // Anyone may ask: only the public share of the HSM sessions, never a wait for more.
        let Ok(_share) = self.public_work.try_acquire() else {
            return Err(ServiceError::PublicShareBusy);
        };
        self.core.engine.respond_tsa(query).await.map_err(ServiceError::TsaUnavailable)
    }

    /// Whether every dependency answers now. Probes cost HSM work and anyone may ask, so an
    /// answer less than a second old is given again, and while the public share of the HSM is
    /// taken the last answer stands.
    pub async fn readiness(&self) -> Readiness {
        let mut last = self.last_readiness.lock().await;
        let share = self.public_work.try_acquire();
        if let Some((at, readiness)) = last.as_ref()
            && (at.elapsed() < READINESS_REUSE || share.is_err())
        {
            return readiness.clone();
        }
        let readiness = self.probe().await;
        *last = Some((std::time::Instant::now(), readiness.clone()));
        readiness
    }

    async fn probe(&self) -> Readiness {
        let engine = &self.core.engine;
        let (hsm, store, tsa) = tokio::join!(engine.hsm_status(), self.core.store.ping(), engine.tsa_readiness());
        let hsm = match hsm {
            Ok(status) if status.logged_in => Check { error: None, token: Some((status.label, status.serial)) },
            Ok(status) => {
                Check { error: Some("the session is not logged in".into()), token: Some((status.label, status.serial)) }
            }
            Err(e) => {
                tracing::warn!(error = %e, "readiness: HSM check failed");
                Check { error: Some(e.to_string()), token: None }
            }
        };
        let store = match store {
            Ok(()) => Check { error: None, token: None },
            Err(e) => {
                tracing::warn!(error = %e, "readiness: store check failed");
                Check { error: Some(e.to_string()), token: None }
            }
        };
        Readiness { hsm, store, tsa }
    }
}
