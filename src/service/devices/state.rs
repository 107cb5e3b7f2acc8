//! A device certificate's state change (`PATCH /v1/cert/{certificateId}`) by its owner: the
//! transition must be one the spec allows ([`super::lifecycle`]); the CRL that reflects it is
//! signed first and stored with the change in one transaction, or neither is; and the requests
//! waiting for a device that can no longer sign end now, their eServices told. Reactivation
//! and revocation also need a fresh login or the device's own signed word
//! ([`Devices::check_change_proof`]); the façade decides which.

use std::time::SystemTime;

use super::crl::{withheld, withheld_entry};
use super::lifecycle::{Action, transition};
use super::{DeviceCertificate, DeviceError, Devices, device_jwt};
use crate::service::ServiceError;
use crate::store::devices::{DeviceCertificateRow, StateChange};
use crate::vocabulary::{CertificateState, CertificateStatus};

/// How many times a state change is signed again when other daemons keep installing CRLs first.
pub const CRL_ATTEMPTS: u32 = 3;

impl Devices {
    /// `owner`'s certificate `certificate_id`.
    ///
    /// # Errors
    /// [`DeviceError::NotFound`] (also for another user's certificate); store failures.
    pub async fn owned(&self, owner: &str, certificate_id: &str) -> Result<DeviceCertificateRow, ServiceError> {
        let row = self.core.store.device_certificate(certificate_id).await?;
        Ok(row.filter(|row| row.owner == owner).ok_or(DeviceError::NotFound)?)
    }

    /// Check `proof`: the device's own word (a device JWT for `{public_url}/v1/cert` with
    /// `action`) for `action` on `certificate_id`, signed by that certificate's key whatever its
    /// state; its `jti` is spent.
    ///
    /// # Errors
    /// [`device_jwt::DeviceAuthError`], [`DeviceError::ProofNotForThis`]; store failures.
    pub async fn check_change_proof(
        &self,
        proof: &str,
        certificate_id: &str,
        action: Action,
    ) -> Result<(), ServiceError> {
        let store = self.core.store.as_ref();
        let audience = device_jwt::change_audience(&self.core.public_url);
        let signed = device_jwt::verify(store, proof, &audience, SystemTime::now()).await?;
        let says = signed.claims.get("action").and_then(serde_json::Value::as_str);
        if signed.row.certificate_id != certificate_id || says != Some(action.code()) {
            return Err(DeviceError::ProofNotForThis.into());
        }
        signed.spend(store).await
    }

    /// Apply `action` to `owner`'s certificate `certificate_id`; returns it as it is now. A CRL
    /// installed meanwhile by another daemon is not the caller's problem: the change is signed
    /// again on top of it, up to [`CRL_ATTEMPTS`] times.
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
    ) -> Result<DeviceCertificate, ServiceError> {
        let store = &self.core.store;
        let row = self.owned(owner, certificate_id).await?;
        let from = row.state;
        let now = SystemTime::now();
        let to = transition(from, row.not_after < now, action).map_err(DeviceError::from)?;
        let subject = self.core.engine.subject_hash(&row.owner).await?;
        let one_crl_at_a_time = self.crl.lock().await;
        let mut attempt = 1;
        let crl = loop {
            // The installed CRL is read before what it must list: a change another daemon
            // commits after this read carries a CRL numbered at least as high as the one signed
            // here, so this one then loses the install and is signed again with it listed.
            let installed = store.crl().await?;
            let mut listed = withheld(&self.core, now, Some(&row.certificate_id)).await?;
            if to != CertificateState::Active {
                let mut changed = row.clone();
                changed.state = to;
                changed.changed_at = now;
                listed.push(withheld_entry(&changed)?);
            }
            let crl = self.crl.sign(&self.core, installed.as_ref(), listed).await?;
            let change = StateChange { from, to, message: message.as_deref(), at: now };
            let event = crate::service::audit_events::device_state(&row, &subject, to, crl.number);
            if store.change_device_state(&row.certificate_id, change, &crl, &[event]).await? {
                break crl;
            }
            // Either the certificate moved, or another daemon installed a CRL first.
            let still = store.device_certificate(&row.certificate_id).await?.is_some_and(|now| now.state == from);
            if !still || attempt == CRL_ATTEMPTS {
                return Err(DeviceError::Raced.into());
            }
            attempt += 1;
        };
        drop(one_crl_at_a_time);
        tracing::info!(serial = %row.serial, from = %from, to = %to, crl = crl.number, "device certificate state changed");
        let changed = store.device_certificate(&row.certificate_id).await?.ok_or(DeviceError::NotFound)?;
        let now = DeviceCertificate::of(&changed, SystemTime::now())?;
        if now.status != CertificateStatus::Active {
            // Requests waiting for this device end now, and their eServices are told.
            self.requests.withdraw(&now.certificate_id, now.status).await?;
        }
        Ok(now)
    }
}
