//! What the store keeps for the device model (DESIGN §7): device certificates with their owner,
//! pseudonym and lifecycle state, the CA's current CRL, and secrets such as the walletUserId salt.
//!
//! A pseudonym names one live (not revoked) certificate at a time, and only one owner's
//! certificates: a wallet bound again keeps its walletUserId while the old certificate is revoked.

use std::time::SystemTime;

use super::{AuditEvent, StoreError};
use crate::vocabulary::CertificateState;

/// A certificate issued for the key on a user's own device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCertificateRow {
    /// SHA-256 of the certificate's DER, hex (GovStack `certificateId`).
    pub certificate_id: String,
    /// Who it belongs to: the ID provider's subject for the user.
    pub owner: String,
    /// The user's pseudonym (unique).
    pub pseudonym: String,
    /// The certificate's serial, hex.
    pub serial: String,
    /// The certificate.
    pub der: Vec<u8>,
    /// Its lifecycle state.
    pub state: CertificateState,
    /// The owner's reason for the last change.
    pub state_message: Option<String>,
    /// When it was issued or last changed state.
    pub changed_at: SystemTime,
    /// Its notAfter.
    pub not_after: SystemTime,
    /// GovStack `SCDType`.
    pub scd_type: String,
    /// GovStack `SCDRemoteId`.
    pub scd_remote_id: String,
    /// GovStack `SCDKeyId`.
    pub scd_key_id: i64,
    /// SHA-256 of the certified SubjectPublicKeyInfo, hex ([`key_digest`]).
    pub key_sha256: String,
}

/// SHA-256 of a public key's DER SubjectPublicKeyInfo, hex: how the store finds a key bound twice.
pub fn key_digest(key: &spki::SubjectPublicKeyInfoOwned) -> String {
    let der = der::Encode::to_der(key).expect("a decoded public key encodes");
    hex::encode(crate::hsm::HashAlgorithm::Sha256.digest(&der))
}

/// [`key_digest`] of a certificate's key; `None` for DER that is not a certificate.
pub fn key_digest_of_certificate(der: &[u8]) -> Option<String> {
    let certificate = <x509_cert::Certificate as der::Decode>::from_der(der).ok()?;
    Some(key_digest(certificate.tbs_certificate().subject_public_key_info()))
}

/// A wallet binding to store: the new certificate, and the owner's earlier live certificates
/// under the same walletUserId, revoked as of `at` by `crl` (which already lists them).
#[derive(Clone, Debug)]
pub struct Binding {
    /// The new certificate (its pseudonym is the walletUserId).
    pub row: DeviceCertificateRow,
    /// The certificates it replaces.
    pub replaces: Vec<String>,
    /// When they were revoked.
    pub at: SystemTime,
    /// The CRL listing them, when there are any.
    pub crl: Option<CrlRow>,
}

/// A state change of a device certificate.
#[derive(Clone, Copy, Debug)]
pub struct StateChange<'a> {
    /// The state it must be in.
    pub from: CertificateState,
    /// The state it goes to.
    pub to: CertificateState,
    /// The owner's reason.
    pub message: Option<&'a str>,
    /// When (the CRL's revocationDate for it).
    pub at: SystemTime,
}

/// A signed CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlRow {
    /// Its cRLNumber.
    pub number: u64,
    /// The DER CertificateList.
    pub der: Vec<u8>,
    /// Its nextUpdate.
    pub next_update: SystemTime,
}

/// Device certificates and the CRL.
#[async_trait::async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Store (and publish under its serial) a new device certificate; `false`, with nothing
    /// written, when its pseudonym is taken.
    async fn add_device_certificate(
        &self,
        row: &DeviceCertificateRow,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError>;

    /// A device certificate by `certificateId`.
    async fn device_certificate(&self, certificate_id: &str) -> Result<Option<DeviceCertificateRow>, StoreError>;

    /// Every device certificate of `owner`, oldest first.
    async fn device_certificates(&self, owner: &str) -> Result<Vec<DeviceCertificateRow>, StoreError>;

    /// The device certificate behind `pseudonym`: the live one, or the newest when all are revoked.
    async fn device_by_pseudonym(&self, pseudonym: &str) -> Result<Option<DeviceCertificateRow>, StoreError>;

    /// Suspended and revoked certificates not yet expired at `now` (what the CRL lists).
    async fn withheld_certificates(&self, now: SystemTime) -> Result<Vec<DeviceCertificateRow>, StoreError>;

    /// In one transaction: move a certificate from state `from` to `to` as of `at` and install
    /// `crl` (which already lists the new state, dated `at`). `false`, with nothing written, when
    /// the certificate was no longer in `from` or a CRL with a higher number was installed
    /// meanwhile.
    async fn change_device_state(
        &self,
        certificate_id: &str,
        change: StateChange<'_>,
        crl: &CrlRow,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError>;

    /// Install `crl` unless one with a number at least as high is installed; `false` then.
    async fn install_crl(&self, crl: &CrlRow) -> Result<bool, StoreError>;

    /// The installed CRL.
    async fn crl(&self) -> Result<Option<CrlRow>, StoreError>;

    /// Live (not revoked) certificates of the key with [`key_digest`] `key_sha256`.
    async fn device_certificates_by_key(&self, key_sha256: &str) -> Result<Vec<DeviceCertificateRow>, StoreError>;

    /// In one transaction: revoke `binding.replaces` (if still live), store and publish the new
    /// certificate, install the CRL. `false`, with nothing written, when the pseudonym belongs to
    /// another owner, a replaced certificate moved meanwhile, or the CRL lost a race.
    async fn bind_device(&self, binding: &Binding, events: &[AuditEvent]) -> Result<bool, StoreError>;

    /// The secret `name` (32 random bytes), made and stored on first use.
    async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError>;
}
