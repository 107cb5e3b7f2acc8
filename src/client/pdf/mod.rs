//! PDFs for the integrator: prepare a signature field and the digest esignd signs
//! ([`prepare()`]), then put esignd's CMS into it ([`embed()`]). Parsing is `lopdf`'s; the
//! incremental update is written here, after the original bytes, which are never rewritten.

mod embed;
mod lta;
mod prepare;
mod syntax;
mod update;

pub use embed::{fill, placeholder, range_digest};
pub use lta::{Evidence, add_dss};
pub use prepare::{DEFAULT_RESERVE, Kind, PrepareOptions, Prepared, prepare};

/// Why a PDF could not be prepared or signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    /// It does not parse as a PDF.
    #[error("not a PDF esign can read: {0}")]
    NotPdf(String),
    /// It is encrypted.
    #[error("the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)")]
    Encrypted,
    /// It has no page to put the field on.
    #[error("the PDF has no page")]
    NoPage,
    /// The field name is in use.
    #[error("the form already has a field named {0:?}; choose another with --field")]
    FieldTaken(String),
    /// No prepared, unfilled signature.
    #[error("no prepared signature placeholder in this PDF; run `esign pdf prepare` first")]
    NoPlaceholder,
    /// The CMS does not fit.
    #[error("the signature is {needed} bytes but the placeholder holds {room}; prepare again with a larger --reserve")]
    TooLarge {
        /// Its size.
        needed: usize,
        /// The placeholder's.
        room: usize,
    },
    /// The CMS signs another digest than the prepared ranges'.
    #[error("the signature is for another document: its message-digest is not the prepared digest")]
    DigestMismatch,
    /// The signature is not a CMS esign understands.
    #[error("the signature is not a usable CMS: {0}")]
    BadCms(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

/// Parse `pdf`'s object structure without keeping its content streams: pages, fonts and images
/// are dropped as they are read (object and cross-reference streams are kept: they hold
/// objects), so a 100 MB PDF is not held twice in memory.
///
/// # Errors
/// [`PdfError::NotPdf`].
pub fn load_structure(pdf: &[u8]) -> Result<lopdf::Document, PdfError> {
    // lopdf keeps a top-level object as the filter leaves it, and an object from an object
    // stream as the filter returns it. A content left empty would be read again (lopdf's repair
    // of indirect /Length), so one byte stands in for it.
    fn drop_content(id: lopdf::ObjectId, object: &mut lopdf::Object) -> Option<(lopdf::ObjectId, lopdf::Object)> {
        if let lopdf::Object::Stream(stream) = object {
            let kind = stream.dict.get(b"Type").and_then(lopdf::Object::as_name).unwrap_or_default();
            if kind != b"ObjStm" && kind != b"XRef" {
                stream.content = vec![0];
            }
        }
        Some((id, object.clone()))
    }
    let options = lopdf::LoadOptions { filter: Some(drop_content), ..lopdf::LoadOptions::default() };
    lopdf::Document::load_mem_with_options(pdf, options).map_err(|e| PdfError::NotPdf(e.to_string()))
}

/// Put `cms` (DER, from a SignResponse's `signature`) into `pdf`'s prepared placeholder, in
/// place.
///
/// # Errors
/// [`PdfError`]: no placeholder, a CMS for another digest or too large for it.
pub fn embed(pdf: &mut [u8], cms: &[u8]) -> Result<(), PdfError> {
    let range = placeholder(pdf)?;
    embed::embed_cms(pdf, range, cms)
}
