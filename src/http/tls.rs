//! TLS on the public listener (`[server.tls] cert`, `key`: PEM files; rustls with ring). The
//! certificate is read at start and again on SIGHUP: new handshakes present the new one, open
//! connections keep the session they have (nothing is dropped). A reload that fails — a missing
//! file, a key that does not match — keeps the certificate in use and says why. eServices that
//! pin a client certificate (`[[clients]] cert_sha256`) present it in the handshake; its
//! SHA-256 travels with each request of the connection to the service, which checks it with
//! the API key.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::crypto::ring::default_provider;
use rustls::pki_types::UnixTime;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

/// Why a certificate and key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read or holds no PEM item of the kind needed.
    #[error("cannot read the TLS {what} from {path:?}: {reason}")]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key cannot be used, or does not belong to the certificate.
    #[error("the TLS key {path:?} cannot be used with its certificate: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The certificate and key files, and what was read from them last.
#[derive(Debug)]
pub struct ReloadableCertificate {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCertificate {
    /// Read `cert` (the chain, leaf first) and `key` now.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let current = RwLock::new(Arc::new(read(cert, key)?));
        Ok(Arc::new(Self { cert: cert.to_owned(), key: key.to_owned(), current }))
    }

    /// Read the files again; on failure the certificate in use stays.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = read(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    /// An acceptor presenting whatever certificate is current at each handshake; with
    /// `client_certificates`, it asks for (never requires) a client certificate, for the
    /// eServices that pin one (`[[clients]] cert_sha256`).
    pub fn acceptor(self: &Arc<Self>, client_certificates: bool) -> TlsAcceptor {
        let provider = Arc::new(default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let builder = if client_certificates {
            let verifier = PinnedClients { algorithms: provider.signature_verification_algorithms };
            builder.with_client_cert_verifier(Arc::new(verifier))
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadableCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner)))
    }
}

/// Client certificates for pinning: any certificate is taken whose holder proves its key in
/// the handshake (the signature checks below); who it belongs to is decided by its SHA-256
/// against `[[clients]] cert_sha256`, not by a CA. A connection without one is served too: an
/// eService that pins a certificate is refused at the call, not at the handshake.
#[derive(Debug)]
struct PinnedClients {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClients {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// SHA-256 of the client certificate a TLS connection presented, if any.
pub fn client_certificate_sha256<IO>(stream: &tokio_rustls::server::TlsStream<IO>) -> Option<[u8; 32]> {
    let certificate = stream.get_ref().1.peer_certificates()?.first()?;
    crate::service::HashAlgorithm::Sha256.digest(certificate.as_ref()).try_into().ok()
}

fn read(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|items| items.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Read { what: "certificate", path: cert.to_owned(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Read {
            what: "certificate",
            path: cert.to_owned(),
            reason: "no CERTIFICATE block".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Read {
        what: "key",
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = default_provider();
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::Key { path: key.to_owned(), reason: e.to_string() })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| TlsError::Key { path: key.to_owned(), reason: e.to_string() })?;
    Ok(certified)
}
