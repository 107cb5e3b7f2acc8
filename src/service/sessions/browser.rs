//! The browser that consents is the browser that opened the signing page.
//!
//! The signing page gives the browser a binding cookie (random, HttpOnly, SameSite=Lax; the
//! door sets it) and the session keeps its SHA-256. Sign, Cancel, the device choice and the ID
//! provider's callback must come with that cookie, and POSTs from esignd's own origin: an
//! auto-submitted form on another site carries neither (SameSite keeps the cookie home, and
//! the browser names the other site in `Origin`), and a flow started in an attacker's browser
//! comes back to the victim's without the attacker's cookie. Such a request fails the session —
//! the eService hears `consent_not_verified` — and gets no signature.
//!
//! One cookie serves every session in a browser; the last browser to open a page owns the
//! session, so a link previewer that fetched it first takes nothing away from the citizen.

use super::model::{Failure, Session, Status};
use super::{SessionError, Sessions};
use crate::hsm::HashAlgorithm;
use crate::ids::random_token;
use crate::service::ServiceError;

/// What a request tells of the browser that sent it.
#[derive(Clone, Debug, Default)]
pub struct Browser {
    /// The binding cookie's value, if the browser sent one.
    pub binding: Option<String>,
    /// `Origin`, if sent.
    pub origin: Option<String>,
    /// `Sec-Fetch-Site`, if sent.
    pub fetch_site: Option<String>,
}

/// How the browser stands with a session.
enum Verdict {
    /// It opened the session's page.
    Bound,
    /// It sent a form from another site.
    CrossSite,
    /// It did not open the session's page (or no browser did).
    Unbound,
}

/// The stored form of a binding cookie's value.
fn digest(value: &str) -> String {
    hex::encode(HashAlgorithm::Sha256.digest(value.as_bytes()))
}

impl Sessions {
    /// Bind `session` to the browser that opens its page: to the browser's cookie, or to a new
    /// one (returned, for the door to set).
    ///
    /// # Errors
    /// [`SessionError::AlreadyUsed`] when the session moved on meanwhile; store failures.
    pub async fn bind(
        &self,
        mut session: Session,
        browser: &Browser,
    ) -> Result<(Session, Option<String>), ServiceError> {
        let (value, fresh) = match &browser.binding {
            Some(value) if !value.is_empty() && value.len() <= 128 => (value.clone(), false),
            _ => (random_token(), true),
        };
        let hash = digest(&value);
        if session.binding.as_deref() != Some(hash.as_str()) {
            session.binding = Some(hash);
            if !self.core.store.update_session(&session.to_row(), session.status.state(), &[]).await? {
                return Err(SessionError::AlreadyUsed.into());
            }
        }
        Ok((session, fresh.then_some(value)))
    }

    /// Refuse the request unless it comes from the browser bound to `session` (and, for a form,
    /// from esignd's own origin). A refused request fails the session and tells the eService.
    ///
    /// # Errors
    /// [`SessionError::CrossSite`], [`SessionError::NotThisBrowser`]; store failures.
    pub async fn check_browser(&self, session: &Session, browser: &Browser, form: bool) -> Result<(), ServiceError> {
        let refusal = match self.verdict(session, browser, form) {
            Verdict::Bound => return Ok(()),
            Verdict::CrossSite => SessionError::CrossSite,
            Verdict::Unbound => SessionError::NotThisBrowser,
        };
        tracing::warn!(client = %session.client_id, correlation_id = %session.correlation_id, refusal = %refusal, "consent could not be verified");
        let description = "the signing was attempted from a browser or site that did not open the signing page";
        match self.fail(session.clone(), Failure::ConsentNotVerified, description).await {
            Ok(_) | Err(ServiceError::Session(SessionError::AlreadyUsed)) => {}
            Err(e) => return Err(e),
        }
        Err(refusal.into())
    }

    /// Whether `browser` may act for `session`, failing nothing (the waiting page).
    ///
    /// # Errors
    /// [`SessionError::NotThisBrowser`].
    pub fn same_browser(&self, session: &Session, browser: &Browser) -> Result<(), SessionError> {
        match self.verdict(session, browser, false) {
            Verdict::Bound => Ok(()),
            _ => Err(SessionError::NotThisBrowser),
        }
    }

    fn verdict(&self, session: &Session, browser: &Browser, form: bool) -> Verdict {
        if form && !self.sent_from_our_origin(browser) {
            return Verdict::CrossSite;
        }
        match (&session.binding, &browser.binding) {
            (Some(bound), Some(sent)) if *bound == digest(sent) => Verdict::Bound,
            _ => Verdict::Unbound,
        }
    }

    /// A form from esignd's own origin: `Origin`, when the browser sends it, is the public URL's,
    /// and `Sec-Fetch-Site`, when sent, says same-origin.
    fn sent_from_our_origin(&self, browser: &Browser) -> bool {
        let ours = origin_of(&self.core.public_url);
        let origin_fine = browser.origin.as_deref().is_none_or(|origin| origin.trim_end_matches('/') == ours);
        let site_fine = browser.fetch_site.as_deref().is_none_or(|site| matches!(site, "same-origin" | "none"));
        origin_fine && site_fine
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

impl Status {
    /// When the citizen pressed Sign, for a session at the ID provider.
    pub fn pressed_at(&self) -> Option<std::time::SystemTime> {
        match self {
            Status::Authenticating { pressed_at, .. } => {
                Some(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(*pressed_at))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(origin_of("https://sign.example.gov/esignd"), "https://sign.example.gov");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_ne!(digest("a"), digest("b"));
    }
}
