//! `esign verify`: what a relying party checks of a signature esignd made, one line per check,
//! for a detached CAdES signature over a file or for every signature and document time-stamp
//! of a PDF:
//!
//! - integrity: the CMS verifies and its message-digest is the document's (a PDF's byte ranges);
//! - time-stamp: the signature-time-stamp covers the signature value, and the TSA's certificate
//!   chains to the trust anchors at genTime (a document time-stamp: it covers the byte ranges);
//! - chain: the signer's certificate chains to the trust anchors at genTime, not today (a
//!   one-time certificate lives a minute);
//! - times: `notBefore ≤ signing-time ≤ genTime ≤ notAfter`.
//!
//! Revocation is not checked here: the evidence esignd hands out (`validationData`, a PDF's DSS)
//! is for validators such as `openssl -crl_check` and pyHanko's AdES validator.

use cms::cert::CertificateChoices;
use const_oid::db::rfc3161;
use der::{Decode, Encode};
use lopdf::Object;
use x509_cert::Certificate;

use super::pdf::range_digest;
use crate::cms::attributes::single;
use crate::cms::verify::verify as verify_cms;
use crate::hsm::HashAlgorithm;
use crate::pki::path::verify_path;
use crate::tsa::builtin::sha256_imprint;
use crate::tsa::verify::verify_token;

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Which signature (a PDF field's name, or `signature`).
    pub subject: String,
    /// What was checked.
    pub what: &'static str,
    /// `Ok(detail)` or `Err(why)`.
    pub outcome: Result<String, String>,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Ok(detail) => write!(f, "ok    {}: {}: {detail}", self.subject, self.what),
            Err(why) => write!(f, "FAIL  {}: {}: {why}", self.subject, self.what),
        }
    }
}

/// The checks of a detached CAdES signature `cms` over `document`, trusting `anchors`.
pub fn detached(document: &[u8], cms: &[u8], anchors: &[Certificate]) -> Vec<Check> {
    let mut checks = Vec::new();
    signature(&mut checks, "signature", cms, |hash| hash.digest(document), anchors);
    checks
}

/// The checks of every signature and document time-stamp in `pdf`, trusting `anchors`.
pub fn pdf(pdf: &[u8], anchors: &[Certificate]) -> Vec<Check> {
    let mut checks = Vec::new();
    let document = match super::pdf::load_structure(pdf) {
        Ok(document) => document,
        Err(e) => {
            checks.push(Check { subject: "file".into(), what: "PDF", outcome: Err(e.to_string()) });
            return checks;
        }
    };
    let mut found = 0;
    for (&id, object) in &document.objects {
        let Ok(dictionary) = object.as_dict() else { continue };
        let kind = dictionary.get(b"Type").and_then(Object::as_name).unwrap_or_default();
        if kind != b"Sig" && kind != b"DocTimeStamp" {
            continue;
        }
        let (Ok(range), Ok(Object::String(contents, _))) = (dictionary.get(b"ByteRange"), dictionary.get(b"Contents"))
        else {
            continue;
        };
        found += 1;
        let subject =
            format!("{} {} (object {})", if kind == b"Sig" { "signature" } else { "document time-stamp" }, found, id.0);
        let range: Option<[usize; 4]> = range
            .as_array()
            .ok()
            .and_then(|items| {
                items.iter().map(|i| i.as_i64().ok().and_then(|n| usize::try_from(n).ok())).collect::<Option<Vec<_>>>()
            })
            .and_then(|v| v.try_into().ok());
        let within =
            |r: &[usize; 4]| r[0] == 0 && r[1] <= r[2] && r[2].checked_add(r[3]).is_some_and(|end| end <= pdf.len());
        let Some(range) = range.filter(within) else {
            checks.push(Check { subject, what: "byte range", outcome: Err("malformed /ByteRange".into()) });
            continue;
        };
        let covers = if range[2] + range[3] == pdf.len() { "the whole file" } else { "the file up to a later update" };
        checks.push(Check { subject: subject.clone(), what: "byte range", outcome: Ok(covers.into()) });
        let cms = trim_padding(contents);
        if kind == b"Sig" {
            signature(&mut checks, &subject, cms, |hash| range_digest(pdf, range, hash), anchors);
        } else {
            document_timestamp(&mut checks, &subject, cms, range_digest(pdf, range, HashAlgorithm::Sha256), anchors);
        }
    }
    if found == 0 {
        checks.push(Check {
            subject: "file".into(),
            what: "signatures",
            outcome: Err("the PDF has no signature".into()),
        });
    }
    checks
}

/// The DER value inside a zero-padded `/Contents`.
fn trim_padding(contents: &[u8]) -> &[u8] {
    // A DER SEQUENCE's length says where it ends; the rest is padding.
    let length = || -> Option<usize> {
        use der::{Decode as _, Reader as _};
        let mut reader = der::SliceReader::new(contents).ok()?;
        let header = der::Header::decode(&mut reader).ok()?;
        usize::try_from((reader.position() + header.length()).ok()?).ok()
    };
    match length() {
        Some(len) if len <= contents.len() => &contents[..len],
        _ => contents,
    }
}

fn signature(
    checks: &mut Vec<Check>,
    subject: &str,
    cms: &[u8],
    document_digest: impl Fn(HashAlgorithm) -> Vec<u8>,
    anchors: &[Certificate],
) {
    let mut check = |what, outcome| checks.push(Check { subject: subject.to_owned(), what, outcome });
    // The document is hashed with the signer's digest algorithm.
    let hash = signer_hash(cms).unwrap_or(HashAlgorithm::Sha256);
    let verified = match verify_cms(cms, Some(&document_digest(hash)), &[]) {
        Ok(verified) => verified,
        Err(e) => return check("integrity", Err(e.to_string())),
    };
    let signer = verified.signer.tbs_certificate().subject().to_string();
    check("integrity", Ok(format!("signed by {signer}")));

    let token = verified
        .signer_info
        .unsigned_attrs
        .as_ref()
        .and_then(|attrs| single(attrs, rfc3161::ID_AA_TIME_STAMP_TOKEN).ok().flatten())
        .and_then(|any| any.to_der().ok());
    let Some(token) = token else {
        return check("time-stamp", Err("no signature-time-stamp (not B-T)".into()));
    };
    let gen_time = match sha256_imprint(verified.signer_info.signature.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|imprint| verify_token(&token, &imprint, None, anchors).map_err(|e| e.to_string()))
    {
        Ok(stamped) => {
            let gen_time = stamped.tst_info.gen_time.to_system_time();
            check("time-stamp", Ok(format!("genTime {}, TSA trusted", crate::vocabulary::rfc3339(gen_time))));
            gen_time
        }
        Err(e) => return check("time-stamp", Err(e)),
    };

    let intermediates = certificates_of(cms);
    check(
        "chain",
        verify_path(&verified.signer, &intermediates, anchors, gen_time)
            .map(|()| "trusted at genTime".to_owned())
            .map_err(|e| e.to_string()),
    );
    let validity = verified.signer.tbs_certificate().validity();
    let (not_before, not_after) = (validity.not_before.to_system_time(), validity.not_after.to_system_time());
    let signing = verified.signing_time.unwrap_or(gen_time);
    let show = crate::vocabulary::rfc3339;
    let in_order = not_before <= signing && signing <= gen_time && gen_time <= not_after;
    let times = format!(
        "notBefore {} ≤ signing {} ≤ genTime {} ≤ notAfter {}",
        show(not_before),
        show(signing),
        show(gen_time),
        show(not_after)
    );
    check("times", if in_order { Ok(times) } else { Err(format!("out of order: {times}")) });
}

fn document_timestamp(checks: &mut Vec<Check>, subject: &str, token: &[u8], digest: Vec<u8>, anchors: &[Certificate]) {
    let outcome = der::asn1::OctetString::new(digest)
        .map_err(|e| e.to_string())
        .map(|hashed| crate::tsa::asn1::MessageImprint {
            hash_algorithm: HashAlgorithm::Sha256.algorithm_identifier(),
            hashed_message: hashed,
        })
        .and_then(|imprint| verify_token(token, &imprint, None, anchors).map_err(|e| e.to_string()))
        .map(|stamped| {
            format!(
                "covers the byte ranges, genTime {}, TSA trusted",
                crate::vocabulary::rfc3339(stamped.tst_info.gen_time.to_system_time())
            )
        });
    checks.push(Check { subject: subject.to_owned(), what: "time-stamp", outcome });
}

/// The certificates a CMS carries.
fn certificates_of(cms: &[u8]) -> Vec<Certificate> {
    let Ok(info) = cms::content_info::ContentInfo::from_der(cms) else { return Vec::new() };
    let Ok(signed) = info.content.decode_as::<cms::signed_data::SignedData>() else { return Vec::new() };
    signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(cert) => Some(cert.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect()
}

/// The digest algorithm of a CMS's first signer.
fn signer_hash(cms: &[u8]) -> Option<HashAlgorithm> {
    let info = cms::content_info::ContentInfo::from_der(cms).ok()?;
    let signed = info.content.decode_as::<cms::signed_data::SignedData>().ok()?;
    HashAlgorithm::from_oid(signed.signer_infos.0.as_slice().first()?.digest_alg.oid)
}

/// Whether every check passed.
pub fn all_passed(checks: &[Check]) -> bool {
    !checks.is_empty() && checks.iter().all(|c| c.outcome.is_ok())
}
