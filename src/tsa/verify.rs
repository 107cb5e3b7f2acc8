//! Checking a TimeStampToken: its CMS signature and ESS binding, the TSTInfo (version 1,
//! imprint, nonce), the TSA certificate's critical timeStamping-only EKU, and a path from it
//! to the trusted anchors, valid at genTime.

use const_oid::db::rfc3161;
use der::Decode;
use der::asn1::Uint;
use x509_cert::Certificate;

use super::Error;
use super::asn1::{MessageImprint, TstInfo};
use crate::cms::verify::verify as verify_cms;
use crate::hsm::HashAlgorithm;
use crate::pki::{checks, path};

/// A token that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The decoded TSTInfo.
    pub tst_info: TstInfo,
    /// The TSA certificate that signed it.
    pub tsa_certificate: Certificate,
}

/// Decode the TSTInfo of a token without checking its signature (for reports and for tokens
/// whose signature was checked elsewhere).
///
/// # Errors
/// Malformed tokens.
pub fn tst_info(token: &[u8]) -> Result<TstInfo, Error> {
    let content_info = cms::content_info::ContentInfo::from_der(token)?;
    let signed_data: cms::signed_data::SignedData = content_info.content.decode_as()?;
    let econtent = signed_data
        .encap_content_info
        .econtent
        .ok_or(Error::NotTstInfo(signed_data.encap_content_info.econtent_type))?;
    Ok(TstInfo::from_der(econtent.decode_as::<der::asn1::OctetString>()?.as_bytes())?)
}

/// Check `token` against the data it must cover (`imprint`), the request's `nonce`, and the
/// trust `anchors` (the TSA certificate itself, or a CA above it).
///
/// # Errors
/// [`Error`] naming the first check that failed.
pub fn verify_token(
    token: &[u8],
    imprint: &MessageImprint,
    nonce: Option<&Uint>,
    anchors: &[Certificate],
) -> Result<VerifiedToken, Error> {
    let verified = verify_cms(token, None, anchors)?;
    let content_type = verified.signed_data.encap_content_info.econtent_type;
    if content_type != rfc3161::ID_CT_TST_INFO {
        return Err(Error::NotTstInfo(content_type));
    }
    if verified.ess.is_none() {
        return Err(Error::NoEssBinding);
    }
    let tst_info = TstInfo::from_der(verified.content.as_deref().ok_or(Error::NotTstInfo(content_type))?)?;
    if tst_info.version != 1 {
        return Err(Error::Unsupported("TSTInfo version other than 1"));
    }
    if HashAlgorithm::from_oid(tst_info.message_imprint.hash_algorithm.oid).is_none() {
        return Err(Error::Unsupported("imprint hash algorithm"));
    }
    if tst_info.message_imprint.hash_algorithm.oid != imprint.hash_algorithm.oid
        || tst_info.message_imprint.hashed_message != imprint.hashed_message
    {
        return Err(Error::ImprintMismatch);
    }
    if let Some(nonce) = nonce
        && tst_info.nonce.as_ref() != Some(nonce)
    {
        return Err(Error::NonceMismatch);
    }
    checks::is_tsa(&verified.signer)?;
    let intermediates: Vec<Certificate> = verified
        .signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(cert) => Some(cert.clone()),
            cms::cert::CertificateChoices::Other(_) => None,
        })
        .collect();
    path::verify_path(&verified.signer, &intermediates, anchors, tst_info.gen_time.to_system_time())?;
    Ok(VerifiedToken { tst_info, tsa_certificate: verified.signer })
}
