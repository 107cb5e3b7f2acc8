//! [`DeviceService`]: enrolling a device (CSR → device certificate), listing a user's
//! certificates, changing their state, and keeping the CRL current.
//!
//! A state change and the CRL that reflects it are stored in one transaction: the CRL is signed
//! first (as the list will be after the change), then the change and the CRL are written
//! together, or neither is. CRLs are signed one at a time, each numbered above the last.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use x509_cert::Certificate;

use super::DeviceError;
use super::csr::{check_csr, read_csr};
use super::lifecycle::{Action, transition};
use crate::ca::crl::Withheld;
use crate::hsm::HashAlgorithm;
use crate::identity::Identity;
use crate::service::engine::Engine;
use crate::store::Store;
use crate::store::devices::{Binding, CrlRow, DeviceCertificateRow, StateChange, key_digest};
use crate::vocabulary::{CertificateState, CertificateStatus};

/// GovStack's `SCDType` values.
pub const SCD_TYPES: [&str; 6] = [
    "REMOTE_SCD_APP_APPLE",
    "REMOTE_SCD_APP_ANDROID",
    "REMOTE_SCD_APP_SE_APPLE",
    "REMOTE_SCD_APP_SE_ANDROID",
    "REMOTE_SCD_SIM",
    "REMOTE_SCD_ESIM",
];

/// The store secret walletUserIds are derived with.
const WALLET_USER_ID_SALT: &str = "wallet-user-id-salt";

/// The `SCDType` shown for bound wallets (GovStack's enum has no value for them).
pub const WALLET_SCD_TYPE: &str = "WALLET_BINDING";

/// What a device sends to be enrolled.
#[derive(Clone, Debug)]
pub struct Enrolment {
    /// The PKCS#10 request, PEM or base64 DER.
    pub csr: String,
    /// One of [`SCD_TYPES`].
    pub scd_type: String,
    /// The device's push token or other remote id.
    pub scd_remote_id: String,
    /// The key's index on the device.
    pub scd_key_id: i64,
    /// The pseudonym the user chose, if any.
    pub pseudonym: Option<String>,
}

/// How a certificate stands at `now`: its stored state, or EXPIRED past notAfter.
pub fn status_now(row: &DeviceCertificateRow, now: SystemTime) -> CertificateStatus {
    CertificateStatus::at(row.state, row.not_after, now)
}

/// The device model's service.
pub struct DeviceService {
    signing: Arc<dyn Engine>,
    store: Arc<dyn Store>,
    crl_validity: Duration,
    crl_signing: tokio::sync::Mutex<()>,
}

impl DeviceService {
    /// A service issuing CRLs valid for `crl_validity`.
    pub fn new(signing: Arc<dyn Engine>, store: Arc<dyn Store>, crl_validity: Duration) -> Self {
        Self { signing, store, crl_validity, crl_signing: tokio::sync::Mutex::new(()) }
    }

    /// Certify the key in `enrolment`'s CSR for `identity`, store and publish the certificate.
    ///
    /// # Errors
    /// [`DeviceError::Csr`], [`DeviceError::Invalid`], [`DeviceError::PseudonymTaken`]; HSM and
    /// store failures.
    pub async fn enrol(&self, identity: Identity, enrolment: Enrolment) -> Result<DeviceCertificateRow, DeviceError> {
        if !SCD_TYPES.contains(&enrolment.scd_type.as_str()) {
            return Err(DeviceError::Invalid(format!("SCDType must be one of {}", SCD_TYPES.join(", "))));
        }
        if enrolment.scd_remote_id.is_empty() || enrolment.scd_remote_id.len() > 512 {
            return Err(DeviceError::Invalid("SCDRemoteId must have 1 to 512 characters".into()));
        }
        if enrolment.scd_key_id < 0 {
            return Err(DeviceError::Invalid("SCDKeyId must be a non-negative integer".into()));
        }
        let pseudonym = match enrolment.pseudonym {
            Some(chosen) => check_pseudonym(&chosen)?,
            None => new_pseudonym(),
        };
        if self.store.device_by_pseudonym(&pseudonym).await?.is_some() {
            return Err(DeviceError::PseudonymTaken(pseudonym));
        }
        let key = check_csr(&read_csr(&enrolment.csr)?)?;
        let owner = identity.subject_id().to_owned();
        let key_sha256 = key_digest(&key);
        if self.store.device_certificates_by_key(&key_sha256).await?.iter().any(|row| row.owner != owner) {
            return Err(DeviceError::DuplicateKey);
        }
        let certificate = self.signing.issue_device_certificate(identity, key).await?;
        let der = certificate.to_der().map_err(|e| DeviceError::Invalid(e.to_string()))?;
        let row = DeviceCertificateRow {
            certificate_id: hex::encode(HashAlgorithm::Sha256.digest(&der)),
            owner,
            pseudonym: pseudonym.clone(),
            serial: hex::encode(certificate.tbs_certificate().serial_number().as_bytes()),
            der,
            state: CertificateState::Active,
            state_message: None,
            changed_at: SystemTime::now(),
            not_after: certificate.tbs_certificate().validity().not_after.to_system_time(),
            scd_type: enrolment.scd_type,
            scd_remote_id: enrolment.scd_remote_id,
            scd_key_id: enrolment.scd_key_id,
            key_sha256,
        };
        if !self.store.add_device_certificate(&row).await? {
            return Err(DeviceError::PseudonymTaken(pseudonym));
        }
        tracing::info!(serial = %row.serial, certificate_id = %row.certificate_id, "device certificate issued");
        Ok(row)
    }

    /// Bind `key` as `identity`'s wallet through `partner_id` (e-Signet wallet binding, see
    /// [`super::binding`]): certify it under the person's walletUserId, revoking the certificates
    /// it replaces. Returns the new certificate and the ids of the replaced ones.
    ///
    /// # Errors
    /// [`DeviceError::DuplicateKey`] when the key is certified for another person;
    /// [`DeviceError::Raced`] when another binding or state change came first; HSM and store
    /// failures.
    pub async fn bind(
        &self,
        identity: Identity,
        partner_id: &str,
        key: spki::SubjectPublicKeyInfoOwned,
    ) -> Result<(DeviceCertificateRow, Vec<String>), DeviceError> {
        let owner = identity.subject_id().to_owned();
        let salt = self.store.secret(WALLET_USER_ID_SALT).await?;
        let wallet_user_id = super::binding::wallet_user_id(&salt, partner_id, &owner);
        let key_sha256 = key_digest(&key);
        if self.store.device_certificates_by_key(&key_sha256).await?.iter().any(|row| row.owner != owner) {
            return Err(DeviceError::DuplicateKey);
        }
        let certificate = self.signing.issue_device_certificate(identity, key).await?;
        let der = certificate.to_der().map_err(|e| DeviceError::Invalid(e.to_string()))?;
        let now = SystemTime::now();
        let row = DeviceCertificateRow {
            certificate_id: hex::encode(HashAlgorithm::Sha256.digest(&der)),
            owner: owner.clone(),
            pseudonym: wallet_user_id.clone(),
            serial: hex::encode(certificate.tbs_certificate().serial_number().as_bytes()),
            der,
            state: CertificateState::Active,
            state_message: None,
            changed_at: now,
            not_after: certificate.tbs_certificate().validity().not_after.to_system_time(),
            scd_type: WALLET_SCD_TYPE.to_owned(),
            scd_remote_id: partner_id.to_owned(),
            scd_key_id: 0,
            key_sha256,
        };
        let _one_crl_at_a_time = self.crl_signing.lock().await;
        let replaced: Vec<DeviceCertificateRow> = self
            .store
            .device_certificates(&owner)
            .await?
            .into_iter()
            .filter(|old| old.pseudonym == wallet_user_id && old.state != CertificateState::Revoked)
            .collect();
        let replaces: Vec<String> = replaced.iter().map(|old| old.certificate_id.clone()).collect();
        let crl = if replaced.is_empty() {
            None
        } else {
            let mut withheld: Vec<Withheld> = self
                .withheld(now, None)
                .await?
                .into_iter()
                .filter(|entry| !replaced.iter().any(|old| old.serial == hex::encode(&entry.serial)))
                .collect();
            for old in &replaced {
                let mut revoked = old.clone();
                revoked.state = CertificateState::Revoked;
                revoked.changed_at = now;
                withheld.push(withheld_entry(&revoked)?);
            }
            let installed = self.store.crl().await?;
            Some(self.sign_crl(installed.as_ref(), withheld).await?)
        };
        let binding = Binding { row: row.clone(), replaces: replaces.clone(), at: now, crl };
        if !self.store.bind_device(&binding).await? {
            return Err(DeviceError::Raced);
        }
        tracing::info!(serial = %row.serial, replaced = replaces.len(), "wallet bound");
        Ok((row, replaces))
    }

    /// `owner`'s device certificates.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list(&self, owner: &str) -> Result<Vec<DeviceCertificateRow>, DeviceError> {
        Ok(self.store.device_certificates(owner).await?)
    }

    /// Apply `action` to `owner`'s certificate `certificate_id`; returns it as it is now.
    ///
    /// # Errors
    /// [`DeviceError::NotFound`] (also for another user's certificate),
    /// [`DeviceError::Transition`], [`DeviceError::Raced`]; HSM and store failures.
    pub async fn change(
        &self,
        owner: &str,
        certificate_id: &str,
        action: Action,
        message: Option<String>,
    ) -> Result<DeviceCertificateRow, DeviceError> {
        let row = self
            .store
            .device_certificate(certificate_id)
            .await?
            .filter(|row| row.owner == owner)
            .ok_or(DeviceError::NotFound)?;
        let from = row.state;
        let now = SystemTime::now();
        let to = transition(from, row.not_after < now, action)?;
        let _one_crl_at_a_time = self.crl_signing.lock().await;
        let mut withheld = self.withheld(now, Some(&row.certificate_id)).await?;
        if to != CertificateState::Active {
            let mut changed = row.clone();
            changed.state = to;
            changed.changed_at = now;
            withheld.push(withheld_entry(&changed)?);
        }
        let installed = self.store.crl().await?;
        let crl = self.sign_crl(installed.as_ref(), withheld).await?;
        let change = StateChange { from, to, message: message.as_deref(), at: now };
        if !self.store.change_device_state(&row.certificate_id, change, &crl).await? {
            return Err(DeviceError::Raced);
        }
        tracing::info!(serial = %row.serial, from = %from, to = %to, crl = crl.number, "device certificate state changed");
        self.store.device_certificate(&row.certificate_id).await?.ok_or(DeviceError::NotFound)
    }

    /// The current CRL (DER), signing a new one first when none exists or half of the last
    /// one's validity has passed.
    ///
    /// # Errors
    /// HSM and store failures.
    pub async fn crl(&self) -> Result<Vec<u8>, DeviceError> {
        if let Some(crl) = self.store.crl().await?
            && !self.due(&crl)
        {
            return Ok(crl.der);
        }
        let _one_crl_at_a_time = self.crl_signing.lock().await;
        // Another caller may have renewed it while this one waited.
        let installed = self.store.crl().await?;
        if let Some(crl) = &installed
            && !self.due(crl)
        {
            return Ok(crl.der.clone());
        }
        let withheld = self.withheld(SystemTime::now(), None).await?;
        let crl = self.sign_crl(installed.as_ref(), withheld).await?;
        self.store.install_crl(&crl).await?;
        tracing::info!(crl = crl.number, "CRL signed");
        Ok(crl.der)
    }

    fn due(&self, crl: &CrlRow) -> bool {
        crl.next_update.duration_since(SystemTime::now()).unwrap_or_default() < self.crl_validity / 2
    }

    /// What the CRL lists at `now`, leaving out certificate `except` (whose entry the caller
    /// decides).
    async fn withheld(&self, now: SystemTime, except: Option<&str>) -> Result<Vec<Withheld>, DeviceError> {
        self.store
            .withheld_certificates(now)
            .await?
            .iter()
            .filter(|row| Some(row.certificate_id.as_str()) != except)
            .map(withheld_entry)
            .collect()
    }

    /// Sign the CRL after `installed` (numbered above it) listing `withheld`.
    async fn sign_crl(&self, installed: Option<&CrlRow>, withheld: Vec<Withheld>) -> Result<CrlRow, DeviceError> {
        let number = installed.map_or(1, |crl| crl.number + 1);
        let der = self.signing.sign_crl(number, withheld, self.crl_validity).await?;
        Ok(CrlRow { number, der, next_update: SystemTime::now() + self.crl_validity })
    }
}

fn withheld_entry(row: &DeviceCertificateRow) -> Result<Withheld, DeviceError> {
    let certificate =
        Certificate::from_der(&row.der).map_err(|e| DeviceError::Invalid(format!("stored certificate: {e}")))?;
    Ok(Withheld {
        serial: certificate.tbs_certificate().serial_number().as_bytes().to_vec(),
        since: row.changed_at,
        on_hold: row.state == CertificateState::Suspended,
    })
}

/// A chosen pseudonym: 3 to 64 letters, digits, `.`, `_` or `-`.
fn check_pseudonym(pseudonym: &str) -> Result<String, DeviceError> {
    let fine = (3..=64).contains(&pseudonym.len())
        && pseudonym.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fine {
        Ok(pseudonym.to_owned())
    } else {
        Err(DeviceError::Invalid("pseudonym must have 3 to 64 letters, digits, '.', '_' or '-'".into()))
    }
}

/// A fresh pseudonym: 16 random lowercase letters and digits (80 bits).
fn new_pseudonym() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| ALPHABET[usize::from(b % 32)] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms() {
        assert!(check_pseudonym("johndoe5766").is_ok());
        assert!(check_pseudonym("jo").is_err());
        assert!(check_pseudonym("john doe").is_err());
        assert!(check_pseudonym("<script>").is_err());
        let made = new_pseudonym();
        assert_eq!(made.len(), 16);
        assert!(check_pseudonym(&made).is_ok());
        assert_ne!(made, new_pseudonym());
    }
}
