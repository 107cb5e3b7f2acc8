//! [`Engine`]: what the workflows above may ask of the signing engine, whatever key store is
//! behind it. The daemon's engine runs on PKCS#11, the in-process tests' and the benches' on the
//! in-memory store; sessions, devices and the façade hold an `Arc<dyn Engine>` and never name
//! the key store. This is where the `KeyStore` type parameter stops.

use std::sync::Arc;
use std::time::Duration;

use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use super::{
    CheckpointProof, DeviceSignature, EngineError, OneTimeRequest, SignatureRecord, SigningEngine, TsaQuery,
    TsaReadiness,
};
use crate::ca::crl::Withheld;
use crate::hsm::{KeyStore, TokenStatus};
use crate::identity::Identity;

/// The signing engine's operations.
#[async_trait::async_trait]
pub trait Engine: Send + Sync {
    /// The one-time transaction (DESIGN §3): key, certificate, signature, destruction,
    /// time-stamp, checks.
    ///
    /// # Errors
    /// HSM, CA, CMS and TSA failures; a broken rule of the final check.
    async fn sign_one_time(&self, request: OneTimeRequest) -> Result<SignatureRecord, EngineError>;

    /// Verify a device's signature and finish it as CAdES B-T, checked.
    ///
    /// # Errors
    /// [`EngineError::DeviceSignature`] when it does not verify; TSA, HSM and CMS failures.
    async fn finish_device_signature(&self, answer: DeviceSignature) -> Result<SignatureRecord, EngineError>;

    /// Certify a key on a user's own device.
    ///
    /// # Errors
    /// HSM and encoding failures.
    async fn issue_device_certificate(
        &self,
        identity: Identity,
        key: SubjectPublicKeyInfoOwned,
    ) -> Result<Certificate, EngineError>;

    /// Sign CRL number `number` listing `withheld`, valid from now for `validity`.
    ///
    /// # Errors
    /// HSM and encoding failures.
    async fn sign_crl(&self, number: u64, withheld: Vec<Withheld>, validity: Duration) -> Result<Vec<u8>, EngineError>;

    /// A compact ES256 JWS over `payload` by the HSM service key.
    ///
    /// # Errors
    /// HSM failures.
    async fn sign_jws(&self, typ: &str, payload: Vec<u8>) -> Result<String, EngineError>;

    /// Read a DER TimeStampReq for the built-in TSA, without HSM work: the query to stamp, or
    /// the DER TimeStampResp refusing it; `None` when time-stamps come from external TSAs.
    fn read_tsa_query(&self, request: &[u8]) -> Option<Result<TsaQuery, Vec<u8>>>;

    /// The built-in TSA's DER TimeStampResp to a query it read.
    ///
    /// # Errors
    /// When no HSM session is available within the deadline.
    async fn respond_tsa(&self, query: TsaQuery) -> Result<Vec<u8>, EngineError>;

    /// Whether esignd runs its own TSA (`POST /tsa` is served).
    fn runs_tsa(&self) -> bool;

    /// Whether time-stamps can be had now.
    async fn tsa_readiness(&self) -> TsaReadiness;

    /// The token's identity and login state.
    ///
    /// # Errors
    /// When no logged-in session can be had within the deadline.
    async fn hsm_status(&self) -> Result<TokenStatus, EngineError>;

    /// The CA chain, CA certificate first.
    fn ca_chain(&self) -> &[Certificate];

    /// The service key's public key (session tokens, webhooks, pseudonym tokens).
    fn service_public_key(&self) -> SubjectPublicKeyInfoOwned;

    /// One line per persistent key for the start-up log: labels and fingerprints only.
    fn key_summary(&self) -> Vec<(String, String)>;

    /// A citizen's subject id as the audit shows it (HMAC-SHA256 in the HSM, hex).
    ///
    /// # Errors
    /// HSM failures.
    async fn subject_hash(&self, subject_id: &str) -> Result<String, EngineError>;

    /// The audit key's signature and a time-stamp over a checkpoint's message.
    ///
    /// # Errors
    /// HSM and TSA failures.
    async fn prove_checkpoint(&self, message: Vec<u8>) -> Result<CheckpointProof, EngineError>;

    /// The audit key's public key (what checkpoints verify with).
    fn audit_public_key(&self) -> SubjectPublicKeyInfoOwned;

    /// How the HSM session pool is used.
    fn hsm_pool(&self) -> crate::hsm::blocking::PoolUse;

    /// How the one-time key pool stands; `None` without one.
    fn key_pool(&self) -> Option<crate::hsm::key_pool::KeyPoolUse>;
}

#[async_trait::async_trait]
impl<K: KeyStore> Engine for Arc<SigningEngine<K>> {
    async fn sign_one_time(&self, request: OneTimeRequest) -> Result<SignatureRecord, EngineError> {
        SigningEngine::sign_one_time(self, request).await
    }

    async fn finish_device_signature(&self, answer: DeviceSignature) -> Result<SignatureRecord, EngineError> {
        SigningEngine::finish_device_signature(self, answer).await
    }

    async fn issue_device_certificate(
        &self,
        identity: Identity,
        key: SubjectPublicKeyInfoOwned,
    ) -> Result<Certificate, EngineError> {
        SigningEngine::issue_device_certificate(self, identity, key).await
    }

    async fn sign_crl(&self, number: u64, withheld: Vec<Withheld>, validity: Duration) -> Result<Vec<u8>, EngineError> {
        SigningEngine::sign_crl(self, number, withheld, validity).await
    }

    async fn sign_jws(&self, typ: &str, payload: Vec<u8>) -> Result<String, EngineError> {
        SigningEngine::sign_jws(self, typ, payload).await
    }

    fn read_tsa_query(&self, request: &[u8]) -> Option<Result<TsaQuery, Vec<u8>>> {
        SigningEngine::read_tsa_query(self, request)
    }

    async fn respond_tsa(&self, query: TsaQuery) -> Result<Vec<u8>, EngineError> {
        SigningEngine::respond_tsa(self, query).await
    }

    fn runs_tsa(&self) -> bool {
        matches!(self.timestamper(), super::Timestamper::Builtin(_))
    }

    async fn tsa_readiness(&self) -> TsaReadiness {
        SigningEngine::tsa_readiness(self).await
    }

    async fn hsm_status(&self) -> Result<TokenStatus, EngineError> {
        Ok(self.hsm().status().await?)
    }

    fn ca_chain(&self) -> &[Certificate] {
        self.ca().chain()
    }

    fn service_public_key(&self) -> SubjectPublicKeyInfoOwned {
        SigningEngine::service_public_key(self)
    }

    fn key_summary(&self) -> Vec<(String, String)> {
        SigningEngine::key_summary(self)
    }

    async fn subject_hash(&self, subject_id: &str) -> Result<String, EngineError> {
        SigningEngine::subject_hash(self, subject_id.to_owned()).await
    }

    async fn prove_checkpoint(&self, message: Vec<u8>) -> Result<CheckpointProof, EngineError> {
        SigningEngine::prove_checkpoint(self, message).await
    }

    fn audit_public_key(&self) -> SubjectPublicKeyInfoOwned {
        SigningEngine::audit_public_key(self)
    }

    fn hsm_pool(&self) -> crate::hsm::blocking::PoolUse {
        self.hsm().pool_use()
    }

    fn key_pool(&self) -> Option<crate::hsm::key_pool::KeyPoolUse> {
        SigningEngine::key_pool(self)
    }
}
