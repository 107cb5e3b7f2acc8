//! Verify before returning (DESIGN §3 step 5): a finished signature is re-read from its DER and
//! must pass every rule below, or it is not returned.
//!
//! 1. The CMS verifies (message-digest = the caller's digest, signature valid under the signer's
//!    key) and its signer is the one-time certificate just issued — which was verified against
//!    the CA key at issuance, the key whose certificate heads the chain.
//! 2. It carries signing-certificate-v2, and signing-time exactly when the format wants it.
//! 3. Its signature-time-stamp is a token over SHA-256 of the signature value. Tokens from
//!    external TSAs have been verified by the client (signature, trust, nonce); the built-in
//!    TSA's token, signed moments earlier in the same HSM session, is decoded and its imprint
//!    and genTime checked.
//! 4. `notBefore <= signing-time <= genTime <= notAfter`.

use std::time::SystemTime;

use const_oid::db::rfc3161;
use der::Encode;
use x509_cert::Certificate;

use crate::cms::attributes::single;
use crate::cms::verify::{EssBinding, verify};
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

/// Check the finished signature `der` over `digest`, made with `leaf` in `format`. The
/// token's signature is checked by `verify_token`, which gets the token and the imprint it must
/// carry and returns its TSTInfo.
///
/// # Errors
/// The first [`BrokenRule`].
pub fn verify_before_return(
    der: &[u8],
    digest: &[u8],
    leaf: &Certificate,
    format: Format,
    verify_token: impl FnOnce(&[u8], &crate::tsa::asn1::MessageImprint) -> Result<TstInfo, crate::tsa::Error>,
) -> Result<Checked, BrokenRule> {
    let verified = verify(der, Some(digest), &[]).map_err(BrokenRule::Cms)?;
    let same_signer = verified.signer.to_der().ok() == leaf.to_der().ok();
    if !same_signer {
        return Err(BrokenRule::WrongSigner);
    }
    if verified.ess != Some(EssBinding::V2) {
        return Err(BrokenRule::NoSigningCertificateV2);
    }
    if verified.signing_time.is_some() != (format == Format::Cades) {
        return Err(BrokenRule::SigningTime { format });
    }

    let unsigned = verified.signer_info.unsigned_attrs.as_ref().ok_or(BrokenRule::NoTimestamp)?;
    let token = single(unsigned, rfc3161::ID_AA_TIME_STAMP_TOKEN)
        .map_err(BrokenRule::Cms)?
        .ok_or(BrokenRule::NoTimestamp)?
        .to_der()
        .map_err(|e| BrokenRule::Cms(e.into()))?;
    let imprint =
        crate::tsa::builtin::sha256_imprint(verified.signer_info.signature.as_bytes()).map_err(BrokenRule::Token)?;
    let tst_info = verify_token(&token, &imprint).map_err(|e| match e {
        crate::tsa::Error::ImprintMismatch => BrokenRule::Imprint,
        other => BrokenRule::Token(other),
    })?;

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
