//! What registered eServices ask (header `apikey`): create a signing session, poll it, redeem a
//! signature once, get a pseudonym token, and sign by pseudonym — queued for the user's device
//! with the token, or sent to the GovStack pseudonym page without one.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::callers::{Credential, callback_allowed};
use super::device_requests::{Progress, PseudonymRequest};
use super::onetime::SignRequest;
use super::payment::Paid;
use super::sessions::{Created, Lang, NewSession, Session, SessionError, check_echoed};
use super::{EsignService, RequestError, ServiceError};
use crate::config::ClientConfig;
use crate::identity::rp::form_encode;
use crate::ids::random_hex;

/// What a redemption finds.
#[derive(Clone, Debug)]
pub enum Redemption {
    /// The GovStack SignResponse, handed out this once.
    Ready(serde_json::Value),
    /// The user's device has not answered yet.
    Waiting,
}

/// `POST /v1/sign/pseudonym`, decoded at the door: a SignRequest with the eService's `nonce`
/// and `state`, and (for the redirect without a token) `callbackUrl` and `requestTimestamp`.
#[derive(Clone, Debug)]
pub struct PseudonymSignRequest {
    /// The signing request.
    pub sign: SignRequest,
    /// Echoed back.
    pub nonce: Option<String>,
    /// Echoed back.
    pub state: Option<String>,
    /// Where the browser returns when the user is sent to the pseudonym page.
    pub callback_url: Option<String>,
    /// Passed on to the pseudonym page.
    pub request_timestamp: Option<String>,
}

/// What signing by pseudonym came to.
#[derive(Clone, Debug)]
pub enum PseudonymOutcome {
    /// Queued for the device; redeem it under `signature_id`.
    Queued {
        /// What the eService redeems.
        signature_id: String,
    },
    /// No pseudonym token: the user's browser goes to the pseudonym page at this URL.
    ToPseudonymPage(String),
}

impl EsignService {
    /// `POST /v1/sessions`: a session for the eService with `api_key`, paid by `payment_token`
    /// when payment is required (spent when the signature is delivered).
    ///
    /// # Errors
    /// The caller; the payment; [`SessionError`]s; store and HSM failures.
    pub async fn create_session(
        &self,
        credential: Credential<'_>,
        payment_token: Option<&str>,
        mut new: NewSession,
    ) -> Result<Created, ServiceError> {
        let client = self.callers.client(credential)?;
        new.payment = self.payment.verify(payment_token).await?;
        self.sessions.create(client, new).await
    }

    /// `GET /v1/sessions/{correlationId}`.
    ///
    /// # Errors
    /// The caller; [`SessionError::UnknownCorrelation`]; store failures.
    pub async fn session_status(
        &self,
        credential: Credential<'_>,
        correlation_id: &str,
    ) -> Result<Session, ServiceError> {
        let client = self.callers.client(credential)?;
        Ok(self.sessions.status(client, correlation_id).await?.ok_or(SessionError::UnknownCorrelation)?)
    }

    /// `GET /v1/sign/response/{signatureId}`: the signature, once; [`Redemption::Waiting`] while
    /// the user's device has not answered.
    ///
    /// # Errors
    /// The caller; [`SessionError::UnknownSignature`] (also another eService's, or redeemed);
    /// a device request that ended without a signature; store failures.
    pub async fn redeem(&self, credential: Credential<'_>, signature_id: &str) -> Result<Redemption, ServiceError> {
        let client = self.callers.client(credential)?;
        if let Some(response) = self.sessions.redeem(client, signature_id).await? {
            let value = serde_json::from_str(&response).map_err(|e| ServiceError::damaged("response", e))?;
            return Ok(Redemption::Ready(value));
        }
        match self.requests.progress(client, signature_id).await? {
            Progress::Waiting => Ok(Redemption::Waiting),
            Progress::Unknown => Err(SessionError::UnknownSignature.into()),
        }
    }

    /// `GET /v1/token/pseodonym/{pseudonym}`: a pseudonym token for the eService.
    ///
    /// # Errors
    /// The caller; an unknown pseudonym or one whose device cannot sign; HSM failures.
    pub async fn pseudonym_token(&self, credential: Credential<'_>, pseudonym: &str) -> Result<String, ServiceError> {
        let client = self.callers.client(credential)?;
        self.devices.pseudonym_token(&client.id, pseudonym).await
    }

    /// `POST /v1/sign/pseudonym`: with a pseudonym token, queue the request for the device;
    /// without one, send the user to the pseudonym page.
    ///
    /// # Errors
    /// The caller; a token not issued to this eService; an unknown or unfit device; a device
    /// with too many requests waiting; an unregistered callback URL.
    pub async fn sign_by_pseudonym(
        &self,
        credential: Credential<'_>,
        token: Option<&str>,
        payment_token: Option<&str>,
        request: PseudonymSignRequest,
    ) -> Result<PseudonymOutcome, ServiceError> {
        let client = self.callers.client(credential)?;
        check_echoed(request.nonce.as_deref(), request.state.as_deref())?;
        let payment = self.payment.verify(payment_token).await?;
        let Some(token) = token else {
            return Ok(PseudonymOutcome::ToPseudonymPage(self.pseudonym_page(client, request, payment).await?));
        };
        let pseudonym = self.devices.pseudonym_of(token, &client.id)?;
        let device = self.devices.signer(&pseudonym).await?;
        let queued = PseudonymRequest {
            digest: request.sign.digest,
            format: request.sign.format,
            data_to_be_displayed: request.sign.data_to_be_displayed.unwrap_or_default(),
            nonce: request.nonce,
            state: request.state,
            payment,
        };
        let signature_id = self.requests.queue_new(client, &device, queued).await?;
        Ok(PseudonymOutcome::Queued { signature_id })
    }

    /// A signing session for the request, made now under the eService's API key, and the GovStack
    /// pseudonym page's URL for it: the spec's query parameters, for the eService to read, and
    /// the session's `token`, which is all the page goes by. The callback is the body's
    /// `callbackUrl` (registered) or the client's only registered callback URL.
    async fn pseudonym_page(
        &self,
        client: &ClientConfig,
        request: PseudonymSignRequest,
        payment: Option<Paid>,
    ) -> Result<String, ServiceError> {
        let callback = match &request.callback_url {
            Some(url) if callback_allowed(client, url) => url.clone(),
            Some(_) => return Err(SessionError::CallbackNotRegistered.into()),
            None => match client.callback_urls.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(RequestError::unprocessable(
                        "without X-Pseodonym-Token the user is sent to the pseudonym page: give callbackUrl (one of the client's registered URLs)",
                    )
                    .into());
                }
            },
        };
        let sign = &request.sign;
        let display = URL_SAFE_NO_PAD.encode(sign.data_to_be_displayed.as_deref().unwrap_or_default());
        let hash = URL_SAFE_NO_PAD.encode(sign.digest.bytes());
        let new = NewSession {
            correlation_id: random_hex(16),
            digest: sign.digest.clone(),
            format: sign.format,
            data_to_be_displayed: sign.data_to_be_displayed.clone().unwrap_or_default(),
            callback_url: callback.clone(),
            webhook_url: None,
            lifetime: Duration::from_secs(600),
            lang: Lang::En,
            pub_key_pem: None,
            eservice_nonce: request.nonce.clone(),
            eservice_state: request.state.clone(),
            unsigned_query: false,
            payment,
            use_case: None,
            means: None,
        };
        let Created { token, .. } = self.sessions.create(client, new).await?;
        let mut pairs = vec![
            ("client_id", client.id.as_str()),
            ("format", sign.format.name()),
            ("hash", hash.as_str()),
            ("hashType", sign.digest.hash().name()),
            ("dataToBeDisplayed", display.as_str()),
            ("callbackUrl", callback.as_str()),
        ];
        let echoed =
            [("requestTimestamp", &request.request_timestamp), ("nonce", &request.nonce), ("state", &request.state)];
        for (name, value) in echoed {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                pairs.push((name, value));
            }
        }
        pairs.push(("token", token.as_str()));
        Ok(format!("{}/v1/sign/interactivePseudonym?{}", self.core.public_url, form_encode(&pairs)))
    }
}
