//! The CA's CRL for device certificates: signed in the HSM, numbered, installed in the store,
//! renewed when half of its validity has passed. One CRL is signed at a time, so numbers rise
//! and a state change's CRL cannot be overtaken by one that does not list it.

use std::time::{Duration, SystemTime};

use der::Decode;
use x509_cert::Certificate;

use crate::ca::crl::Withheld;
use crate::service::ServiceError;
use crate::service::core::Core;
use crate::store::devices::{CrlRow, DeviceCertificateRow};
use crate::vocabulary::CertificateState;

/// Signs and renews the CRL.
pub(super) struct CrlKeeper {
    validity: Duration,
    signing: tokio::sync::Mutex<()>,
}

impl CrlKeeper {
    /// CRLs valid `validity` each.
    pub fn new(validity: Duration) -> Self {
        Self { validity, signing: tokio::sync::Mutex::new(()) }
    }

    /// The current CRL (DER), signing a new one first when none exists or it is due.
    pub async fn current(&self, core: &Core) -> Result<Vec<u8>, ServiceError> {
        if let Some(crl) = core.store.crl().await?
            && !self.due(&crl)
        {
            return Ok(crl.der);
        }
        let _one_crl_at_a_time = self.signing.lock().await;
        // Another caller may have renewed it while this one waited.
        let installed = core.store.crl().await?;
        if let Some(crl) = &installed
            && !self.due(crl)
        {
            return Ok(crl.der.clone());
        }
        let withheld = withheld(core, SystemTime::now(), None).await?;
        let crl = self.sign(core, installed.as_ref(), withheld).await?;
        if !core.store.install_crl(&crl).await? {
            // Another daemon installed this number (or a higher) first: serve theirs, so that
            // one number never names two different CRLs.
            let theirs = core.store.crl().await?.ok_or_else(|| ServiceError::damaged("CRL", "it vanished"))?;
            return Ok(theirs.der);
        }
        tracing::info!(crl = crl.number, "CRL signed");
        Ok(crl.der)
    }

    /// Hold the CRL for a change that signs its own: no other CRL is signed until it is dropped.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.signing.lock().await
    }

    fn due(&self, crl: &CrlRow) -> bool {
        crl.next_update.duration_since(SystemTime::now()).unwrap_or_default() < self.validity / 2
    }

    /// Sign the CRL after the installed one (numbered above it) listing `withheld`.
    pub async fn sign(
        &self,
        core: &Core,
        installed: Option<&CrlRow>,
        withheld: Vec<Withheld>,
    ) -> Result<CrlRow, ServiceError> {
        let number = installed.map_or(1, |crl| crl.number + 1);
        let der = core.engine.sign_crl(number, withheld, self.validity).await?;
        Ok(CrlRow { number, der, next_update: SystemTime::now() + self.validity })
    }
}

/// What the CRL lists at `now`, leaving out certificate `except` (whose entry the caller
/// decides).
pub(super) async fn withheld(
    core: &Core,
    now: SystemTime,
    except: Option<&str>,
) -> Result<Vec<Withheld>, ServiceError> {
    core.store
        .withheld_certificates(now)
        .await?
        .iter()
        .filter(|row| Some(row.certificate_id.as_str()) != except)
        .map(withheld_entry)
        .collect()
}

/// The CRL entry of a suspended or revoked certificate.
pub(super) fn withheld_entry(row: &DeviceCertificateRow) -> Result<Withheld, ServiceError> {
    let certificate = Certificate::from_der(&row.der).map_err(|e| ServiceError::damaged("device certificate", e))?;
    Ok(Withheld {
        serial: certificate.tbs_certificate().serial_number().as_bytes().to_vec(),
        since: row.changed_at,
        on_hold: row.state == CertificateState::Suspended,
    })
}
