//! What the reference device checks before it asks for the PIN: the signed attributes esignd
//! prepared must commit to the very digest the request shows (their message-digest), or a
//! compromised server could show one document and have another signed. The digest is shown to
//! the citizen as a fingerprint they can compare with the document's own.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use const_oid::db::rfc5911;
use der::Decode;
use der::asn1::OctetString;
use x509_cert::attr::Attributes;

use super::api::SigningRequest;
use crate::cms::attributes::single;

/// Why a request was not signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestCheckError {
    /// The request's digest or signed attributes are not readable.
    #[error("the request is malformed: {0}")]
    Malformed(&'static str),
    /// The signed attributes commit to another digest than the one shown.
    #[error("the signed attributes' message-digest is not the document digest shown; not signing")]
    DigestMismatch,
}

/// The document digest a request shows, once its signed attributes are checked to carry it.
///
/// # Errors
/// [`RequestCheckError`].
pub fn checked_digest(request: &SigningRequest) -> Result<Vec<u8>, RequestCheckError> {
    let shown = STANDARD.decode(&request.hash).map_err(|_| RequestCheckError::Malformed("hash is not base64"))?;
    let der = STANDARD
        .decode(&request.signed_attributes)
        .map_err(|_| RequestCheckError::Malformed("signedAttributes is not base64"))?;
    let attributes = Attributes::from_der(&der)
        .map_err(|_| RequestCheckError::Malformed("signedAttributes is not a SET OF Attribute"))?;
    let committed: OctetString = single(&attributes, rfc5911::ID_MESSAGE_DIGEST)
        .map_err(|_| RequestCheckError::Malformed("message-digest appears more than once"))?
        .ok_or(RequestCheckError::Malformed("signedAttributes has no message-digest"))?
        .decode_as()
        .map_err(|_| RequestCheckError::Malformed("message-digest is not an OCTET STRING"))?;
    if committed.as_bytes() != shown.as_slice() {
        return Err(RequestCheckError::DigestMismatch);
    }
    Ok(shown)
}

/// A digest as the citizen reads it: upper-case hex in groups of four.
pub fn fingerprint(digest: &[u8]) -> String {
    let hex = hex::encode_upper(digest);
    hex.as_bytes()
        .chunks(4)
        .map(|group| std::str::from_utf8(group).expect("hex is ASCII"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::cms::assemble::{cades_signed_attributes, to_be_signed};
    use crate::hsm::HashAlgorithm;
    use crate::vocabulary::Format;

    fn certificate() -> x509_cert::Certificate {
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
            .args(["-subj", "/CN=device", "-keyout", "/dev/null", "-outform", "DER"])
            .output()
            .expect("openssl is installed");
        x509_cert::Certificate::from_der(&out.stdout).unwrap()
    }

    fn request(shown: &[u8], committed: &[u8]) -> SigningRequest {
        let attributes = cades_signed_attributes(Format::Cades, committed, &certificate(), SystemTime::now()).unwrap();
        SigningRequest {
            request_id: "r".into(),
            data_to_be_displayed: "Lease".into(),
            hash_type: "SHA2-256".into(),
            hash: STANDARD.encode(shown),
            signed_attributes: STANDARD.encode(to_be_signed(&attributes).unwrap()),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            expires_at: String::new(),
        }
    }

    #[test]
    fn the_device_signs_only_the_digest_it_shows() {
        let lease = HashAlgorithm::Sha256.digest(b"Lease agreement");
        let loan = HashAlgorithm::Sha256.digest(b"Loan agreement, 50,000 EUR");
        assert_eq!(checked_digest(&request(&lease, &lease)).unwrap(), lease);
        assert_eq!(checked_digest(&request(&lease, &loan)), Err(RequestCheckError::DigestMismatch));
        let mut garbled = request(&lease, &lease);
        garbled.signed_attributes = STANDARD.encode(b"not DER");
        assert!(matches!(checked_digest(&garbled), Err(RequestCheckError::Malformed(_))));
    }

    #[test]
    fn a_fingerprint_reads_in_groups_of_four() {
        assert_eq!(fingerprint(&[0xab, 0xcd, 0x01, 0x23, 0x45]), "ABCD 0123 45");
    }
}
