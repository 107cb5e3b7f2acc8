//! What a device's owner asks, proving who they are with their ID-provider token
//! (`X-GovStack-AuthenticationToken`): enrol a device (`POST /v1/cert/create`), list their
//! certificates (`GET /v1/cert/list`) and change one's state (`PATCH /v1/cert/{id}`); and what a
//! wallet-binding partner asks on a wallet's behalf (`POST /binding/wallet-binding`), where the
//! token is the envelope's `IDT` challenge.

use std::time::SystemTime;

use super::devices::binding::{BindingCode, BindingError, Envelope, check_envelope};
use super::devices::lifecycle::Action;
use super::devices::{DeviceCertificate, Enrolment};
use super::{EsignService, ServiceError};
use crate::vocabulary::CertificateStatus;

impl EsignService {
    /// Enrol a device for the user behind `access_token`, paid by `payment_token` when payment
    /// is required.
    ///
    /// # Errors
    /// Identity and payment; a CSR or field that is not accepted; a taken pseudonym or key; HSM
    /// and store failures.
    pub async fn enrol_device(
        &self,
        access_token: &str,
        payment_token: Option<&str>,
        enrolment: Enrolment,
    ) -> Result<DeviceCertificate, ServiceError> {
        let identity = self.identity.identify(access_token).await?;
        self.payment.check(self.core.store.as_ref(), payment_token).await?;
        self.devices.enrol(identity, enrolment).await
    }

    /// The user's device certificates, those in `filter` only when given.
    ///
    /// # Errors
    /// Identity; store failures.
    pub async fn list_devices(
        &self,
        access_token: &str,
        filter: Option<CertificateStatus>,
    ) -> Result<Vec<DeviceCertificate>, ServiceError> {
        let identity = self.identity.identify(access_token).await?;
        let all = self.devices.list(identity.subject_id()).await?;
        Ok(all.into_iter().filter(|c| filter.is_none_or(|wanted| c.status == wanted)).collect())
    }

    /// Apply `action` to the user's certificate `certificate_id`; requests waiting for a
    /// device that can no longer sign end, and their eServices are told.
    ///
    /// # Errors
    /// Identity; another user's or an unknown certificate; a transition the spec does not
    /// allow; a race with another change; HSM and store failures.
    pub async fn change_device(
        &self,
        access_token: &str,
        certificate_id: &str,
        action: Action,
        message: Option<String>,
    ) -> Result<DeviceCertificate, ServiceError> {
        let identity = self.identity.identify(access_token).await?;
        self.devices.change(identity.subject_id(), certificate_id, action, message).await
    }

    /// Bind a wallet for the partner `partner_id` (authenticated by `partner_key`). Refusals
    /// e-Signet names carry its codes ([`ServiceError::binding_refusal`]).
    ///
    /// # Errors
    /// The partner; [`BindingError`]s; ID-provider, HSM and store outages.
    pub async fn bind_wallet(
        &self,
        partner_id: &str,
        partner_key: &str,
        envelope: Envelope,
    ) -> Result<DeviceCertificate, ServiceError> {
        let partner = self.callers.partner(partner_id, partner_key)?;
        let checked = check_envelope(envelope, SystemTime::now())?;
        let identity = match self.identity.identify(&checked.id_token).await {
            Ok(identity) => identity,
            Err(e) if e.is_callers_fault() => {
                let refused = format!("the IDT challenge was not accepted: {e}");
                return Err(BindingError::new(BindingCode::InvalidChallenge, refused).into());
            }
            Err(e) => return Err(e.into()),
        };
        self.devices.bind(identity, &partner.id, checked).await
    }
}
