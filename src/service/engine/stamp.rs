//! The last steps every signature takes, whoever made it (a one-time key in the HSM or the
//! user's own device): the signature-time-stamp over its value (DESIGN §3 step 4), then the
//! checks before returning ([`super::checks`]). Only a signature that passes every rule becomes a
//! [`SignatureRecord`].

use std::sync::Arc;
use std::time::SystemTime;

use x509_cert::Certificate;

use super::checks::{Checked, Stamped, verify_before_return};
use super::{EngineError, SignatureRecord, SigningEngine, Timestamper};
use crate::cms::assemble::SignedMessage;
use crate::hsm::KeyStore;
use crate::preflight::Inventory;
use crate::tsa::builtin::sha256_imprint;
use crate::tsa::client::TsaClient;
use crate::vocabulary::{Digest, Format};

/// How records name the built-in TSA (external TSAs are named by their URL).
pub const BUILTIN_TSA: &str = "built-in";

/// A signature without its time-stamp yet: the SignedData, the certificate that made it, and
/// what it must sign (the caller's digest, in `format`).
pub(super) struct Signed {
    pub(super) message: SignedMessage,
    pub(super) leaf: Certificate,
    pub(super) digest: Digest,
    pub(super) format: Format,
    /// The one-time key's algorithm (`None`: the user's own device key).
    pub(super) key: Option<crate::hsm::KeyAlgorithm>,
    /// The signer's subject id as the audit shows it (HMAC under the audit subject key).
    pub(super) subject_hash: Option<String>,
    /// The steps taken so far.
    pub(super) steps: super::StepTimes,
}

impl<K: KeyStore> SigningEngine<K> {
    /// Time-stamp `signed` with the built-in TSA, whose key is in the same HSM (`session`), and
    /// check the result.
    pub(super) fn stamp_in_session(
        &self,
        session: &K::Session,
        inventory: &Inventory<K::Session>,
        mut signed: Signed,
    ) -> Result<SignatureRecord, EngineError> {
        let Timestamper::Builtin(tsa) = &self.timestamper else {
            unreachable!("only called when the built-in TSA stamps")
        };
        let started = std::time::Instant::now();
        let imprint = sha256_imprint(signed.message.signature_value())?;
        let (token, tst_info) = tsa.stamp_built(session, &inventory.tsa_key, imprint, None, true, SystemTime::now())?;
        signed.message.add_timestamp(&token)?;
        signed.steps.timestamp = started.elapsed();
        self.finish(signed, BUILTIN_TSA.to_owned(), Stamped { token, tst_info })
    }

    /// Time-stamp `signed` at the external TSAs (the client verifies the token: signature,
    /// trust, imprint, nonce) and check the result on the blocking pool.
    pub(super) async fn stamp_externally(
        self: &Arc<Self>,
        client: &TsaClient,
        mut signed: Signed,
    ) -> Result<SignatureRecord, EngineError> {
        let started = std::time::Instant::now();
        let stamped = client.timestamp(signed.message.signature_value()).await?;
        signed.message.add_timestamp(&stamped.token)?;
        signed.steps.timestamp = started.elapsed();
        let service = Arc::clone(self);
        let (token, tst_info, tsa) = (stamped.token, stamped.tst_info, stamped.url);
        tokio::task::spawn_blocking(move || service.finish(signed, tsa, Stamped { token, tst_info }))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }

    /// Encode and check; only a signature that passes every rule is returned.
    fn finish(&self, signed: Signed, tsa: String, stamped: Stamped) -> Result<SignatureRecord, EngineError> {
        let checking = std::time::Instant::now();
        let cms = signed.message.to_der()?;
        let signature_sha256 = hex::encode(crate::hsm::HashAlgorithm::Sha256.digest(signed.message.signature_value()));
        let Checked { signing_time, token, tst_info } =
            verify_before_return(&signed.message, signed.digest.bytes(), &signed.leaf, signed.format, stamped)?;
        let validity = signed.leaf.tbs_certificate().validity();
        let steps = super::StepTimes { checks: checking.elapsed(), ..signed.steps };
        Ok(SignatureRecord {
            leaf_serial: hex::encode(signed.leaf.tbs_certificate().serial_number().as_bytes()),
            timestamp_serial: hex::encode(tst_info.serial_number.as_bytes()),
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
            gen_time: tst_info.gen_time.to_system_time(),
            signing_time,
            timestamp_token: token,
            chain: self.ca.chain().to_vec(),
            leaf: signed.leaf,
            cms,
            format: signed.format,
            signature_sha256,
            key: signed.key,
            subject_hash: signed.subject_hash,
            tsa,
            steps,
        })
    }
}
