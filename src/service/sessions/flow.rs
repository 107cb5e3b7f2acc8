//! The browser's path through a session: the page a session token opens, Sign (to the ID
//! provider), Cancel, the ID provider's callback (the signature is made there), and expiry.
//! Every move is a compare-and-set on the stored status; a move that loses the race — a used
//! link, a replayed callback — is refused.

use std::time::SystemTime;

use super::model::{Failure, Session, Status};
use super::{Browser, SessionError, Sessions, asker};
use crate::audit::AuditEvent;
use crate::identity::rp::{Authorization, form_encode};
use crate::ids::random_hex;
use crate::service::audit_events;
use crate::service::engine::OneTimeRequest;
use crate::service::payment::{Paid, spent_twice};
use crate::service::{ErrorKind, ServiceError};
use crate::store::{CertificateRow, SignatureRow};
use crate::vocabulary::SessionState;

/// What a session token opens.
#[derive(Debug)]
pub enum Opened {
    /// The session waits for the citizen.
    Pending(Box<Session>),
    /// It is over (it expired just now): the browser goes back to the eService.
    Over(String),
}

impl Sessions {
    /// The pending session a token names, for the page. An expired one is failed (and its
    /// webhook sent) and the browser sent back with an error.
    ///
    /// # Errors
    /// [`SessionError::InvalidToken`], [`SessionError::AlreadyUsed`]; store failures.
    pub async fn open(&self, token: &str) -> Result<Opened, ServiceError> {
        let session = self.load_by_token(token).await?;
        if session.status != Status::Pending {
            return Err(SessionError::AlreadyUsed.into());
        }
        if session.expired(SystemTime::now()) {
            return Ok(Opened::Over(self.fail(session, Failure::Expired, "the signing session expired").await?));
        }
        Ok(Opened::Pending(Box::new(session)))
    }

    /// Sign, from `browser`: the provider URL the user's browser goes to (or back to the
    /// eService when the session expired).
    ///
    /// # Errors
    /// As [`Self::open`]; a browser that did not open the page ([`Self::check_browser`]); the
    /// provider's discovery failing.
    pub async fn start(&self, token: &str, browser: &Browser) -> Result<String, ServiceError> {
        let session = match self.open(token).await? {
            Opened::Pending(session) => *session,
            Opened::Over(back) => return Ok(back),
        };
        self.check_browser(&session, browser, true).await?;
        let Authorization { url, state, nonce, verifier } =
            self.identity.authorization(&self.redirect_uri(), session.lang.tag()).await?;
        let mut moved = session;
        let pressed_at = super::model::epoch_secs(SystemTime::now());
        moved.status = Status::Authenticating { oidc_state: state, oidc_nonce: nonce, verifier, pressed_at };
        let consent = audit_events::consent_given(asker(&moved));
        if !self.core.store.update_session(&moved.to_row(), SessionState::Pending, &[consent]).await? {
            return Err(SessionError::AlreadyUsed.into());
        }
        Ok(url)
    }

    /// Cancel, from `browser`: back to the eService with `error=cancelled`.
    ///
    /// # Errors
    /// As [`Self::open`]; a browser that did not open the page.
    pub async fn cancel(&self, token: &str, browser: &Browser) -> Result<String, ServiceError> {
        match self.open(token).await? {
            Opened::Pending(session) => {
                self.check_browser(&session, browser, true).await?;
                self.fail(*session, Failure::Cancelled, "the user cancelled the signing").await
            }
            Opened::Over(back) => Ok(back),
        }
    }

    /// The ID provider's answer. Makes the signature; returns where the browser goes next (the
    /// eService callback, with `signatureId` or an `error`).
    ///
    /// # Errors
    /// [`SessionError::UnknownState`] for a state that names no session in progress (never a
    /// redirect: the eService cannot be known).
    pub async fn callback(
        &self,
        state: &str,
        code: Option<&str>,
        error: Option<&str>,
        browser: &Browser,
    ) -> Result<String, ServiceError> {
        let row = self.core.store.session_by_oidc_state(state).await?.ok_or(SessionError::UnknownState)?;
        let session = Session::from_row(&row).map_err(|_| SessionError::UnknownState)?;
        let Status::Authenticating { oidc_nonce, verifier, oidc_state, pressed_at } = session.status.clone() else {
            return Err(SessionError::UnknownState.into());
        };
        self.check_browser(&session, browser, false).await?;
        if session.expired(SystemTime::now()) {
            return self.fail(session, Failure::Expired, "the signing session expired").await;
        }
        if let Some(error) = error {
            return self.fail(session, Failure::LoginFailed, &format!("the ID provider answered {error}")).await;
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return self.fail(session, Failure::LoginFailed, "the ID provider sent no code").await;
        };
        let mut signing = session;
        signing.status = Status::Signing;
        let pressed_at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(pressed_at);
        if !self.core.store.update_session(&signing.to_row(), SessionState::Authenticating, &[]).await? {
            return Err(SessionError::AlreadyUsed.into());
        }
        let authorization = Authorization { url: String::new(), state: oidc_state, nonce: oidc_nonce, verifier };
        match self.sign(&signing, &authorization, code, pressed_at).await {
            Ok((response, certificate, events)) => self.signed(signing, response, certificate, events).await,
            Err(e) => {
                tracing::warn!(correlation_id = %signing.correlation_id, error = %e, "session signing failed");
                let (code, description) = match &e {
                    ServiceError::Auth(auth) if auth.is_callers_fault() => {
                        (Failure::LoginFailed, "the ID provider did not confirm the user")
                    }
                    _ => (Failure::SigningFailed, "the signature could not be made"),
                };
                self.fail(signing, code, description).await
            }
        }
    }

    /// Exchange the code, identify the user and make the one-time signature.
    async fn sign(
        &self,
        session: &Session,
        authorization: &Authorization,
        code: &str,
        pressed_at: SystemTime,
    ) -> Result<(serde_json::Value, CertificateRow, Vec<AuditEvent>), ServiceError> {
        let login = self.identity.finish_login(authorization, &self.redirect_uri(), code, pressed_at).await?;
        let request =
            OneTimeRequest { identity: login.identity.clone(), digest: session.digest.clone(), format: session.format };
        let record = self.core.engine.sign_one_time(request).await?;
        let subject = record.subject_hash.clone().unwrap_or_default();
        let mut events = vec![audit_events::authenticated(asker(session), &login, &subject)];
        events.extend(audit_events::signature(asker(session), &record, &session.digest, Some(&subject)));
        let der = der::Encode::to_der(&record.leaf).map_err(|e| ServiceError::damaged("certificate", e))?;
        let certificate = CertificateRow { serial: record.leaf_serial.clone(), der, not_after: record.not_after };
        let mut response = record.sign_response();
        self.core.add_validation_data(&mut response).await?;
        Ok((response, certificate, events))
    }

    /// Keep the signature for redemption, publish its certificate and move the session to
    /// signed, in one store transaction; tell the eService.
    async fn signed(
        &self,
        signing: Session,
        response: serde_json::Value,
        certificate: CertificateRow,
        mut events: Vec<AuditEvent>,
    ) -> Result<String, ServiceError> {
        let signature_id = random_hex(32);
        events.push(audit_events::kept(asker(&signing), &signature_id));
        events.extend(signing.payment.as_ref().map(|paid| audit_events::payment_spent(asker(&signing), paid)));
        let mut done = signing.clone();
        done.status = Status::Signed { signature_id: signature_id.clone() };
        let signature = SignatureRow {
            signature_id,
            client_id: done.client_id.clone(),
            response: response.to_string(),
            expires_at: SystemTime::now() + self.response_ttl,
        };
        let store = &self.core.store;
        let spend = done.payment.as_ref().map(Paid::spend);
        match store
            .finish_session(&done.to_row(), SessionState::Signing, &signature, &certificate, spend.as_ref(), &events)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(SessionError::AlreadyUsed.into()),
            Err(e) => {
                let error = spent_twice(e);
                if error.kind() == ErrorKind::PaymentRequired {
                    // Paid twice with one token: the signature is not delivered, the session fails.
                    self.fail(signing, Failure::SigningFailed, "the payment token has already been used").await?;
                }
                return Err(error);
            }
        }
        tracing::info!(client = %done.client_id, correlation_id = %done.correlation_id, "session signed");
        self.core.notify_first(&done).await;
        Ok(callback_redirect(&done))
    }

    /// Move `session` (from its current status) to failed, notify (the first webhook attempt
    /// before the browser goes), and say where the browser goes.
    pub(super) async fn fail(
        &self,
        session: Session,
        error: Failure,
        description: &str,
    ) -> Result<String, ServiceError> {
        self.end_failed(session, error, description, true).await
    }

    async fn end_failed(
        &self,
        mut session: Session,
        error: Failure,
        description: &str,
        browser_waits: bool,
    ) -> Result<String, ServiceError> {
        let from = session.status.state();
        session.status = Status::Failed { error, description: description.to_owned() };
        let failed = audit_events::session_failed(asker(&session), error.code());
        if !self.core.store.update_session(&session.to_row(), from, &[failed]).await? {
            return Err(SessionError::AlreadyUsed.into());
        }
        tracing::info!(client = %session.client_id, correlation_id = %session.correlation_id, error = error.code(), "session failed");
        if browser_waits {
            self.core.notify_first(&session).await;
        } else {
            self.core.notify(&session);
        }
        Ok(callback_redirect(&session))
    }

    /// Fail every session that expired while pending or at the ID provider.
    ///
    /// # Errors
    /// Store failures.
    pub async fn expire_overdue(&self) -> Result<usize, ServiceError> {
        let waiting = [SessionState::Pending, SessionState::Authenticating];
        let overdue = self.core.store.expired_sessions(SystemTime::now(), &waiting).await?;
        let mut expired = 0;
        for row in overdue {
            let Ok(session) = Session::from_row(&row) else { continue };
            // No browser waits for an expiry: the webhook goes in the background.
            match self.end_failed(session, Failure::Expired, "the signing session expired", false).await {
                Ok(_) => expired += 1,
                Err(ServiceError::Session(SessionError::AlreadyUsed)) => {} // the user got there first
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }

    fn redirect_uri(&self) -> String {
        format!("{}/sign/oidc/callback", self.core.public_url)
    }
}

/// The eService callback URL with the session's outcome and its nonce and state; esignd's own
/// closing page when the eService gave no callback URL.
pub fn callback_redirect(session: &Session) -> String {
    if session.callback_url.is_empty() {
        let outcome = if matches!(session.status, Status::Signed { .. }) { "signed" } else { "failed" };
        return format!("/sign/interactive/done?outcome={outcome}&lang={}", session.lang.tag());
    }
    let mut params: Vec<(&str, &str)> = Vec::new();
    match &session.status {
        Status::Signed { signature_id } => params.push(("signatureId", signature_id)),
        Status::Failed { error, description } => {
            params.push(("error", error.code()));
            params.push(("error_description", description));
        }
        _ => {}
    }
    if let Some(nonce) = &session.eservice_nonce {
        params.push(("nonce", nonce));
    }
    if let Some(state) = &session.eservice_state {
        params.push(("state", state));
    }
    let separator = if session.callback_url.contains('?') { '&' } else { '?' };
    format!("{}{separator}{}", session.callback_url, form_encode(&params))
}
