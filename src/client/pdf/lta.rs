//! PAdES B-LTA (ETSI EN 319 142-1 §5.5): after the signature, an incremental update adds a
//! Document Security Store with the validation data (the chain and the CA's CRL that esignd's
//! SignResponse carries), then a document time-stamp (`/DocTimeStamp`, `ETSI.RFC3161`) over the
//! whole file, DSS included, so that the proof of existence outlives the certificates
//! (`docs/long-term-validation.md`).

use lopdf::{Dictionary, Object};

use super::update::Update;
use super::{PdfError, syntax};

/// What goes into the DSS: DER certificates and CRLs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The signer's certificate.
    pub signer: Option<Vec<u8>>,
    /// The CA chain, CA certificate first.
    pub chain: Vec<Vec<u8>>,
    /// CRLs.
    pub crls: Vec<Vec<u8>>,
}

impl Evidence {
    /// The evidence of a GovStack SignResponse of esignd: its `certificate` (PEM) and
    /// `validationData` (base64 DER `certificates` and `crls`).
    ///
    /// # Errors
    /// [`PdfError::BadCms`] when the response carries no validation data.
    pub fn from_response(response: &serde_json::Value) -> Result<Self, PdfError> {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD;
        let list = |name: &str| -> Result<Vec<Vec<u8>>, PdfError> {
            let items = response["validationData"][name]
                .as_array()
                .ok_or_else(|| PdfError::BadCms(format!("the response has no validationData.{name}")))?;
            items
                .iter()
                .map(|item| item.as_str().and_then(|b64| STANDARD.decode(b64).ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| PdfError::BadCms(format!("validationData.{name} is not base64")))
        };
        let signer = response["certificate"]
            .as_str()
            .map(|pem| {
                <x509_cert::Certificate as der::DecodePem>::from_pem(pem)
                    .and_then(|c| der::Encode::to_der(&c))
                    .map_err(|e| PdfError::BadCms(format!("the response's certificate: {e}")))
            })
            .transpose()?;
        Ok(Self { signer, chain: list("certificates")?, crls: list("crls")? })
    }
}

/// Append to `pdf` an update adding `evidence` to its Document Security Store.
///
/// # Errors
/// [`PdfError`]: not a PDF.
pub fn add_dss(pdf: &mut Vec<u8>, evidence: &Evidence) -> Result<(), PdfError> {
    let tail = dss_update(pdf, evidence)?;
    pdf.extend_from_slice(&tail);
    Ok(())
}

/// The update adding `evidence` to `pdf`'s DSS.
fn dss_update(pdf: &mut [u8], evidence: &Evidence) -> Result<Vec<u8>, PdfError> {
    let document = super::load_structure_in_place(pdf)?;
    let pdf: &[u8] = pdf;
    let root = document
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::NotPdf("no /Root".into()))?;
    let mut catalog = document.get_dictionary(root).map_err(|_| PdfError::NotPdf("no catalog".into()))?.clone();
    let mut dss = match catalog.get(b"DSS") {
        Ok(Object::Reference(id)) => document.get_dictionary(*id).cloned().unwrap_or_default(),
        Ok(Object::Dictionary(inline)) => inline.clone(),
        _ => Dictionary::new(),
    };
    let mut update = Update::new(pdf, &document);
    let certificates: Vec<Vec<u8>> = evidence.signer.iter().chain(&evidence.chain).cloned().collect();
    for (key, items) in [(&b"Certs"[..], &certificates), (b"CRLs", &evidence.crls)] {
        let mut refs = match dss.get(key) {
            Ok(Object::Array(existing)) => existing.clone(),
            _ => Vec::new(),
        };
        for der in items {
            let id = update.new_id();
            update.put((id, 0), &syntax::stream(id, &Dictionary::new(), der));
            refs.push(Object::Reference((id, 0)));
        }
        dss.set(key.to_vec(), Object::Array(refs));
    }
    catalog.set("DSS", Object::Dictionary(dss));
    update.put_object(root, &Object::Dictionary(catalog));
    Ok(update.finish())
}
