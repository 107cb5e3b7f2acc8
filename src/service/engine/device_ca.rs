//! The CA's work for the device model (DESIGN §7), in the HSM: certificates for keys on users'
//! own devices, and the CRL that withdraws them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use super::{EngineError, SigningEngine};
use crate::ca::crl::{CrlContents, Withheld, sign_crl};
use crate::hsm::KeyStore;
use crate::identity::Identity;

impl<K: KeyStore> SigningEngine<K> {
    /// Certify `device_key` for `identity` (validity and CRL from `[ca]`).
    ///
    /// # Errors
    /// HSM and encoding errors; a certificate that does not verify.
    pub async fn issue_device_certificate(
        self: &Arc<Self>,
        identity: Identity,
        device_key: SubjectPublicKeyInfoOwned,
    ) -> Result<Certificate, EngineError> {
        let service = Arc::clone(self);
        self.hsm
            .with_session(move |session| {
                let inventory = service.inventory();
                Ok(service.ca.issue_device(session, &inventory.ca_key, &identity, device_key, SystemTime::now())?)
            })
            .await
    }

    /// Sign CRL number `number` listing `withheld`, valid from now for `validity`.
    ///
    /// # Errors
    /// HSM and encoding errors; a CRL that does not verify.
    pub async fn sign_crl(
        self: &Arc<Self>,
        number: u64,
        withheld: Vec<Withheld>,
        validity: Duration,
    ) -> Result<Vec<u8>, EngineError> {
        let service = Arc::clone(self);
        self.hsm
            .with_session(move |session| {
                let inventory = service.inventory();
                let (_, key_id) = service.ca.issuer();
                let contents = CrlContents { number, withheld: &withheld, this_update: SystemTime::now(), validity };
                Ok(sign_crl(session, &inventory.ca_key, &service.ca.chain()[0], key_id, &contents)?)
            })
            .await
    }
}
