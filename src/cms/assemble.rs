//! Building SignedData: signed attributes, the SignerInfo, the SignedData around it, and the
//! unsigned signature-time-stamp attribute.

use std::time::SystemTime;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attributes;

use super::Error;
use super::attributes::{self, set};
use crate::hsm::HashAlgorithm;
use crate::vocabulary::Format;

/// The signed attributes over a detached document whose digest is `digest`, for `format`
/// (signing-time for CAdES only).
///
/// # Errors
/// Encoding errors only.
pub fn cades_signed_attributes(
    format: Format,
    digest: &[u8],
    signer: &Certificate,
    signing_time: SystemTime,
) -> Result<Attributes, Error> {
    let mut list = vec![
        attributes::content_type(rfc5911::ID_DATA)?,
        attributes::message_digest(digest)?,
        attributes::signing_certificate_v2(signer)?,
    ];
    if format == Format::Cades {
        list.push(attributes::signing_time(signing_time)?);
    }
    set(list)
}

/// What the signer signs: the DER of the signed attributes as a SET OF (RFC 5652 §5.4).
///
/// # Errors
/// Encoding errors only.
pub fn to_be_signed(signed_attributes: &Attributes) -> Result<Vec<u8>, Error> {
    Ok(signed_attributes.to_der()?)
}

/// A SignedData being built: one signer, its certificates, and (for B-T) a timestamp to come.
#[derive(Clone, Debug)]
pub struct SignedMessage {
    signed_data: SignedData,
}

/// The parts of one signer.
pub struct Signer<'a> {
    /// The signer's certificate.
    pub certificate: &'a Certificate,
    /// The digest algorithm of the content and of the signed attributes.
    pub hash: HashAlgorithm,
    /// The signed attributes.
    pub signed_attributes: Attributes,
    /// The signature algorithm as announced.
    pub signature_algorithm: AlgorithmIdentifierOwned,
    /// The signature over [`to_be_signed`].
    pub signature: Vec<u8>,
}

impl SignedMessage {
    /// A SignedData with one SignerInfo identified by issuerAndSerialNumber, `certificates`
    /// attached, and `content` encapsulated (or `None` for a detached signature).
    ///
    /// # Errors
    /// Encoding errors only.
    pub fn new(
        content_type: ObjectIdentifier,
        content: Option<&[u8]>,
        signer: Signer<'_>,
        certificates: &[&Certificate],
    ) -> Result<Self, Error> {
        let tbs = signer.certificate.tbs_certificate();
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            }),
            digest_alg: signer.hash.algorithm_identifier(),
            signed_attrs: Some(signer.signed_attributes),
            signature_algorithm: signer.signature_algorithm,
            signature: OctetString::new(signer.signature)?,
            unsigned_attrs: None,
        };
        let mut digest_algorithms = SetOfVec::new();
        digest_algorithms.insert(signer.hash.algorithm_identifier())?;
        let mut certificate_set = SetOfVec::new();
        for certificate in certificates {
            certificate_set.insert(CertificateChoices::Certificate((*certificate).clone()))?;
        }
        let mut signer_infos = SetOfVec::new();
        signer_infos.insert(signer_info)?;
        let signed_data = SignedData {
            // RFC 5652 §5.1: version 3 when the content is anything but id-data.
            version: if content_type == rfc5911::ID_DATA { CmsVersion::V1 } else { CmsVersion::V3 },
            digest_algorithms,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: content_type,
                econtent: content.map(|c| Any::encode_from(&OctetString::new(c)?)).transpose()?,
            },
            certificates: Some(CertificateSet(certificate_set)),
            crls: None,
            signer_infos: SignerInfos(signer_infos),
        };
        Ok(Self { signed_data })
    }

    /// The SignedData as built, for checks that read it without decoding its DER.
    pub fn signed_data(&self) -> &SignedData {
        &self.signed_data
    }

    fn signer_info(&self) -> &SignerInfo {
        self.signed_data.signer_infos.0.iter().next().expect("a SignedMessage has one signer")
    }

    /// The signature value: what a signature-time-stamp covers.
    pub fn signature_value(&self) -> &[u8] {
        self.signer_info().signature.as_bytes()
    }

    /// Add the signature-time-stamp unsigned attribute (CAdES B-T).
    ///
    /// # Errors
    /// Encoding errors; a token that is not DER.
    pub fn add_timestamp(&mut self, token_der: &[u8]) -> Result<(), Error> {
        let mut signer_info = self.signer_info().clone();
        let mut unsigned = signer_info.unsigned_attrs.take().unwrap_or_default();
        unsigned.insert(attributes::signature_time_stamp(token_der)?)?;
        signer_info.unsigned_attrs = Some(unsigned);
        let mut signer_infos = SetOfVec::new();
        signer_infos.insert(signer_info)?;
        self.signed_data.signer_infos = SignerInfos(signer_infos);
        Ok(())
    }

    /// The DER ContentInfo (id-signedData) — a `.p7s` file.
    ///
    /// # Errors
    /// Encoding errors only.
    pub fn to_der(&self) -> Result<Vec<u8>, Error> {
        let content_info =
            ContentInfo { content_type: rfc5911::ID_SIGNED_DATA, content: Any::encode_from(&self.signed_data)? };
        Ok(content_info.to_der()?)
    }
}
