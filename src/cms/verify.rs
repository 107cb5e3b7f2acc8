//! Checking a SignedData as a relying party would: one signer, its certificate found by
//! issuerAndSerialNumber, content-type and message-digest attributes consistent with the
//! content, the ESS signing-certificate attribute (if present) naming that certificate, and the
//! signature over the signed attributes valid under the certificate's key.
//!
//! Chain building and validity periods are the caller's: CAdES and RFC 3161 have different
//! trust anchors and time rules.

use std::time::SystemTime;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha1::Digest as _;
use x509_cert::Certificate;
use x509_cert::time::Time;

use super::Error;
use super::attributes::single;
use super::ess::{SigningCertificate, SigningCertificateV2};
use crate::hsm::{HashAlgorithm, SignatureScheme};
use crate::pki::verify::verify_message;

/// Which ESS attribute bound the signature to its certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EssBinding {
    /// signing-certificate-v2 (RFC 5035).
    V2,
    /// signing-certificate (RFC 2634, SHA-1).
    V1,
}

/// A SignedData whose one signature verified.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The decoded SignedData.
    pub signed_data: SignedData,
    /// Its SignerInfo.
    pub signer_info: SignerInfo,
    /// The signer's certificate.
    pub signer: Certificate,
    /// The digest algorithm of the signer.
    pub hash: HashAlgorithm,
    /// The encapsulated content, if any (a TSTInfo for RFC 3161 tokens).
    pub content: Option<Vec<u8>>,
    /// The signing-time attribute, if any.
    pub signing_time: Option<SystemTime>,
    /// The ESS attribute that named the signer's certificate, if any.
    pub ess: Option<EssBinding>,
}

/// The same checks on a SignedData in memory, borrowing from it: what [`verify_signed_data`]
/// found.
#[derive(Debug)]
pub struct VerifiedSigner<'a> {
    /// Its SignerInfo.
    pub signer_info: &'a SignerInfo,
    /// The signer's certificate.
    pub signer: &'a Certificate,
    /// The digest algorithm of the signer.
    pub hash: HashAlgorithm,
    /// The encapsulated content, if any.
    pub content: Option<Vec<u8>>,
    /// The signing-time attribute, if any.
    pub signing_time: Option<SystemTime>,
    /// The ESS attribute that named the signer's certificate, if any.
    pub ess: Option<EssBinding>,
}

/// Verify the DER ContentInfo `der`. A detached signature is checked against `detached_digest`
/// (the document digest); an encapsulated one against the digest of its content. The signer's
/// certificate is looked for in the SignedData, then in `extra_certificates`.
///
/// # Errors
/// [`Error`] naming the first thing that is wrong.
pub fn verify(
    der: &[u8],
    detached_digest: Option<&[u8]>,
    extra_certificates: &[Certificate],
) -> Result<Verified, Error> {
    let content_info = ContentInfo::from_der(der)?;
    if content_info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(Error::NotSignedData(content_info.content_type));
    }
    let signed_data: SignedData = content_info.content.decode_as()?;
    let VerifiedSigner { signer_info, signer, hash, content, signing_time, ess } =
        verify_signed_data(&signed_data, detached_digest, extra_certificates)?;
    let (signer_info, signer) = (signer_info.clone(), signer.clone());
    Ok(Verified { signed_data, signer_info, signer, hash, content, signing_time, ess })
}

/// [`verify`] without the decoding: the checks of a SignedData already in memory, such as one
/// esignd has just built (the one-time transaction checks what it built this way, without
/// encoding and decoding it again; tests re-read the DER independently).
///
/// # Errors
/// [`Error`] naming the first thing that is wrong.
pub fn verify_signed_data<'a>(
    signed_data: &'a SignedData,
    detached_digest: Option<&[u8]>,
    extra_certificates: &'a [Certificate],
) -> Result<VerifiedSigner<'a>, Error> {
    let signer_info = match signed_data.signer_infos.0.as_slice() {
        [one] => one,
        many => return Err(Error::SignerCount(many.len())),
    };
    let hash = HashAlgorithm::from_oid(signer_info.digest_alg.oid)
        .ok_or(Error::UnsupportedDigest(signer_info.digest_alg.oid))?;
    let signer = find_signer(signed_data, signer_info, extra_certificates)?;
    let signed_attributes = signer_info.signed_attrs.as_ref().ok_or(Error::MissingAttribute("any signed attribute"))?;

    let content_type: ObjectIdentifier = single(signed_attributes, rfc5911::ID_CONTENT_TYPE)?
        .ok_or(Error::MissingAttribute("content-type"))?
        .decode_as()?;
    if content_type != signed_data.encap_content_info.econtent_type {
        return Err(Error::ContentTypeMismatch);
    }
    let message_digest: OctetString = single(signed_attributes, rfc5911::ID_MESSAGE_DIGEST)?
        .ok_or(Error::MissingAttribute("message-digest"))?
        .decode_as()?;
    let content = match &signed_data.encap_content_info.econtent {
        Some(econtent) => Some(econtent.decode_as::<OctetString>()?.as_bytes().to_vec()),
        None => None,
    };
    let expected = match (&content, detached_digest) {
        (Some(content), _) => hash.digest(content),
        (None, Some(digest)) => digest.to_vec(),
        (None, None) => {
            return Err(Error::MissingAttribute("content or document digest to check message-digest against"));
        }
    };
    if message_digest.as_bytes() != expected.as_slice() {
        return Err(Error::DigestMismatch);
    }
    let signing_time = single(signed_attributes, rfc5911::ID_SIGNING_TIME)?
        .map(|any| any.decode_as::<Time>().map(|t| t.to_system_time()))
        .transpose()?;
    let ess = check_ess(signed_attributes, signer)?;

    let scheme = signature_scheme(signer_info, hash)?;
    let signature_algorithm = scheme.algorithm_identifier()?;
    verify_message(
        signer.tbs_certificate().subject_public_key_info(),
        &signature_algorithm,
        &signed_attributes.to_der()?,
        signer_info.signature.as_bytes(),
    )
    .map_err(Error::Signature)?;
    Ok(VerifiedSigner { signer_info, signer, hash, content, signing_time, ess })
}

/// The scheme a SignerInfo's signatureAlgorithm announces; `rsaEncryption` (as many TSAs
/// write it) means PKCS#1 v1.5 with the digest algorithm.
fn signature_scheme(signer_info: &SignerInfo, hash: HashAlgorithm) -> Result<SignatureScheme, Error> {
    if signer_info.signature_algorithm.oid == rfc5912::RSA_ENCRYPTION {
        return Ok(SignatureScheme::RsaPkcs1v15(hash));
    }
    SignatureScheme::from_algorithm_identifier(&signer_info.signature_algorithm).ok_or(Error::Signature(
        crate::pki::verify::VerifyError::UnsupportedAlgorithm(signer_info.signature_algorithm.oid),
    ))
}

fn find_signer<'a>(
    signed_data: &'a SignedData,
    signer_info: &SignerInfo,
    extra: &'a [Certificate],
) -> Result<&'a Certificate, Error> {
    let embedded = signed_data.certificates.iter().flat_map(|set| set.0.iter()).filter_map(|choice| match choice {
        CertificateChoices::Certificate(cert) => Some(cert),
        CertificateChoices::Other(_) => None,
    });
    let matches = |cert: &&Certificate| match &signer_info.sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            let tbs = cert.tbs_certificate();
            tbs.issuer() == &isn.issuer && tbs.serial_number() == &isn.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            crate::ca::chain::subject_key_id(cert).is_some_and(|id| id == ski.0.as_bytes())
        }
    };
    embedded.chain(extra.iter()).find(matches).ok_or(Error::SignerNotFound)
}

/// If an ESS signing-certificate attribute is present, its first certificate must be the
/// signer's (RFC 5035 §5.4: the first ESSCertID identifies the signing certificate).
fn check_ess(
    signed_attributes: &x509_cert::attr::Attributes,
    signer: &Certificate,
) -> Result<Option<EssBinding>, Error> {
    let der = signer.to_der()?;
    if let Some(value) = single(signed_attributes, rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2)? {
        let attr: SigningCertificateV2 = value.decode_as()?;
        let first = attr.certs.first().ok_or(Error::EssMismatch)?;
        let hash = match &first.hash_algorithm {
            None => HashAlgorithm::Sha256,
            Some(id) => HashAlgorithm::from_oid(id.oid).ok_or(Error::UnsupportedDigest(id.oid))?,
        };
        return if first.cert_hash.as_bytes() == hash.digest(&der).as_slice() {
            Ok(Some(EssBinding::V2))
        } else {
            Err(Error::EssMismatch)
        };
    }
    if let Some(value) = single(signed_attributes, rfc5911::ID_AA_SIGNING_CERTIFICATE)? {
        let attr: SigningCertificate = value.decode_as()?;
        let first = attr.certs.first().ok_or(Error::EssMismatch)?;
        return if first.cert_hash.as_bytes() == sha1::Sha1::digest(&der).as_slice() {
            Ok(Some(EssBinding::V1))
        } else {
            Err(Error::EssMismatch)
        };
    }
    Ok(None)
}
