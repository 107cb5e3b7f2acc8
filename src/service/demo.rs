//! The demo profile (`[identity] mode = "mock"`, loopback only): the built-in mock ID provider
//! and the demo eService, as the façade offers them to the demo pages. The demo eService does
//! what an integrator's backend does — it creates a session for a digest the browser computed
//! and redeems the signature when the citizen comes back — through the same workflows as any
//! eService; the mock provider's tokens are signed by the service key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::demo::eservice::DemoShop;
use crate::demo::mock_idp::MockIdp;
pub use crate::demo::mock_idp::MockLogin;

use super::sessions::{Lang, NewSession};
use super::{EsignService, ServiceError, SessionError};
use crate::config::DEMO_CLIENT;
use crate::ids::random_hex;
use crate::vocabulary::{Digest, Format};

/// The demo profile's state.
pub(crate) struct Demo {
    idp: MockIdp,
    shop: DemoShop,
}

impl Demo {
    /// The demo of an esignd at `public_url`.
    pub fn new(public_url: &str) -> Self {
        Self { idp: MockIdp::new(public_url), shop: DemoShop::default() }
    }
}

/// Why the demo did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The download expired (or never was).
    #[error("this download has expired")]
    DownloadGone,
    /// The mock provider sends browsers back to esignd's callback only.
    #[error("unknown redirect_uri")]
    UnknownRedirect,
    /// The mock login form lacks a name or personal code, or names another redirect URI.
    #[error("Name, personal code and a known redirect_uri are required")]
    LoginIncomplete,
    /// The mock token endpoint refused the code.
    #[error(transparent)]
    Grant(#[from] crate::demo::mock_idp::InvalidGrant),
}

impl DemoError {
    /// What kind of failure it is.
    pub fn kind(&self) -> super::ErrorKind {
        match self {
            Self::DownloadGone => super::ErrorKind::NotFound,
            Self::UnknownRedirect | Self::LoginIncomplete | Self::Grant(_) => super::ErrorKind::Invalid,
        }
    }
}

/// A signature the demo eService collected.
#[derive(Clone, Debug)]
pub struct Collected {
    /// Where it can be downloaded (`/demo/download/{id}`).
    pub download_id: String,
    /// The download is the signed PDF (not a `.p7s`).
    pub pdf: bool,
    /// The time-stamp's genTime, seconds since the epoch (for `openssl cms -verify -attime`).
    pub gen_time: u64,
    /// The signer's certificate subject.
    pub subject: String,
}

/// The mock token endpoint's request.
#[derive(Clone, Debug)]
pub struct MockToken {
    /// The code.
    pub code: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The redirect URI the code was issued for.
    pub redirect_uri: String,
}

impl EsignService {
    /// esignd's public URL (the demo's result page shows commands that fetch from it).
    pub fn public_url(&self) -> &str {
        &self.core.public_url
    }

    /// Whether the demo profile is on.
    pub fn demo_enabled(&self) -> bool {
        self.demo.is_some()
    }

    fn demo(&self) -> Result<&Demo, ServiceError> {
        self.demo.as_ref().ok_or(ServiceError::NoDemo)
    }

    /// `POST /demo/start`: a session of the demo eService for the browser's SHA-256 digest;
    /// returns the signing page's URL.
    ///
    /// # Errors
    /// Store and HSM failures.
    pub async fn demo_start(&self, digest: Digest, file_name: Option<String>) -> Result<String, ServiceError> {
        self.demo()?;
        let file = file_name.unwrap_or_else(|| "the file".into());
        self.demo_session(random_hex(16), digest, Format::Cades, &file, None).await
    }

    /// `POST /demo/start-pdf`: the demo eService prepares the uploaded PDF (a signature field
    /// and placeholder, with the `esign` library), keeps it, and creates a PAdES session for the
    /// digest of its byte ranges; returns the signing page's URL. The session's `state` names it.
    ///
    /// # Errors
    /// A PDF the library refuses (not a PDF, encrypted); store and HSM failures.
    pub async fn demo_start_pdf(&self, mut pdf: Vec<u8>, file_name: Option<String>) -> Result<String, ServiceError> {
        let demo = self.demo()?;
        let options = crate::client::pdf::PrepareOptions {
            kind: crate::client::pdf::Kind::Signature { reason: Some("esignd demo".into()), location: None },
            ..Default::default()
        };
        let ranges = crate::client::pdf::prepare_appending(&mut pdf, &options)
            .map_err(|e| super::RequestError::unprocessable(e.to_string()))?;
        let prepared = pdf;
        let digest = Digest::new(ranges.hash, ranges.digest).map_err(|e| ServiceError::damaged("PDF digest", e))?;
        let correlation_id = random_hex(16);
        let file = file_name.unwrap_or_else(|| "the PDF".into());
        let state = Some(correlation_id.clone());
        let redirect = self.demo_session(correlation_id.clone(), digest, Format::Pades, &file, state).await?;
        demo.shop.keep_prepared(&correlation_id, prepared);
        Ok(redirect)
    }

    /// A session of the demo eService for `digest` in `format`, showing `file`'s name, its
    /// callback carrying `state`; the signing page's URL.
    async fn demo_session(
        &self,
        correlation_id: String,
        digest: Digest,
        format: Format,
        file: &str,
        state: Option<String>,
    ) -> Result<String, ServiceError> {
        let client = self.callers.client_by_id(DEMO_CLIENT)?;
        let new = NewSession {
            correlation_id,
            digest,
            format,
            data_to_be_displayed: format!("Demo: {}", file.chars().take(200).collect::<String>()),
            callback_url: client.callback_urls[0].clone(),
            webhook_url: None,
            lifetime: std::time::Duration::from_secs(600),
            lang: Lang::En,
            pub_key_pem: None,
            eservice_nonce: None,
            eservice_state: state,
            unsigned_query: false,
            payment: None,
            use_case: None,
            means: None,
        };
        Ok(self.sessions.create(client, new).await?.redirect_url)
    }

    /// `GET /demo/done`: redeem the signature for the demo eService and keep it for download —
    /// embedded into its prepared PDF when the session (`state`) was a PDF's.
    ///
    /// # Errors
    /// [`SessionError::UnknownSignature`] when it was collected already or expired; a
    /// SignResponse the demo cannot read; store failures.
    pub async fn demo_collect(&self, signature_id: &str, state: Option<&str>) -> Result<Collected, ServiceError> {
        let demo = self.demo()?;
        let client = self.callers.client_by_id(DEMO_CLIENT)?;
        let response = self.sessions.redeem(client, signature_id).await?.ok_or(SessionError::UnknownSignature)?;
        let (p7s, gen_time, subject) = read_sign_response(&response)
            .ok_or_else(|| ServiceError::damaged("SignResponse", "the demo cannot read it"))?;
        if let Some(mut pdf) = state.and_then(|state| demo.shop.take_prepared(state)) {
            crate::client::pdf::embed(&mut pdf, &p7s).map_err(|e| ServiceError::damaged("signed PDF", e))?;
            return Ok(Collected { download_id: demo.shop.keep(pdf), pdf: true, gen_time, subject });
        }
        Ok(Collected { download_id: demo.shop.keep(p7s), pdf: false, gen_time, subject })
    }

    /// `GET /demo/download/{id}`: a collected signature, for a while.
    ///
    /// # Errors
    /// [`DemoError::DownloadGone`].
    pub fn demo_download(&self, id: &str) -> Result<Vec<u8>, ServiceError> {
        Ok(self.demo()?.shop.get(id).ok_or(DemoError::DownloadGone)?)
    }

    /// `GET /demo/id-token`: a mock ID-provider access token (typed `at+jwt`, RFC 9068) for
    /// `purpose`'s audience, its login `login_age_secs` ago.
    ///
    /// # Errors
    /// HSM failures.
    pub async fn demo_id_token(
        &self,
        name: &str,
        subject: &str,
        purpose: MockPurpose,
        login_age_secs: u32,
    ) -> Result<String, ServiceError> {
        let audience = match purpose {
            MockPurpose::Devices => &self.device_audience,
            MockPurpose::Signing => &self.identity.config().audience,
        };
        let claims = self.demo()?.idp.access_token_claims(name, subject, audience, login_age_secs);
        Ok(self.core.engine.sign_jws("at+jwt", claims.to_string().into_bytes()).await?)
    }

    /// The mock provider's discovery document.
    ///
    /// # Errors
    /// [`ServiceError::NoDemo`].
    pub fn mock_discovery(&self) -> Result<serde_json::Value, ServiceError> {
        Ok(self.demo()?.idp.discovery())
    }

    /// Check that the mock provider may send a browser back to `redirect_uri` (esignd's
    /// callback only).
    ///
    /// # Errors
    /// [`DemoError::UnknownRedirect`].
    pub fn mock_redirect(&self, redirect_uri: &str) -> Result<(), ServiceError> {
        match self.demo()?.idp.redirect_allowed(redirect_uri) {
            true => Ok(()),
            false => Err(DemoError::UnknownRedirect.into()),
        }
    }

    /// The mock login page's answer: where the browser goes, with a code.
    ///
    /// # Errors
    /// A missing name or personal code, or a redirect URI that is not esignd's callback.
    pub fn mock_login(&self, login: &MockLogin) -> Result<String, ServiceError> {
        let demo = self.demo()?;
        if !demo.idp.redirect_allowed(&login.redirect_uri)
            || login.name.trim().is_empty()
            || login.subject.trim().is_empty()
        {
            return Err(DemoError::LoginIncomplete.into());
        }
        let code = demo.idp.grant(login);
        let query = crate::identity::rp::form_encode(&[("code", &code), ("state", &login.state)]);
        Ok(format!("{}?{query}", login.redirect_uri))
    }

    /// The mock token endpoint: an ID token signed by the service key for a code.
    ///
    /// # Errors
    /// `invalid_grant` (400); HSM failures.
    pub async fn mock_token(&self, request: &MockToken) -> Result<String, ServiceError> {
        let claims = self
            .demo()?
            .idp
            .exchange(&request.code, &request.verifier, &request.redirect_uri)
            .map_err(DemoError::from)?;
        self.core.sign_claims(&claims).await
    }
}

/// What a demo access token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockPurpose {
    /// Device management (`/v1/cert/*`, wallet binding): `[devices] audience`.
    Devices,
    /// `POST /v1/sign/onetime`: `[identity] audience`.
    Signing,
}

/// What the result page needs from a SignResponse: the `.p7s`, the time-stamp's genTime and
/// the signer's subject.
fn read_sign_response(response: &str) -> Option<(Vec<u8>, u64, String)> {
    let response: serde_json::Value = serde_json::from_str(response).ok()?;
    let field = |name: &str| response[name].as_str().map(str::to_owned);
    let p7s = STANDARD.decode(field("signature")?).ok()?;
    let token = STANDARD.decode(field("signatureTimestamp")?).ok()?;
    let gen_time = crate::tsa::verify::tst_info(&token).ok()?.gen_time.to_system_time();
    let (_, der) = der::pem::decode_vec(field("certificate")?.as_bytes()).ok()?;
    let certificate: x509_cert::Certificate = der::Decode::from_der(&der).ok()?;
    let gen_time = gen_time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some((p7s, gen_time, certificate.tbs_certificate().subject().to_string()))
}
