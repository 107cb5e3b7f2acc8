//! The engine's part in the audit trail (`docs/audit.md`): a citizen's subject id appears in
//! the audit only as HMAC-SHA256 under the token's audit subject key, and checkpoints of the
//! chain are signed by the audit key and time-stamped by the TSA in use. Both keys stay in the
//! HSM; neither is used for anything else.

use std::sync::Arc;
use std::time::SystemTime;

use super::{EngineError, SigningEngine, Timestamper};
use crate::hsm::{HashAlgorithm, KeySession, KeyStore, SignatureScheme};
use crate::preflight::Inventory;
use crate::tsa::builtin::sha256_imprint;

/// A checkpoint's proofs over its message: the audit key's signature (DER, as `openssl dgst
/// -verify` takes it) and an RFC 3161 time-stamp token over the same bytes.
#[derive(Clone, Debug)]
pub struct CheckpointProof {
    /// The audit key's signature over the message (SHA-256).
    pub signature: Vec<u8>,
    /// A TimeStampToken (DER) whose imprint is SHA-256 of the message.
    pub timestamp_token: Vec<u8>,
}

impl<K: KeyStore> SigningEngine<K> {
    /// `subject_id` as the audit shows it, in an open session: HMAC-SHA256 under the audit
    /// subject key, hex.
    pub(super) fn subject_hash_in(
        &self,
        session: &K::Session,
        inventory: &Inventory<K::Session>,
        subject_id: &str,
    ) -> Result<String, EngineError> {
        Ok(hex::encode(session.hmac_sha256(&inventory.audit_subject, subject_id.as_bytes())?))
    }

    /// `subject_id` as the audit shows it. The subject key's handle is the one start-up found;
    /// if the token says it went stale (the key was replaced), the keys are looked up again.
    ///
    /// # Errors
    /// HSM errors and deadlines.
    pub async fn subject_hash(self: &Arc<Self>, subject_id: String) -> Result<String, EngineError> {
        let service = Arc::clone(self);
        self.hsm
            .with_session(move |session| match service.subject_hash_in(session, &service.inventory(), &subject_id) {
                Err(e) if e.is_stale_handle() => {
                    tracing::warn!(error = %e, "the audit subject key's handle went stale; looking the keys up again");
                    service.refresh_inventory(session)?;
                    service.subject_hash_in(session, &service.inventory(), &subject_id)
                }
                other => other,
            })
            .await
    }

    /// Sign `message` with the audit key and time-stamp it.
    ///
    /// # Errors
    /// HSM and TSA failures.
    pub async fn prove_checkpoint(self: &Arc<Self>, message: Vec<u8>) -> Result<CheckpointProof, EngineError> {
        let service = Arc::clone(self);
        let data = message.clone();
        let (signature, builtin_token) = self
            .hsm
            .with_session(move |session| {
                let inventory = service.inventory();
                let key = &inventory.audit_key;
                let scheme = if key.algorithm().is_rsa() {
                    SignatureScheme::RsaPkcs1v15(HashAlgorithm::Sha256)
                } else {
                    SignatureScheme::Ecdsa(HashAlgorithm::Sha256)
                };
                let signature = session.sign_digest(key, scheme, &HashAlgorithm::Sha256.digest(&data))?;
                let token = match &service.timestamper {
                    Timestamper::Builtin(tsa) => Some(tsa.stamp(
                        session,
                        &inventory.tsa_key,
                        sha256_imprint(&data)?,
                        None,
                        true,
                        SystemTime::now(),
                    )?),
                    Timestamper::External(_) => None,
                };
                Ok::<_, EngineError>((signature, token))
            })
            .await?;
        let timestamp_token = match (builtin_token, &self.timestamper) {
            (Some(token), _) => token,
            (None, Timestamper::External(client)) => client.timestamp(&message).await?.token,
            (None, Timestamper::Builtin(_)) => unreachable!("the built-in TSA stamped in the session"),
        };
        Ok(CheckpointProof { signature, timestamp_token })
    }

    /// The audit key's public key.
    pub fn audit_public_key(&self) -> spki::SubjectPublicKeyInfoOwned {
        self.inventory().audit_key.public_key().clone()
    }
}
