//! `esign pdf embed`: the CMS from esignd's SignResponse written into the `/Contents`
//! placeholder of the last prepared signature, in place (hex, zero-padded), after checking
//! that it signs exactly the prepared byte ranges (its message-digest), so a response for
//! another document is never embedded.

use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::db::rfc5911;
use der::Decode;
use der::asn1::OctetString;

use super::PdfError;
use crate::cms::attributes::single;
use crate::hsm::HashAlgorithm;

/// The placeholder of the last prepared, unfilled signature in `pdf`: its `/ByteRange`.
///
/// # Errors
/// [`PdfError::NoPlaceholder`].
pub fn placeholder(pdf: &[u8]) -> Result<[usize; 4], PdfError> {
    let marker = b"/ByteRange [";
    let at = pdf.windows(marker.len()).rposition(|w| w == marker).ok_or(PdfError::NoPlaceholder)?;
    let rest = &pdf[at + marker.len()..];
    let end = rest.iter().position(|&b| b == b']').ok_or(PdfError::NoPlaceholder)?;
    let numbers: Vec<usize> = std::str::from_utf8(&rest[..end])
        .map_err(|_| PdfError::NoPlaceholder)?
        .split_ascii_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| PdfError::NoPlaceholder)?;
    let range: [usize; 4] = numbers.try_into().map_err(|_| PdfError::NoPlaceholder)?;
    let (start, end) = (range[1], range[2]);
    // The numbers come from the file: no arithmetic on them may overflow.
    let fits = range[0] == 0
        && start.checked_add(2).is_some_and(|after| after <= end)
        && end.checked_add(range[3]) == Some(pdf.len());
    if !fits || pdf[start] != b'<' || pdf[end - 1] != b'>' || pdf[start + 1..end - 1].iter().any(|&b| b != b'0') {
        return Err(PdfError::NoPlaceholder);
    }
    Ok(range)
}

/// The digest of `pdf`'s ranges `range` with `hash`.
pub fn range_digest(pdf: &[u8], range: [usize; 4], hash: HashAlgorithm) -> Vec<u8> {
    hash.digest_parts(&[&pdf[range[0]..range[0] + range[1]], &pdf[range[2]..range[2] + range[3]]])
}

/// Write `cms` (a DER ContentInfo) into the placeholder `range` of `pdf`.
///
/// # Errors
/// [`PdfError::TooLarge`]; [`PdfError::BadCms`]; [`PdfError::DigestMismatch`] when the CMS
/// signs another digest than the ranges'.
pub fn embed_cms(pdf: &mut [u8], range: [usize; 4], cms: &[u8]) -> Result<(), PdfError> {
    let (hash, signed) = signed_digest(cms)?;
    if signed != range_digest(pdf, range, hash) {
        return Err(PdfError::DigestMismatch);
    }
    fill(pdf, range, cms)
}

/// Write `contents` into the placeholder as hex.
///
/// # Errors
/// [`PdfError::TooLarge`].
pub fn fill(pdf: &mut [u8], range: [usize; 4], contents: &[u8]) -> Result<(), PdfError> {
    let room = (range[2] - range[1] - 2) / 2;
    if contents.len() > room {
        return Err(PdfError::TooLarge { needed: contents.len(), room });
    }
    let hex = hex::encode_upper(contents);
    pdf[range[1] + 1..range[1] + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(())
}

/// The digest algorithm and message-digest of a CMS signature's one signer.
fn signed_digest(cms: &[u8]) -> Result<(HashAlgorithm, Vec<u8>), PdfError> {
    let bad = |e: &dyn std::fmt::Display| PdfError::BadCms(e.to_string());
    let info = ContentInfo::from_der(cms).map_err(|e| bad(&e))?;
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(PdfError::BadCms("not SignedData".into()));
    }
    let signed: SignedData = info.content.decode_as().map_err(|e| bad(&e))?;
    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err(PdfError::BadCms("not exactly one signer".into()));
    };
    let hash = HashAlgorithm::from_oid(signer.digest_alg.oid).ok_or(PdfError::BadCms("an unknown digest".into()))?;
    let attributes = signer.signed_attrs.as_ref().ok_or(PdfError::BadCms("no signed attributes".into()))?;
    let digest: OctetString = single(attributes, rfc5911::ID_MESSAGE_DIGEST)
        .map_err(|e| bad(&e))?
        .ok_or(PdfError::BadCms("no message-digest".into()))?
        .decode_as()
        .map_err(|e| bad(&e))?;
    Ok((hash, digest.as_bytes().to_vec()))
}
