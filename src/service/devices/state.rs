//! A device certificate's state change (`PATCH /v1/cert/{certificateId}`) by its owner: the
//! transition must be one the spec allows ([`super::lifecycle`]); the CRL that reflects it is
//! signed first and stored with the change in one transaction, or neither is; and the requests
//! waiting for a device that can no longer sign end now, their eServices told.

use std::time::SystemTime;

use super::crl::{withheld, withheld_entry};
use super::lifecycle::{Action, transition};
use super::{DeviceCertificate, DeviceError, Devices};
use crate::service::ServiceError;
use crate::store::devices::StateChange;
use crate::vocabulary::{CertificateState, CertificateStatus};

impl Devices {
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
    ) -> Result<DeviceCertificate, ServiceError> {
        let store = &self.core.store;
        let row = store
            .device_certificate(certificate_id)
            .await?
            .filter(|row| row.owner == owner)
            .ok_or(DeviceError::NotFound)?;
        let from = row.state;
        let now = SystemTime::now();
        let to = transition(from, row.not_after < now, action).map_err(DeviceError::from)?;
        let crl = {
            let _one_crl_at_a_time = self.crl.lock().await;
            let mut listed = withheld(&self.core, now, Some(&row.certificate_id)).await?;
            if to != CertificateState::Active {
                let mut changed = row.clone();
                changed.state = to;
                changed.changed_at = now;
                listed.push(withheld_entry(&changed)?);
            }
            let installed = store.crl().await?;
            let crl = self.crl.sign(&self.core, installed.as_ref(), listed).await?;
            let change = StateChange { from, to, message: message.as_deref(), at: now };
            if !store.change_device_state(&row.certificate_id, change, &crl).await? {
                return Err(DeviceError::Raced.into());
            }
            crl
        };
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
