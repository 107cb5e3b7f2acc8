//! Enrolling a device (`POST /v1/cert/create`): the user's CSR proves possession of its key, the
//! HSM CA certifies the key for the user the ID provider vouched for, under a pseudonym the user
//! chose or esignd made, and the certificate is stored and published. [`Devices::certify`] is
//! shared with wallet binding: a key already certified for another person is refused.

use std::time::SystemTime;

use der::Encode;

use super::csr::{check_csr, read_csr};
use super::{DeviceCertificate, DeviceError, Devices};
use crate::hsm::HashAlgorithm;
use crate::identity::Identity;
use crate::service::ServiceError;
use crate::store::devices::{DeviceCertificateRow, key_digest};
use crate::vocabulary::CertificateState;

/// GovStack's `SCDType` values.
pub const SCD_TYPES: [&str; 6] = [
    "REMOTE_SCD_APP_APPLE",
    "REMOTE_SCD_APP_ANDROID",
    "REMOTE_SCD_APP_SE_APPLE",
    "REMOTE_SCD_APP_SE_ANDROID",
    "REMOTE_SCD_SIM",
    "REMOTE_SCD_ESIM",
];

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

/// Where a certified key lives: its pseudonym and GovStack's SCD fields.
pub(super) struct Placement {
    pub pseudonym: String,
    pub scd_type: String,
    pub scd_remote_id: String,
    pub scd_key_id: i64,
}

impl Devices {
    /// Certify the key in `enrolment`'s CSR for `identity`, store and publish the certificate.
    ///
    /// # Errors
    /// [`DeviceError::Csr`], [`DeviceError::Invalid`], [`DeviceError::PseudonymTaken`],
    /// [`DeviceError::DuplicateKey`]; HSM and store failures.
    pub async fn enrol(&self, identity: Identity, enrolment: Enrolment) -> Result<DeviceCertificate, ServiceError> {
        if !SCD_TYPES.contains(&enrolment.scd_type.as_str()) {
            return Err(DeviceError::Invalid(format!("SCDType must be one of {}", SCD_TYPES.join(", "))).into());
        }
        if enrolment.scd_remote_id.is_empty() || enrolment.scd_remote_id.len() > 512 {
            return Err(DeviceError::Invalid("SCDRemoteId must have 1 to 512 characters".into()).into());
        }
        if enrolment.scd_key_id < 0 {
            return Err(DeviceError::Invalid("SCDKeyId must be a non-negative integer".into()).into());
        }
        let pseudonym = match enrolment.pseudonym {
            Some(chosen) => check_pseudonym(&chosen)?,
            None => new_pseudonym(),
        };
        if self.core.store.device_by_pseudonym(&pseudonym).await?.is_some() {
            return Err(DeviceError::PseudonymTaken(pseudonym).into());
        }
        let key = read_csr(&enrolment.csr).and_then(|csr| check_csr(&csr)).map_err(DeviceError::from)?;
        let placement = Placement {
            pseudonym: pseudonym.clone(),
            scd_type: enrolment.scd_type,
            scd_remote_id: enrolment.scd_remote_id,
            scd_key_id: enrolment.scd_key_id,
        };
        let row = self.certify(identity, key, placement).await?;
        let subject = self.core.engine.subject_hash(&row.owner).await?;
        let created = crate::service::audit_events::device_certificate(&row, &subject, "enrolled", &[]);
        if !self.core.store.add_device_certificate(&row, &[created]).await? {
            return Err(DeviceError::PseudonymTaken(pseudonym).into());
        }
        tracing::info!(serial = %row.serial, certificate_id = %row.certificate_id, "device certificate issued");
        DeviceCertificate::of(&row, SystemTime::now())
    }

    /// Certify `key` for `identity` as `placement` says: the row to store (nothing is stored
    /// yet).
    ///
    /// # Errors
    /// [`DeviceError::DuplicateKey`] when the key is certified for another person; HSM and
    /// store failures.
    pub(super) async fn certify(
        &self,
        identity: Identity,
        key: spki::SubjectPublicKeyInfoOwned,
        placement: Placement,
    ) -> Result<DeviceCertificateRow, ServiceError> {
        let owner = identity.subject_id().to_owned();
        let key_sha256 = key_digest(&key);
        if self.core.store.device_certificates_by_key(&key_sha256).await?.iter().any(|row| row.owner != owner) {
            return Err(DeviceError::DuplicateKey.into());
        }
        let certificate = self.core.engine.issue_device_certificate(identity, key).await?;
        let der = certificate.to_der().map_err(|e| ServiceError::damaged("device certificate", e))?;
        let tbs = certificate.tbs_certificate();
        Ok(DeviceCertificateRow {
            certificate_id: hex::encode(HashAlgorithm::Sha256.digest(&der)),
            owner,
            pseudonym: placement.pseudonym,
            serial: hex::encode(tbs.serial_number().as_bytes()),
            der,
            state: CertificateState::Active,
            state_message: None,
            changed_at: SystemTime::now(),
            not_after: tbs.validity().not_after.to_system_time(),
            scd_type: placement.scd_type,
            scd_remote_id: placement.scd_remote_id,
            scd_key_id: placement.scd_key_id,
            key_sha256,
        })
    }
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
