//! Verify before returning (DESIGN §3 step 5): a finished signature must pass every rule below,
//! or it is not returned. The rules read the SignedData as built, the structure its DER is
//! encoded from, as a relying party reads a decoded one ([`verify_signed_data`]); decoding the
//! DER we just encoded would add about 35 µs per transaction and check only the `der` crate's
//! encoder against its own decoder. That the DER says the same is the tests' part: the
//! signatures the process-level tests make are re-read by `openssl cms -verify` and `rasn` (an
//! independent decoder), and this module's tests decode theirs with
//! [`crate::cms::verify::verify`] and attack each rule.
//!
//! 1. The CMS verifies (message-digest = the caller's digest, signature valid under the signer's
//!    key) and its signer is the one-time certificate just issued — which was verified against
//!    the CA key at issuance, the key whose certificate heads the chain.
//! 2. It carries signing-certificate-v2, and signing-time exactly when the format wants it.
//! 3. Its signature-time-stamp is the token the TSA returned, and that token's TSTInfo covers
//!    SHA-256 of the signature value. An external TSA's token has been verified by the client
//!    (signature, trust, nonce); the built-in TSA's, signed moments earlier in the same HSM
//!    session, is checked through the TSTInfo it was built from (decoding it again cost about
//!    20 µs; the tests judge its DER with `openssl ts -verify`).
//! 4. `notBefore <= signing-time <= genTime <= notAfter`.

use std::time::SystemTime;

use const_oid::db::rfc3161;
use der::Encode;
use x509_cert::Certificate;

use crate::cms::assemble::SignedMessage;
use crate::cms::attributes::single;
use crate::cms::verify::{EssBinding, verify_signed_data};
use crate::tsa::asn1::TstInfo;
use crate::vocabulary::Format;

/// The rule a signature broke.
#[derive(Debug, thiserror::Error)]
pub enum BrokenRule {
    /// Rule 1: the CMS does not verify.
    #[error("the CMS does not verify: {0}")]
    Cms(#[source] crate::cms::Error),
    /// Rule 1: the signer is not the one-time certificate.
    #[error("the CMS is signed by another certificate than the one-time certificate")]
    WrongSigner,
    /// Rule 2: no signing-certificate-v2.
    #[error("the signing-certificate-v2 attribute is missing")]
    NoSigningCertificateV2,
    /// Rule 2: signing-time present for PAdES or absent for CAdES.
    #[error("signing-time must be {} for {format}", if *format == Format::Cades { "present" } else { "absent" })]
    SigningTime {
        /// The format.
        format: Format,
    },
    /// Rule 3: no signature-time-stamp attribute.
    #[error("the signature-time-stamp attribute is missing")]
    NoTimestamp,
    /// Rule 3: the token is not valid.
    #[error("the time-stamp token is not valid: {0}")]
    Token(#[source] crate::tsa::Error),
    /// Rule 3: the token in the signature is not the one the TSA returned.
    #[error("the time-stamp token in the signature is not the one the TSA returned")]
    OtherToken,
    /// Rule 3: the token covers something else.
    #[error("the time-stamp token's imprint is not the hash of the signature value")]
    Imprint,
    /// Rule 4: signed before the certificate was valid.
    #[error("signing-time {signing_time} is before the certificate's notBefore {not_before}")]
    SignedBeforeValidity {
        /// signing-time.
        signing_time: String,
        /// notBefore.
        not_before: String,
    },
    /// Rule 4: stamped before signing.
    #[error("the time-stamp's genTime {gen_time} is before signing-time {signing_time}")]
    StampedBeforeSigning {
        /// genTime.
        gen_time: String,
        /// signing-time.
        signing_time: String,
    },
    /// Rule 4: stamped after the certificate expired (or before it was valid).
    #[error("the time-stamp's genTime {gen_time} is outside the certificate's validity {not_before} to {not_after}")]
    StampedOutsideValidity {
        /// genTime.
        gen_time: String,
        /// notBefore.
        not_before: String,
        /// notAfter.
        not_after: String,
    },
}

/// A time-stamp token as the TSA returned it, with its TSTInfo: verified by the TSA client
/// (external TSAs) or as built (the built-in TSA).
#[derive(Debug, Clone)]
pub struct Stamped {
    /// The token (DER ContentInfo).
    pub token: Vec<u8>,
    /// Its TSTInfo.
    pub tst_info: TstInfo,
}

/// What the checks read from the signature.
#[derive(Debug, Clone)]
pub struct Checked {
    /// signing-time, if present.
    pub signing_time: Option<SystemTime>,
    /// The token.
    pub token: Vec<u8>,
    /// The token's TSTInfo.
    pub tst_info: TstInfo,
}

/// Check the finished signature `message` over `digest`, made with `leaf` in `format` and
/// time-stamped with `stamped`.
///
/// # Errors
/// The first [`BrokenRule`].
pub fn verify_before_return(
    message: &SignedMessage,
    digest: &[u8],
    leaf: &Certificate,
    format: Format,
    stamped: Stamped,
) -> Result<Checked, BrokenRule> {
    let verified = verify_signed_data(message.signed_data(), Some(digest), &[]).map_err(BrokenRule::Cms)?;
    if verified.signer != leaf {
        return Err(BrokenRule::WrongSigner);
    }
    if verified.ess != Some(EssBinding::V2) {
        return Err(BrokenRule::NoSigningCertificateV2);
    }
    if verified.signing_time.is_some() != (format == Format::Cades) {
        return Err(BrokenRule::SigningTime { format });
    }

    let unsigned = verified.signer_info.unsigned_attrs.as_ref().ok_or(BrokenRule::NoTimestamp)?;
    let in_signature = single(unsigned, rfc3161::ID_AA_TIME_STAMP_TOKEN)
        .map_err(BrokenRule::Cms)?
        .ok_or(BrokenRule::NoTimestamp)?
        .to_der()
        .map_err(|e| BrokenRule::Cms(e.into()))?;
    let Stamped { token, tst_info } = stamped;
    if in_signature != token {
        return Err(BrokenRule::OtherToken);
    }
    let imprint =
        crate::tsa::builtin::sha256_imprint(verified.signer_info.signature.as_bytes()).map_err(BrokenRule::Token)?;
    if tst_info.message_imprint != imprint {
        return Err(BrokenRule::Imprint);
    }

    let validity = leaf.tbs_certificate().validity();
    let (not_before, not_after) = (validity.not_before.to_system_time(), validity.not_after.to_system_time());
    let gen_time = tst_info.gen_time.to_system_time();
    if let Some(signing_time) = verified.signing_time {
        if signing_time < not_before {
            return Err(BrokenRule::SignedBeforeValidity {
                signing_time: show(signing_time),
                not_before: show(not_before),
            });
        }
        if gen_time < signing_time {
            return Err(BrokenRule::StampedBeforeSigning {
                gen_time: show(gen_time),
                signing_time: show(signing_time),
            });
        }
    }
    if gen_time < not_before || gen_time > not_after {
        return Err(BrokenRule::StampedOutsideValidity {
            gen_time: show(gen_time),
            not_before: show(not_before),
            not_after: show(not_after),
        });
    }
    Ok(Checked { signing_time: verified.signing_time, token, tst_info })
}

/// A time as RFC 3339 UTC, for messages.
pub(crate) fn show(at: SystemTime) -> String {
    let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    match der::DateTime::from_unix_duration(std::time::Duration::from_secs(since.as_secs())) {
        Ok(t) => format!("{}.{:03}Z", t.to_string().trim_end_matches('Z'), since.subsec_millis()),
        Err(_) => format!("{}s", since.as_secs()),
    }
}

/// The rules attacked: a transaction's signature is made on the in-memory key store, then one
/// thing about it is changed before the checks read it. Two rules are not attacked here,
/// because breaking them means changing the signed attributes, and only the one-time key, which
/// is already destroyed, could sign those again: a missing signing-certificate-v2, and a
/// signing-time before notBefore.
#[cfg(all(test, feature = "memory-keystore"))]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cms::assemble::Signer;
    use crate::hsm::memory::MemoryKeyStore;
    use crate::hsm::{HashAlgorithm, KeyStore};
    use crate::identity::Identity;
    use crate::provision::{DevPlan, provision_dev};
    use crate::service::engine::stamp::Signed;
    use crate::service::engine::{OneTimeRequest, SigningEngine, Timestamper};
    use crate::tsa::builtin::sha256_imprint;
    use crate::vocabulary::Digest;

    struct Made {
        engine: Arc<SigningEngine<MemoryKeyStore>>,
        store: MemoryKeyStore,
        signed: Signed,
    }

    /// A one-time signature over `digest`, not yet time-stamped.
    fn sign(format: Format, digest: &Digest) -> Made {
        let store = MemoryKeyStore::new();
        let config = crate::config::Config::load(None).unwrap();
        provision_dev(&store.session().unwrap(), &config.hsm.keys, &DevPlan::default()).unwrap();
        let engine = Arc::new(SigningEngine::new(Arc::new(store.clone()), &config).unwrap());
        let request =
            OneTimeRequest { identity: Identity::new("Jane Doe", "X-1").unwrap(), digest: digest.clone(), format };
        let signed = engine.sign_in_hsm(&store.session().unwrap(), &engine.inventory(), &request).unwrap();
        Made { engine, store, signed }
    }

    /// The built-in TSA's token over `imprint_of` (the signature value, unless an attack says
    /// otherwise), made now.
    fn token(made: &Made, imprint_of: Option<&[u8]>) -> Stamped {
        token_at(made, imprint_of, SystemTime::now())
    }

    /// [`token`] with its genTime at `at`.
    fn token_at(made: &Made, imprint_of: Option<&[u8]>, at: SystemTime) -> Stamped {
        let Timestamper::Builtin(tsa) = &made.engine.timestamper else { unreachable!() };
        let value = imprint_of.map_or_else(|| made.signed.message.signature_value().to_vec(), <[u8]>::to_vec);
        let session = made.store.session().unwrap();
        let (token, tst_info) = tsa
            .stamp_built(&session, &made.engine.inventory().tsa_key, sha256_imprint(&value).unwrap(), None, true, at)
            .unwrap();
        Stamped { token, tst_info }
    }

    /// [`token`], added to the message.
    fn stamp(made: &mut Made, imprint_of: Option<&[u8]>) -> Stamped {
        let stamped = token(made, imprint_of);
        made.signed.message.add_timestamp(&stamped.token).unwrap();
        stamped
    }

    fn check(
        made: &Made,
        stamped: &Stamped,
        digest: &Digest,
        leaf: &Certificate,
        format: Format,
    ) -> Result<Checked, BrokenRule> {
        verify_before_return(&made.signed.message, digest.bytes(), leaf, format, stamped.clone())
    }

    fn digest(byte: u8) -> Digest {
        Digest::new(HashAlgorithm::Sha256, vec![byte; 32]).unwrap()
    }

    #[test]
    fn a_whole_signature_passes_and_the_checks_read_what_was_built() {
        let mut made = sign(Format::Cades, &digest(7));
        let stamped = stamp(&mut made, None);
        let checked = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap();
        assert_eq!(checked.token, stamped.token);
        assert!(checked.signing_time.is_some());
        // The token's DER says what the TSA built.
        assert_eq!(crate::tsa::verify::tst_info(&checked.token).unwrap(), stamped.tst_info);
        // The DER says the same: the decoding path agrees with the in-memory one.
        let der = made.signed.message.to_der().unwrap();
        let decoded = crate::cms::verify::verify(&der, Some(digest(7).bytes()), &[]).unwrap();
        assert_eq!(decoded.signer, made.signed.leaf);
        assert_eq!(decoded.signing_time, checked.signing_time);
    }

    #[test]
    fn another_document_digest_is_refused() {
        let mut made = sign(Format::Cades, &digest(7));
        let stamped = stamp(&mut made, None);
        let err = check(&made, &stamped, &digest(8), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::Cms(crate::cms::Error::DigestMismatch)), "{err}");
    }

    #[test]
    fn a_changed_signature_value_is_refused() {
        let mut made = sign(Format::Cades, &digest(7));
        let signer_info = made.signed.message.signed_data().signer_infos.0.as_slice()[0].clone();
        let mut signature = signer_info.signature.as_bytes().to_vec();
        let last = signature.len() - 3;
        signature[last] ^= 1;
        let chain: Vec<&Certificate> = std::iter::once(&made.signed.leaf).chain(made.engine.ca.chain()).collect();
        made.signed.message = SignedMessage::new(
            const_oid::db::rfc5911::ID_DATA,
            None,
            Signer {
                certificate: &made.signed.leaf,
                hash: HashAlgorithm::Sha256,
                signed_attributes: signer_info.signed_attrs.clone().unwrap(),
                signature_algorithm: signer_info.signature_algorithm.clone(),
                signature,
            },
            &chain,
        )
        .unwrap();
        let stamped = stamp(&mut made, None);
        let err = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::Cms(crate::cms::Error::Signature(_))), "{err}");
    }

    #[test]
    fn a_signer_other_than_the_one_time_certificate_is_refused() {
        let mut made = sign(Format::Cades, &digest(7));
        let stamped = stamp(&mut made, None);
        let another = sign(Format::Cades, &digest(7)).signed.leaf;
        let err = check(&made, &stamped, &digest(7), &another, Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::WrongSigner), "{err}");
    }

    #[test]
    fn signing_time_must_match_the_format() {
        let mut made = sign(Format::Pades, &digest(7));
        let stamped = stamp(&mut made, None);
        let err = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::SigningTime { format: Format::Cades }), "{err}");
    }

    #[test]
    fn a_missing_substituted_or_misplaced_time_stamp_is_refused() {
        let unstamped = sign(Format::Cades, &digest(7));
        let stamped = token(&unstamped, None);
        let err = check(&unstamped, &stamped, &digest(7), &unstamped.signed.leaf, Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::NoTimestamp), "{err}");

        // The signature carries one token; the TSA returned another.
        let mut made = sign(Format::Cades, &digest(7));
        stamp(&mut made, None);
        let returned = token(&made, None);
        let err = check(&made, &returned, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::OtherToken), "{err}");

        let mut made = sign(Format::Cades, &digest(7));
        let stamped = stamp(&mut made, Some(b"another signature value"));
        let err = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::Imprint), "{err}");
    }

    #[test]
    fn a_time_stamp_out_of_order_is_refused() {
        let hour = std::time::Duration::from_secs(3600);
        // CAdES: stamped an hour before it was signed.
        let mut made = sign(Format::Cades, &digest(7));
        let stamped = token_at(&made, None, SystemTime::now() - hour);
        made.signed.message.add_timestamp(&stamped.token).unwrap();
        let err = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::StampedBeforeSigning { .. }), "{err}");

        // CAdES: stamped an hour later, after the one-minute certificate expired.
        let mut made = sign(Format::Cades, &digest(7));
        let stamped = token_at(&made, None, SystemTime::now() + hour);
        made.signed.message.add_timestamp(&stamped.token).unwrap();
        let err = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Cades).unwrap_err();
        assert!(matches!(err, BrokenRule::StampedOutsideValidity { .. }), "{err}");

        // PAdES (no signing-time): stamped before the certificate was valid.
        let mut made = sign(Format::Pades, &digest(7));
        let stamped = token_at(&made, None, SystemTime::now() - hour);
        made.signed.message.add_timestamp(&stamped.token).unwrap();
        let err = check(&made, &stamped, &digest(7), &made.signed.leaf.clone(), Format::Pades).unwrap_err();
        assert!(matches!(err, BrokenRule::StampedOutsideValidity { .. }), "{err}");
    }
}
