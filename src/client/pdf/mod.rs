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
pub use prepare::{DEFAULT_RESERVE, Kind, PrepareOptions, Prepared, prepare, prepare_appending};

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

/// Streams at least this long are hidden from the parser by [`load_structure_in_place`].
const LARGE_STREAM: u64 = 64 * 1024;

/// [`load_structure`] without ever copying a large stream body: while lopdf parses, the
/// `/Length` key of every direct-length stream of at least [`LARGE_STREAM`] bytes (but object
/// and cross-reference streams, which hold objects) is renamed in place to `/LengtX`, so lopdf
/// records where the body starts instead of copying it; the bytes are put back before this
/// returns, whatever the outcome. So a 100 MB PDF is held once.
///
/// # Errors
/// [`PdfError::NotPdf`].
pub fn load_structure_in_place(pdf: &mut [u8]) -> Result<lopdf::Document, PdfError> {
    let hidden = hide_large_streams(pdf);
    let loaded = load_structure(pdf);
    for at in hidden {
        pdf[at + 6] = b'h';
    }
    loaded
}

/// Rename `/Length` to `/LengtX` where it gives a large direct length of a content stream;
/// returns where each renamed key starts.
fn hide_large_streams(pdf: &mut [u8]) -> Vec<usize> {
    const KEY: &[u8] = b"/Length";
    let mut hidden = Vec::new();
    let keys: Vec<usize> = memchr::memmem::find_iter(pdf, KEY).collect();
    for at in keys {
        let from = at + KEY.len();
        let rest = &pdf[from..pdf.len().min(from + 24)];
        // `/Length`, whitespace, digits (not `/Length1`, not an indirect `n 0 R`).
        if !rest.first().is_some_and(u8::is_ascii_whitespace) {
            continue;
        }
        let digits: Vec<u8> = rest[1..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        let Some(length) = std::str::from_utf8(&digits).ok().and_then(|d| d.parse::<u64>().ok()) else { continue };
        let after =
            rest[1..].iter().skip_while(|b| b.is_ascii_whitespace()).skip(digits.len()).copied().collect::<Vec<u8>>();
        let indirect = after.iter().skip_while(|b| b.is_ascii_whitespace()).take(1).any(u8::is_ascii_digit);
        if length < LARGE_STREAM || indirect {
            continue;
        }
        // The dictionary around it must not be an object or cross-reference stream's.
        let window = &pdf[at.saturating_sub(1024)..pdf.len().min(at + 1024)];
        let holds_objects = window.windows(7).any(|w| w == b"/ObjStm") || window.windows(5).any(|w| w == b"/XRef");
        if !holds_objects {
            pdf[at + 6] = b'X';
            hidden.push(at);
        }
    }
    hidden
}

/// Parse `pdf`'s object structure without keeping its content streams: pages, fonts and images
/// are dropped as they are read (object and cross-reference streams are kept: they hold
/// objects).
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
