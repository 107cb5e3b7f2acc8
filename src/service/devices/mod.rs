//! Signing with the user's own device (DESIGN §7, GovStack's SCD model): a device's key is
//! certified once by the HSM CA ([`enrol`], by CSR; [`wallet`], by e-Signet wallet binding), the
//! certificate lives through the GovStack states ([`lifecycle`], [`state`]) and is withdrawn by a
//! CRL signed in the HSM ([`crl`]). A device proves itself with a JWT signed by its key
//! ([`device_jwt`]); eServices name it by a pseudonym token ([`pseudonym_token`]).

pub mod binding;
mod crl;
pub mod csr;
pub mod device_jwt;
mod enrol;
pub mod lifecycle;
pub mod pseudonym_token;
mod state;
mod wallet;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use der::{Decode, EncodePem};
use x509_cert::Certificate;

pub use enrol::{Enrolment, SCD_TYPES, WALLET_SCD_TYPE};

use super::ErrorKind;
use super::ServiceError;
use super::core::Core;
use super::device_requests::DeviceRequests;
use crate::store::devices::DeviceCertificateRow;
use crate::vocabulary::CertificateStatus;

/// Why a device operation did not happen. Nothing is stored when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The CSR is unusable.
    #[error(transparent)]
    Csr(#[from] csr::CsrError),
    /// A field is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The pseudonym belongs to someone else's device.
    #[error("the pseudonym {0:?} is taken; choose another or leave it out to get one")]
    PseudonymTaken(String),
    /// The key is certified for another person already.
    #[error("this public key is already bound to another person; generate a new key on the device")]
    DuplicateKey,
    /// No such certificate for this user.
    #[error("no device certificate with this certificateId for this user")]
    NotFound,
    /// The state change is not one the spec allows.
    #[error(transparent)]
    Transition(#[from] lifecycle::TransitionError),
    /// Another request changed the certificate first.
    #[error("the certificate changed while this request ran; read it again and retry")]
    Raced,
    /// No device is enrolled under the pseudonym.
    #[error("no device is enrolled under this pseudonym")]
    UnknownPseudonym,
    /// The device's certificate cannot sign.
    #[error("the device certificate behind this pseudonym is {0}; only an ACTIVE certificate can sign")]
    Unfit(CertificateStatus),
    /// The pseudonym token is not acceptable.
    #[error(transparent)]
    PseudonymToken(#[from] pseudonym_token::PseudonymTokenError),
    /// Reactivation or revocation without a fresh login or the device's word.
    #[error(
        "reactivating or revoking a device certificate needs a fresh login (an access token whose auth_time is \
         within identity.max_age_secs) or deviceProof: a device JWT for this change signed by the certificate's key"
    )]
    FreshLoginNeeded,
    /// The device proof is for another certificate or change.
    #[error("deviceProof is not the device's word for this change: it must name this certificate and action")]
    ProofNotForThis,
}

impl DeviceError {
    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Csr(_) | Self::Invalid(_) => ErrorKind::Invalid,
            Self::PseudonymTaken(_) | Self::DuplicateKey | Self::Raced | Self::Unfit(_) => ErrorKind::Conflict,
            Self::NotFound | Self::UnknownPseudonym => ErrorKind::NotFound,
            Self::Transition(_) => ErrorKind::Unprocessable,
            Self::PseudonymToken(_) | Self::FreshLoginNeeded | Self::ProofNotForThis => ErrorKind::Unauthorized,
        }
    }
}

/// A device certificate as its owner sees it.
#[derive(Clone, Debug)]
pub struct DeviceCertificate {
    /// SHA-256 of its DER, hex (GovStack `certificateId`).
    pub certificate_id: String,
    /// The pseudonym it signs under (a walletUserId for bound wallets).
    pub pseudonym: String,
    /// The certificate, PEM.
    pub pem: String,
    /// How it stands now.
    pub status: CertificateStatus,
    /// When it was issued or last changed state.
    pub changed_at: SystemTime,
    /// The owner's reason for the last change.
    pub reason: Option<String>,
    /// Its notAfter.
    pub not_after: SystemTime,
}

impl DeviceCertificate {
    /// The view of a stored certificate at `now`.
    ///
    /// # Errors
    /// A stored certificate that does not decode.
    pub(crate) fn of(row: &DeviceCertificateRow, now: SystemTime) -> Result<Self, ServiceError> {
        let pem = Certificate::from_der(&row.der)
            .and_then(|c| c.to_pem(der::pem::LineEnding::LF))
            .map_err(|e| ServiceError::damaged("certificate", e))?;
        Ok(Self {
            certificate_id: row.certificate_id.clone(),
            pseudonym: row.pseudonym.clone(),
            pem,
            status: status_now(row, now),
            changed_at: row.changed_at,
            reason: row.state_message.clone(),
            not_after: row.not_after,
        })
    }
}

/// How a certificate stands at `now`: its stored state, or EXPIRED past notAfter.
pub fn status_now(row: &DeviceCertificateRow, now: SystemTime) -> CertificateStatus {
    CertificateStatus::at(row.state, row.not_after, now)
}

/// The devices workflow.
pub(crate) struct Devices {
    core: Arc<Core>,
    requests: Arc<DeviceRequests>,
    crl: crl::CrlKeeper,
}

impl Devices {
    /// Devices whose CRLs are valid `crl_validity`; state changes withdraw their `requests`.
    pub fn new(core: Arc<Core>, requests: Arc<DeviceRequests>, crl_validity: Duration) -> Self {
        Self { core, requests, crl: crl::CrlKeeper::new(crl_validity) }
    }

    /// The live device certificate behind `pseudonym`, which must be ACTIVE to sign.
    ///
    /// # Errors
    /// [`DeviceError::UnknownPseudonym`], [`DeviceError::Unfit`]; store failures.
    pub async fn signer(&self, pseudonym: &str) -> Result<DeviceCertificateRow, ServiceError> {
        let row = self.core.store.device_by_pseudonym(pseudonym).await?.ok_or(DeviceError::UnknownPseudonym)?;
        match status_now(&row, SystemTime::now()) {
            CertificateStatus::Active => Ok(row),
            other => Err(DeviceError::Unfit(other).into()),
        }
    }

    /// The device whose JWT `bearer` is (see [`device_jwt`]).
    ///
    /// # Errors
    /// [`device_jwt::DeviceAuthError`]; store failures.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<DeviceCertificateRow, ServiceError> {
        let token = bearer.ok_or(device_jwt::DeviceAuthError::Missing)?;
        let audience = device_jwt::audience(&self.core.public_url);
        device_jwt::authenticate(self.core.store.as_ref(), token, &audience, SystemTime::now()).await
    }

    /// `owner`'s device certificates, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list(&self, owner: &str) -> Result<Vec<DeviceCertificate>, ServiceError> {
        let now = SystemTime::now();
        self.core.store.device_certificates(owner).await?.iter().map(|row| DeviceCertificate::of(row, now)).collect()
    }

    /// The current CRL (DER), signing a new one first when none exists or half of the last
    /// one's validity has passed.
    ///
    /// # Errors
    /// HSM and store failures.
    pub async fn crl(&self) -> Result<Vec<u8>, ServiceError> {
        self.crl.current(&self.core).await
    }
}
