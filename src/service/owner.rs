//! What a device's owner asks, proving who they are with their ID-provider token
//! (`X-GovStack-AuthenticationToken`) for device management's own audience (`[devices]
//! audience`, never the signing one): enrol a device (`POST /v1/cert/create`), list their
//! certificates (`GET /v1/cert/list`) and change one's state (`PATCH /v1/cert/{id}`: suspending
//! takes any such token — safety first; reactivating and revoking need a fresh login or the
//! device's own signed word); and what a wallet-binding partner asks on a wallet's behalf
//! (`POST /binding/wallet-binding`), where the token is the envelope's `IDT` challenge.

use std::time::SystemTime;

use super::devices::binding::{BindingCode, BindingError, Envelope, check_envelope};
use super::devices::lifecycle::Action;
use super::devices::{DeviceCertificate, DeviceError, Enrolment};
use super::{CallerError, EsignService, ServiceError};
use crate::identity::access_token::Identified;
use crate::vocabulary::CertificateStatus;

/// How a wallet-binding partner proves who it is.
#[derive(Clone, Copy, Debug)]
pub enum PartnerCredential<'a> {
    /// `partner-api-key`.
    ApiKey(&'a str),
    /// `Authorization: Bearer`, a token the ID provider issued to the partner with the
    /// `wallet_binding` scope.
    Bearer(&'a str),
}

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
        let identity = self.device_owner(access_token).await?.identity;
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
        let identity = self.device_owner(access_token).await?.identity;
        let all = self.devices.list(identity.subject_id()).await?;
        Ok(all.into_iter().filter(|c| filter.is_none_or(|wanted| c.status == wanted)).collect())
    }

    /// Apply `action` to the user's certificate `certificate_id`; requests waiting for a
    /// device that can no longer sign end, and their eServices are told. Reactivating and
    /// revoking need a fresh login (`auth_time`) or `device_proof`, the device's signed word.
    ///
    /// # Errors
    /// Identity; neither a fresh login nor a good proof; another user's or an unknown
    /// certificate; a transition the spec does not allow; a race with another change; HSM and
    /// store failures.
    pub async fn change_device(
        &self,
        access_token: &str,
        certificate_id: &str,
        action: Action,
        message: Option<String>,
        device_proof: Option<&str>,
    ) -> Result<DeviceCertificate, ServiceError> {
        let owner = self.device_owner(access_token).await?;
        let owned = self.devices.owned(owner.identity.subject_id(), certificate_id).await?;
        if action != Action::Suspend && !self.identity.fresh(owner.auth_time) {
            let proof = device_proof.ok_or(DeviceError::FreshLoginNeeded)?;
            self.devices.check_change_proof(proof, &owned.certificate_id, action).await?;
        }
        self.devices.change(owner.identity.subject_id(), certificate_id, action, message).await
    }

    /// Who an access token for device management belongs to.
    async fn device_owner(&self, access_token: &str) -> Result<Identified, ServiceError> {
        Ok(self.identity.identify_for(access_token, &self.device_audience).await?)
    }

    /// Bind a wallet for the partner `partner_id`, authenticated by its API key or, as e-Signet
    /// lets partners, by a bearer token the ID provider issued to it with the `wallet_binding`
    /// scope (for `[devices] audience`). Refusals e-Signet names carry its codes
    /// ([`ServiceError::binding_refusal`]).
    ///
    /// # Errors
    /// The partner; [`BindingError`]s; ID-provider, HSM and store outages.
    pub async fn bind_wallet(
        &self,
        partner_id: &str,
        credential: PartnerCredential<'_>,
        envelope: Envelope,
    ) -> Result<DeviceCertificate, ServiceError> {
        let partner = match credential {
            PartnerCredential::ApiKey(key) => self.callers.partner(partner_id, key)?,
            PartnerCredential::Bearer(token) => {
                let partner = self.callers.partner_by_id(partner_id)?;
                let holder = self.identity.service_token(token, &self.device_audience, "wallet_binding").await?;
                if holder != partner.id {
                    return Err(CallerError::UnknownPartner.into());
                }
                partner
            }
        };
        let checked = check_envelope(envelope, &partner.id, SystemTime::now())?;
        let identity = match self.device_owner(&checked.id_token).await {
            Ok(owner) => owner.identity,
            Err(ServiceError::Auth(e)) if e.is_callers_fault() => {
                let refused = format!("the IDT challenge was not accepted: {e}");
                return Err(BindingError::new(BindingCode::InvalidChallenge, refused).into());
            }
            Err(e) => return Err(e),
        };
        self.devices.bind(identity, &partner.id, checked).await
    }
}
