//! PEM certificate chains: what `esignctl ca show` prints and `esignctl ca import --chain` reads.

use der::EncodePem;
use der::pem::LineEnding;
use x509_cert::Certificate;

/// Parse every `CERTIFICATE` block of a PEM file, in file order.
///
/// # Errors
/// When the text is not PEM or a block is not a certificate; an empty file is an error too.
pub fn read_chain(pem: &[u8]) -> der::Result<Vec<Certificate>> {
    let chain = Certificate::load_pem_chain(pem)?;
    if chain.is_empty() {
        return Err(der::ErrorKind::Length { tag: der::Tag::Sequence }.into());
    }
    Ok(chain)
}

/// PEM text of `chain`, one block per certificate, in order.
///
/// # Errors
/// Only on an encoding failure.
pub fn write_chain<'a>(chain: impl IntoIterator<Item = &'a Certificate>) -> der::Result<String> {
    chain.into_iter().map(|cert| cert.to_pem(LineEnding::LF)).collect()
}
