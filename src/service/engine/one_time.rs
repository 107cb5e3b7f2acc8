//! The one-time signing transaction (DESIGN §3):
//!
//! 1. the request arrives checked: its [`Digest`] has its algorithm's length by construction;
//! 2. in one HSM session: generate the ephemeral key, issue its one-minute certificate with the
//!    CA key, sign the CAdES signed attributes, destroy the key;
//! 3. timestamp the signature value (built-in TSA in the same session, or external TSAs) and
//!    verify the result before returning ([`super::stamp`], [`super::checks`]).
//!
//! The ephemeral key is an [`crate::hsm::EphemeralKey`]: it is destroyed explicitly as soon as
//! it has signed, and by its guard on every other path.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use const_oid::db::rfc5911;
use x509_cert::Certificate;

use super::stamp::Signed;
use super::{EngineError, SignatureRecord, SigningEngine, Timestamper};
use crate::cms::assemble::{SignedMessage, Signer, cades_signed_attributes, to_be_signed};
use crate::config::WhenEmpty;
use crate::hsm::{EphemeralKey, HashAlgorithm, KeyAlgorithm, KeySession, KeyStore, SignatureScheme};
use crate::identity::Identity;
use crate::preflight::Inventory;
use crate::vocabulary::{Digest, Format};

/// What to sign, for whom.
#[derive(Clone, Debug)]
pub struct OneTimeRequest {
    /// The signer, as the ID provider vouched for them.
    pub identity: Identity,
    /// The document digest, computed by the eService.
    pub digest: Digest,
    /// CAdES or PAdES.
    pub format: Format,
}

impl<K: KeyStore> SigningEngine<K> {
    /// Run the whole one-time transaction.
    ///
    /// # Errors
    /// HSM, CA, CMS, TSA errors; a [`EngineError::Check`] naming the rule a finished signature
    /// broke (it is then not returned).
    pub async fn sign_one_time(self: &Arc<Self>, request: OneTimeRequest) -> Result<SignatureRecord, EngineError> {
        let started = Instant::now();
        let request = Arc::new(request);
        let result = match self.attempt(&request).await {
            Err(e) if e.is_stale_handle() => {
                tracing::warn!(error = %e, "a persistent key handle went stale; looking the keys up again");
                let service = Arc::clone(self);
                self.blocking(move |session| service.refresh_inventory(session)).await?;
                self.attempt(&request).await
            }
            other => other,
        };
        match &result {
            Ok(record) => tracing::info!(
                leaf_serial = %record.leaf_serial,
                timestamp_serial = %record.timestamp_serial,
                format = %record.format,
                millis = started.elapsed().as_millis() as u64,
                "one-time signature made"
            ),
            Err(e) => tracing::warn!(error = %e, "one-time signature failed"),
        }
        result
    }

    async fn attempt(self: &Arc<Self>, request: &Arc<OneTimeRequest>) -> Result<SignatureRecord, EngineError> {
        let service = Arc::clone(self);
        let req = Arc::clone(request);
        match &self.timestamper {
            // Everything in one session on the blocking pool: the TSA key is in the same HSM.
            Timestamper::Builtin(_) => {
                self.blocking(move |session| {
                    let inventory = service.inventory();
                    let signed = service.sign_in_hsm(session, &inventory, &req)?;
                    service.stamp_in_session(session, &inventory, signed)
                })
                .await
            }
            Timestamper::External(client) => {
                let signed = self
                    .blocking(move |session| {
                        let inventory = service.inventory();
                        service.sign_in_hsm(session, &inventory, &req)
                    })
                    .await?;
                self.stamp_externally(client, signed).await
            }
        }
    }

    /// Run `work` with a session on the blocking pool, within the HSM deadline.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&K::Session) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        self.hsm.with_session(work).await
    }

    /// Step 2: ephemeral key, one-time certificate, signature over the signed attributes,
    /// key destroyed.
    pub(super) fn sign_in_hsm(
        &self,
        session: &K::Session,
        inventory: &Inventory<K::Session>,
        request: &OneTimeRequest,
    ) -> Result<Signed, EngineError> {
        let subject_hash = self.subject_hash_in(session, inventory, request.identity.subject_id())?;
        let mut steps = super::StepTimes::default();
        let mut lap = Instant::now();
        let mut took = |step: &mut std::time::Duration| {
            *step = lap.elapsed();
            lap = Instant::now();
        };
        let key = self.one_time_key(session)?;
        took(&mut steps.keygen);
        let leaf = self.ca.issue_one_time(
            session,
            &inventory.ca_key,
            &request.identity,
            key.public_key().clone(),
            SystemTime::now(),
        )?;
        took(&mut steps.certificate);
        let hash = request.digest.hash();
        let signed_attributes =
            cades_signed_attributes(request.format, request.digest.bytes(), &leaf, SystemTime::now())?;
        let scheme = scheme_for(self.ephemeral, hash);
        let signature = key.sign_digest(scheme, &hash.digest(&to_be_signed(&signed_attributes)?))?;
        took(&mut steps.signature);
        key.destroy()?;
        took(&mut steps.destroy);
        let chain: Vec<&Certificate> = std::iter::once(&leaf).chain(self.ca.chain()).collect();
        let message = SignedMessage::new(
            rfc5911::ID_DATA,
            None,
            Signer {
                certificate: &leaf,
                hash,
                signed_attributes,
                signature_algorithm: scheme.algorithm_identifier().map_err(crate::cms::Error::from)?,
                signature,
            },
            &chain,
        )?;
        Ok(Signed {
            message,
            leaf,
            digest: request.digest.clone(),
            format: request.format,
            key: Some(self.ephemeral),
            subject_hash: Some(subject_hash),
            steps,
        })
    }
}

impl<K: KeyStore> SigningEngine<K> {
    /// The transaction's one-time key: from the key pool when there is one and it has a key
    /// ready, else generated in line (or refused, as `[hsm.key_pool] when_empty` says).
    fn one_time_key<'s>(&self, session: &'s K::Session) -> Result<EphemeralKey<'s, K::Session>, EngineError> {
        let Some((pool, when_empty)) = &self.key_pool else {
            return Ok(session.generate_ephemeral(self.ephemeral)?);
        };
        match (pool.take(), when_empty) {
            (Some(pooled), _) => Ok(session.adopt(pooled.key, pooled.maker)),
            (None, WhenEmpty::Busy) => Err(crate::hsm::Error::KeyPoolEmpty.into()),
            (None, WhenEmpty::Generate) => Ok(session.generate_ephemeral(self.ephemeral)?),
        }
    }
}

/// The signature scheme of a one-time key for documents hashed with `hash`: ECDSA or
/// RSASSA-PKCS1-v1_5 with the same hash, so that digestAlgorithm and signatureAlgorithm agree
/// (RFC 5753 §2.1.1).
fn scheme_for(algorithm: KeyAlgorithm, hash: HashAlgorithm) -> SignatureScheme {
    if algorithm.is_rsa() { SignatureScheme::RsaPkcs1v15(hash) } else { SignatureScheme::Ecdsa(hash) }
}
