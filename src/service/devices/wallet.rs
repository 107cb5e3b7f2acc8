//! Wallet binding with MOSIP e-Signet's semantics (`POST /binding/wallet-binding`; the envelope
//! rules are in [`super::binding`]): the ID-provider token must name the individual the
//! envelope names; the key is certified under the person's walletUserId for the partner; the
//! certificates it replaces are revoked, listed on a new CRL and their waiting requests ended —
//! the binding, the revocations and the CRL in one store transaction.

use std::time::SystemTime;

use spki::SubjectPublicKeyInfoOwned;

use super::binding::{BindingCode, BindingError, Checked, wallet_user_id};
use super::crl::{withheld, withheld_entry};
use super::enrol::{Placement, WALLET_SCD_TYPE};
use super::{DeviceCertificate, DeviceError, Devices};
use crate::ca::crl::Withheld;
use crate::identity::Identity;
use crate::service::ServiceError;
use crate::store::devices::{Binding, CrlRow, DeviceCertificateRow};
use crate::vocabulary::{CertificateState, CertificateStatus};

/// The store secret walletUserIds are derived with.
const WALLET_USER_ID_SALT: &str = "wallet-user-id-salt";

impl Devices {
    /// Bind the checked envelope's key as `identity`'s wallet through `partner_id`; `identity`
    /// must be the individual the envelope names. Refusals carry e-Signet's codes.
    ///
    /// # Errors
    /// [`BindingError`] (`invalid_auth_challenge`, `duplicate_public_key`,
    /// `key_binding_failed`); HSM and store failures.
    pub async fn bind(
        &self,
        identity: Identity,
        partner_id: &str,
        checked: Checked,
    ) -> Result<DeviceCertificate, ServiceError> {
        if identity.subject_id() != checked.individual_id {
            let names_another = "the IDT challenge names another individual than individualId";
            return Err(BindingError::new(BindingCode::InvalidAuthChallenge, names_another).into());
        }
        let row = match self.bind_key(identity, partner_id, checked.key).await {
            Err(ServiceError::Device(e @ DeviceError::DuplicateKey)) => {
                return Err(BindingError::new(BindingCode::DuplicatePublicKey, e.to_string()).into());
            }
            Err(ServiceError::Device(e @ DeviceError::Raced)) => {
                return Err(BindingError::new(BindingCode::KeyBindingFailed, e.to_string()).into());
            }
            other => other?,
        };
        DeviceCertificate::of(&row, SystemTime::now())
    }

    /// Certify `key` under the person's walletUserId, revoking the certificates it replaces.
    async fn bind_key(
        &self,
        identity: Identity,
        partner_id: &str,
        key: SubjectPublicKeyInfoOwned,
    ) -> Result<DeviceCertificateRow, ServiceError> {
        let store = &self.core.store;
        let owner = identity.subject_id().to_owned();
        let salt = store.secret(WALLET_USER_ID_SALT).await?;
        let wallet_user_id = wallet_user_id(&salt, partner_id, &owner);
        let placement = Placement {
            pseudonym: wallet_user_id.clone(),
            scd_type: WALLET_SCD_TYPE.to_owned(),
            scd_remote_id: partner_id.to_owned(),
            scd_key_id: 0,
        };
        let row = self.certify(identity, key, placement).await?;
        let subject = self.core.engine.subject_hash(&owner).await?;
        let now = row.changed_at;
        let replaces: Vec<String> = {
            let _one_crl_at_a_time = self.crl.lock().await;
            let replaced: Vec<DeviceCertificateRow> = store
                .device_certificates(&owner)
                .await?
                .into_iter()
                .filter(|old| old.pseudonym == wallet_user_id && old.state != CertificateState::Revoked)
                .collect();
            let crl = if replaced.is_empty() { None } else { Some(self.revoking(&replaced, now).await?) };
            let replaces: Vec<String> = replaced.iter().map(|old| old.certificate_id.clone()).collect();
            let binding = Binding { row: row.clone(), replaces: replaces.clone(), at: now, crl };
            let bound = crate::service::audit_events::device_certificate(&row, &subject, "wallet", &replaces);
            if !store.bind_device(&binding, &[bound]).await? {
                return Err(DeviceError::Raced.into());
            }
            replaces
        };
        tracing::info!(serial = %row.serial, replaced = replaces.len(), "wallet bound");
        for old in &replaces {
            self.requests.withdraw(old, CertificateStatus::Revoked).await?;
        }
        Ok(row)
    }

    /// The CRL that lists `replaced` as revoked at `now` (the caller holds the CRL lock).
    async fn revoking(&self, replaced: &[DeviceCertificateRow], now: SystemTime) -> Result<CrlRow, ServiceError> {
        let mut listed: Vec<Withheld> = withheld(&self.core, now, None)
            .await?
            .into_iter()
            .filter(|entry| !replaced.iter().any(|old| old.serial == hex::encode(&entry.serial)))
            .collect();
        for old in replaced {
            let mut revoked = old.clone();
            revoked.state = CertificateState::Revoked;
            revoked.changed_at = now;
            listed.push(withheld_entry(&revoked)?);
        }
        let installed = self.core.store.crl().await?;
        self.crl.sign(&self.core, installed.as_ref(), listed).await
    }
}
