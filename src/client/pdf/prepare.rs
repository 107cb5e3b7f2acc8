//! `esign pdf prepare`: an incremental update that adds a signature field on the first page (an
//! invisible widget), its signature dictionary with a `/Contents` placeholder and the
//! `/ByteRange` around it, and returns the digest of those ranges — what the eService sends to
//! esignd. The original bytes are written first and unchanged, so earlier signatures stay valid.

use std::io::Write;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::update::Update;
use super::{PdfError, syntax};
use crate::hsm::HashAlgorithm;

/// Placeholder bytes reserved for the CMS by default: a CAdES B-T signature of esignd with its
/// certificates and time-stamp is 3–6 KB; RSA-3072 chains and external TSAs add more.
pub const DEFAULT_RESERVE: usize = 16 * 1024;

/// Width of each `/ByteRange` number: the array is written before the offsets are known and
/// patched in place.
const RANGE_WIDTH: usize = 10;

/// What the signature will be.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A PAdES signature (`/Type /Sig`, `ETSI.CAdES.detached`).
    Signature {
        /// `/Reason`.
        reason: Option<String>,
        /// `/Location`.
        location: Option<String>,
    },
    /// A document time-stamp (`/Type /DocTimeStamp`, `ETSI.RFC3161`), for PAdES B-LTA.
    DocTimeStamp,
}

/// How to prepare.
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    /// The field's name (`/T`); by default the first free `Signature<n>`.
    pub field: Option<String>,
    /// Signature or document time-stamp.
    pub kind: Kind,
    /// Bytes reserved for the CMS or time-stamp token.
    pub reserve: usize,
    /// The digest algorithm of the byte ranges.
    pub hash: HashAlgorithm,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            field: None,
            kind: Kind::Signature { reason: None, location: None },
            reserve: DEFAULT_RESERVE,
            hash: HashAlgorithm::Sha256,
        }
    }
}

/// A prepared signature: the field's name, the byte ranges and their digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The field's name.
    pub field: String,
    /// `/ByteRange`: start and length of the two signed ranges.
    pub byte_range: [usize; 4],
    /// The digest of the ranges.
    pub digest: Vec<u8>,
    /// Its algorithm.
    pub hash: HashAlgorithm,
}

/// Write `original` and an update preparing a signature to `out`. `original` is borrowed
/// mutably only so that its structure can be read without copying large streams
/// ([`super::load_structure_in_place`]); its bytes are as they were when this returns.
///
/// # Errors
/// [`PdfError`]: not a PDF, encrypted, no page, a field name taken; write failures.
pub fn prepare(original: &mut [u8], options: &PrepareOptions, out: &mut impl Write) -> Result<Prepared, PdfError> {
    let (prepared, tail) = prepare_tail(original, options)?;
    out.write_all(original).and_then(|()| out.write_all(&tail)).map_err(|e| PdfError::Io(e.to_string()))?;
    Ok(prepared)
}

/// As [`prepare`], appending the update to `pdf` itself (one copy of the document in memory).
///
/// # Errors
/// As [`prepare`].
pub fn prepare_appending(pdf: &mut Vec<u8>, options: &PrepareOptions) -> Result<Prepared, PdfError> {
    let (prepared, tail) = prepare_tail(pdf, options)?;
    pdf.extend_from_slice(&tail);
    Ok(prepared)
}

/// The prepared signature and the update that prepares it.
fn prepare_tail(original: &mut [u8], options: &PrepareOptions) -> Result<(Prepared, Vec<u8>), PdfError> {
    let document = super::load_structure_in_place(original)?;
    let original: &[u8] = original;
    if document.was_encrypted() || document.trailer.get(b"Encrypt").is_ok() {
        return Err(PdfError::Encrypted);
    }
    let root = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::NotPdf("no /Root".into()))?;
    let catalog = document.get_dictionary(root).map_err(|_| PdfError::NotPdf("no catalog".into()))?.clone();
    let page_id = *document.get_pages().get(&1).ok_or(PdfError::NoPage)?;
    let page = document.get_dictionary(page_id).map_err(|_| PdfError::NoPage)?.clone();

    // The form: an indirect /AcroForm is replaced under its own number, an inline one (or none)
    // goes into a replaced catalog.
    let acro_form_ref = catalog.get(b"AcroForm").and_then(Object::as_reference).ok();
    let mut acro_form = match catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => {
            document.get_dictionary(*id).map_err(|_| PdfError::NotPdf("a broken /AcroForm".into()))?.clone()
        }
        Ok(Object::Dictionary(inline)) => inline.clone(),
        _ => Dictionary::new(),
    };
    let mut fields = resolve_array(&document, acro_form.get(b"Fields").ok());
    let taken = field_names(&document, &fields);
    let field = match &options.field {
        Some(name) if taken.contains(name) => return Err(PdfError::FieldTaken(name.clone())),
        Some(name) => name.clone(),
        None => {
            let prefix = match options.kind {
                Kind::Signature { .. } => "Signature",
                Kind::DocTimeStamp => "DocumentTimeStamp",
            };
            (1..).map(|n| format!("{prefix}{n}")).find(|name| !taken.contains(name)).expect("a free name")
        }
    };

    let mut update = Update::new(original, &document);
    let signature_id = (update.new_id(), 0);
    let widget_id = (update.new_id(), 0);

    let (signature, contents_at) = signature_dictionary(&options.kind, options.reserve);
    let signature_text = format!("{} 0 obj\n{signature}\nendobj\n", signature_id.0);
    let signature_at =
        update.put(signature_id, signature_text.as_bytes()) + format!("{} 0 obj\n", signature_id.0).len();

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", syntax::text_string(&field));
    widget.set("V", Object::Reference(signature_id));
    widget.set("Rect", Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]));
    widget.set("F", Object::Integer(132));
    widget.set("P", Object::Reference(page_id));
    update.put_object(widget_id, &Object::Dictionary(widget));

    let mut page = page;
    let mut annots = resolve_array(&document, page.get(b"Annots").ok());
    annots.push(Object::Reference(widget_id));
    page.set("Annots", Object::Array(annots));
    update.put_object(page_id, &Object::Dictionary(page));

    fields.push(Object::Reference(widget_id));
    acro_form.set("Fields", Object::Array(fields));
    acro_form.set("SigFlags", Object::Integer(3));
    match acro_form_ref {
        Some(id) => {
            update.put_object(id, &Object::Dictionary(acro_form));
        }
        None => {
            let mut catalog = catalog;
            catalog.set("AcroForm", Object::Dictionary(acro_form));
            update.put_object(root, &Object::Dictionary(catalog));
        }
    }
    let mut tail = update.finish();

    // The ranges around the placeholder, patched into the /ByteRange written with it.
    let total = original.len() + tail.len();
    let contents_start = signature_at + contents_at;
    let contents_end = contents_start + 2 + 2 * options.reserve;
    let byte_range = [0, contents_start, contents_end, total - contents_end];
    let range_text = format!("[0 {:<w$} {:<w$} {:<w$}]", byte_range[1], byte_range[2], byte_range[3], w = RANGE_WIDTH);
    let range_at = signature_at - original.len() + signature.find("/ByteRange ").expect("written above") + 11;
    tail[range_at..range_at + range_text.len()].copy_from_slice(range_text.as_bytes());

    let split = contents_start - original.len();
    let digest = options.hash.digest_parts(&[original, &tail[..split], &tail[contents_end - original.len()..]]);
    Ok((Prepared { field, byte_range, digest, hash: options.hash }, tail))
}

/// The signature dictionary with its placeholders, and where `<` of `/Contents` stands in it.
fn signature_dictionary(kind: &Kind, reserve: usize) -> (String, usize) {
    let placeholder = format!("[0 {:w$} {:w$} {:w$}]", "", "", "", w = RANGE_WIDTH);
    let mut text = match kind {
        Kind::Signature { reason, location } => {
            let now = time_string();
            let mut text = format!("<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M {now}");
            for (key, value) in [("Reason", reason), ("Location", location)] {
                if let Some(value) = value {
                    text.push_str(&format!(" /{key} {}", syntax::object(&syntax::text_string(value))));
                }
            }
            text
        }
        Kind::DocTimeStamp => "<</Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161".to_owned(),
    };
    text.push_str(&format!(" /ByteRange {placeholder} /Contents "));
    let contents_at = text.len();
    text.push('<');
    text.push_str(&"0".repeat(2 * reserve));
    text.push_str(">>>");
    (text, contents_at)
}

/// Now as a PDF date string, `(D:YYYYMMDDHHmmSSZ)`, hex-encoded.
fn time_string() -> String {
    let now = crate::vocabulary::rfc3339(std::time::SystemTime::now());
    let digits: String = now.chars().filter(char::is_ascii_digit).take(14).collect();
    syntax::object(&syntax::text_string(&format!("D:{digits}Z")))
}

/// The items of an array given inline or by reference (empty when absent or not an array).
fn resolve_array(document: &Document, value: Option<&Object>) -> Vec<Object> {
    match value {
        Some(Object::Array(items)) => items.clone(),
        Some(Object::Reference(id)) => {
            document.get_object(*id).ok().and_then(|o| o.as_array().ok()).cloned().unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// The names (`/T`) of the form's top-level fields.
fn field_names(document: &Document, fields: &[Object]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|field| field.as_reference().ok())
        .filter_map(|id: ObjectId| document.get_dictionary(id).ok())
        .filter_map(|field| field.get(b"T").ok())
        .filter_map(|name| match name {
            Object::String(bytes, _) => {
                Some(lopdf::decode_text_string(name).unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned()))
            }
            _ => None,
        })
        .collect()
}
