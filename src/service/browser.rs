//! What the citizen's browser asks: the signing page (by session token, or the GovStack query
//! forms for registered eServices), Sign, Cancel, the ID provider's callback, and signing with
//! the user's own device from the page (the pseudonym form and the waiting page). Outcomes are
//! pages or redirects; nothing here redirects to a URL the eService did not register.

use std::time::Duration;

use super::onetime::SignRequest;
use super::request_objects::{RequestObjectError, SignedQuery};
use super::sessions::{Browser, Created, Lang, NewSession, Opened, Session, SessionError};
use super::{EsignService, ServiceError};
use crate::config::ClientConfig;
use crate::ids::random_hex;

/// Where a browser request leads.
#[derive(Debug)]
pub enum Page {
    /// Show the page for this session, giving the browser this binding cookie when it has none.
    Show {
        /// The session.
        session: Box<Session>,
        /// A new binding cookie's value, to set.
        binding: Option<String>,
    },
    /// Send the browser here.
    Redirect(String),
}

/// The GovStack query form of `/sign/interactive` and `/v1/sign/interactivePseudonym`, decoded
/// at the door.
#[derive(Clone, Debug)]
pub struct QueryForm {
    /// `client_id`, when given.
    pub client_id: Option<String>,
    /// `hash`, `hashType`, `format`, `dataToBeDisplayed`.
    pub request: SignRequest,
    /// `callbackUrl`.
    pub callback_url: String,
    /// `nonce`, echoed to the callback.
    pub nonce: Option<String>,
    /// `state`, echoed to the callback.
    pub state: Option<String>,
    /// `lang`.
    pub lang: Lang,
    /// The eService's signed request object these parameters came from; `None` for a plain
    /// query (taken only from a client with `allow_unsigned_query`).
    pub signed: Option<SignedQuery>,
    /// `paymentToken`, from the signed request object only.
    pub payment_token: Option<String>,
}

/// Why the pseudonym typed on the signing page did not work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceProblem {
    /// No device is enrolled under it.
    Unknown,
    /// Its certificate is suspended, revoked or expired.
    Unfit,
    /// Too many requests wait for it.
    Busy,
}

/// What choosing a device on the signing page came to.
#[derive(Debug)]
pub enum DeviceChoice {
    /// Queued: the browser waits at this URL.
    Waiting(String),
    /// The pseudonym did not work: show the page again, saying why.
    Refused {
        /// The session, still pending.
        session: Box<Session>,
        /// Why.
        problem: DeviceProblem,
    },
    /// The session is over: back to the eService.
    Back(String),
}

impl EsignService {
    /// `GET /sign/interactive?token=`: the pending session's page, the session bound to the
    /// `browser` that opens it.
    ///
    /// # Errors
    /// An invalid token; a used session; store failures.
    pub async fn signing_page(&self, token: &str, browser: &Browser) -> Result<Page, ServiceError> {
        Ok(match self.sessions.open(token).await? {
            Opened::Pending(session) => {
                let (session, binding) = self.sessions.bind(*session, browser).await?;
                Page::Show { session: Box::new(session), binding }
            }
            Opened::Over(back) => Page::Redirect(back),
        })
    }

    /// A query form's `request` (RFC 9101): verified with the keys the eService named by
    /// `client_id` registered, its `jti` spent. Its parameters make the [`QueryForm`].
    ///
    /// # Errors
    /// A missing or unknown `client_id`; a request object that does not verify, names another
    /// client or audience, has expired, lives too long or was used before; the eService's
    /// published keys or the store failing.
    pub async fn open_request_object(
        &self,
        client_id: Option<&str>,
        request: &str,
    ) -> Result<SignedQuery, ServiceError> {
        let client = self.callers.client_by_id(required_client_id(client_id)?)?;
        Ok(self.request_objects.open(self.core.store.as_ref(), client, request).await?)
    }

    /// `GET /sign/interactive?client_id=…&request=…`: a session for the registered eService
    /// named by `client_id`; returns the signing page's URL. Unsigned (no `request`), only from
    /// a client with `allow_unsigned_query`, and then without webhook or device.
    ///
    /// # Errors
    /// A missing or unknown `client_id`; an unsigned form from a client that signs; an
    /// unregistered callback; store and HSM failures.
    pub async fn page_from_query(&self, form: QueryForm) -> Result<String, ServiceError> {
        let client = self.callers.client_by_id(required_client_id(form.client_id.as_deref())?)?;
        let unsigned = match &form.signed {
            Some(signed) if signed.client_id() == client.id => false,
            Some(_) => return Err(RequestObjectError::WrongClient.into()),
            None if client.allow_unsigned_query => true,
            None => return Err(RequestObjectError::Required(client.id.clone()).into()),
        };
        Ok(self.query_session(client, form, unsigned).await?.redirect_url)
    }

    /// `GET /v1/sign/interactivePseudonym?client_id=…&request=…`: as [`Self::page_from_query`],
    /// always signed (it leads to the user's device); returns the session's token, whose page
    /// is shown at once, the pseudonym form first.
    ///
    /// # Errors
    /// As [`Self::page_from_query`]; an unsigned form.
    pub async fn session_from_pseudonym_query(&self, form: QueryForm) -> Result<String, ServiceError> {
        let signed = form.signed.as_ref().ok_or(RequestObjectError::RequiredForDevices)?;
        let client = self.callers.client_by_id(signed.client_id())?;
        Ok(self.query_session(client, form, false).await?.token)
    }

    async fn query_session(
        &self,
        client: &ClientConfig,
        form: QueryForm,
        unsigned: bool,
    ) -> Result<Created, ServiceError> {
        let payment = self.payment.verify(form.payment_token.as_deref()).await?;
        let new = NewSession {
            correlation_id: random_hex(16),
            digest: form.request.digest,
            format: form.request.format,
            data_to_be_displayed: form.request.data_to_be_displayed.unwrap_or_default(),
            callback_url: form.callback_url,
            webhook_url: None,
            lifetime: Duration::from_secs(600),
            lang: form.lang,
            pub_key_pem: None,
            eservice_nonce: form.nonce,
            eservice_state: form.state,
            unsigned_query: unsigned,
            payment,
            use_case: None,
            means: None,
        };
        self.sessions.create(client, new).await
    }

    /// `POST /sign/interactive/start`: where the browser goes to log in.
    ///
    /// # Errors
    /// An invalid token or used session; a browser or site that did not open the page; the ID
    /// provider's discovery failing.
    pub async fn start_login(&self, token: &str, browser: &Browser) -> Result<String, ServiceError> {
        self.sessions.start(token, browser).await
    }

    /// `POST /sign/interactive/cancel`: back to the eService with `error=cancelled`.
    ///
    /// # Errors
    /// An invalid token or used session; a browser or site that did not open the page.
    pub async fn cancel(&self, token: &str, browser: &Browser) -> Result<String, ServiceError> {
        self.sessions.cancel(token, browser).await
    }

    /// `GET /sign/oidc/callback`: the ID provider's answer; the signature is made now. Returns
    /// the eService callback with `signatureId` or `error`.
    ///
    /// # Errors
    /// A `state` that names no session in progress; a browser that did not press Sign.
    pub async fn login_callback(
        &self,
        state: Option<&str>,
        code: Option<&str>,
        error: Option<&str>,
        browser: &Browser,
    ) -> Result<String, ServiceError> {
        let state = state.ok_or(SessionError::UnknownState)?;
        self.sessions.callback(state, code, error, browser).await
    }

    /// `POST /sign/interactive/device`: queue the page's session for the device behind the
    /// pseudonym typed in.
    ///
    /// # Errors
    /// An invalid token or used session; a browser or site that did not open the page; store
    /// and CMS failures.
    pub async fn choose_device(
        &self,
        token: &str,
        pseudonym: &str,
        browser: &Browser,
    ) -> Result<DeviceChoice, ServiceError> {
        let session = match self.sessions.open(token).await? {
            Opened::Pending(session) => *session,
            Opened::Over(back) => return Ok(DeviceChoice::Back(back)),
        };
        self.sessions.check_browser(&session, browser, true).await?;
        if session.unsigned_query {
            return Err(RequestObjectError::RequiredForDevices.into());
        }
        let queued = match self.devices.signer(pseudonym.trim()).await {
            Ok(device) => self.requests.queue_pending(session.clone(), &device).await,
            Err(e) => Err(e),
        };
        let problem = match queued {
            Ok(()) => {
                let waiting = crate::identity::rp::form_component(token);
                return Ok(DeviceChoice::Waiting(format!("/sign/interactive/device?token={waiting}")));
            }
            Err(e) => match problem_of(&e) {
                Some(problem) => {
                    tracing::info!(error = %e, "the pseudonym typed on the signing page did not work");
                    problem
                }
                None => return Err(e),
            },
        };
        Ok(DeviceChoice::Refused { session: Box::new(session), problem })
    }

    /// `GET /sign/interactive/device?token=`: the waiting page while the device is asked, or on
    /// to the eService once it has answered (or the request ended).
    ///
    /// # Errors
    /// An invalid token; another browser's session; a session that never went to a device;
    /// store failures.
    pub async fn device_waiting(&self, token: &str, browser: &Browser) -> Result<Page, ServiceError> {
        let session = self.sessions.load_by_token(token).await?;
        self.sessions.same_browser(&session, browser)?;
        Ok(match self.requests.page_outcome(&session).await? {
            Some(back) => Page::Redirect(back),
            None => Page::Show { session: Box::new(session), binding: None },
        })
    }
}

/// The query's `client_id`, which every query form needs.
fn required_client_id(client_id: Option<&str>) -> Result<&str, SessionError> {
    client_id.filter(|id| !id.is_empty()).ok_or(SessionError::InvalidField {
        field: "client_id",
        reason: "a token, or the eService's client_id with its signed request",
    })
}

/// The page's words for a pseudonym that did not work, if that is what `e` says.
fn problem_of(e: &ServiceError) -> Option<DeviceProblem> {
    use super::device_requests::DeviceRequestError;
    use super::devices::DeviceError;
    match e {
        ServiceError::Device(DeviceError::UnknownPseudonym) => Some(DeviceProblem::Unknown),
        ServiceError::Device(DeviceError::Unfit(_)) => Some(DeviceProblem::Unfit),
        ServiceError::DeviceRequest(DeviceRequestError::Busy) => Some(DeviceProblem::Busy),
        _ => None,
    }
}
