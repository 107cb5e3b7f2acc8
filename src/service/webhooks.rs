//! Webhooks: the outcome of a session, POSTed to the eService's registered webhook URL as a
//! JWS signed by the service key (`application/jose`), sealed in a JWE (RSA-OAEP-256 +
//! A256GCM) when the session carried a `pubKey`. The delivery is queued in the store's outbox
//! in the transaction that ends the session; the first attempt is made before the citizen's
//! browser is sent back, the rest by a loop on whichever daemon claims it, with exponential
//! backoff until the eService answers 2xx or the attempts run out (each attempt the same body,
//! sealed once, and the same `X-Esignd-Delivery-Id`).

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use hyper::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::sessions::{Session, Status};
use crate::jose::jwe::{self, RecipientKey};
use crate::outbound::HttpClient;
use crate::service::engine::Engine;
use crate::store::Store;
use crate::store::outbox::{Attempted, Delivery};

/// How hard delivery tries.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: u32,
    /// Pause before the second attempt; doubled after each failure.
    pub first_delay: Duration,
}

/// Webhook delivery: the outbound client and how hard it tries.
pub(crate) struct Webhooks {
    http: HttpClient,
    retry: Retry,
    store: Arc<dyn Store>,
    /// Rings when a session ended: the delivery loop looks at once instead of at its next tick.
    wake: tokio::sync::Notify,
}

/// How long a browser's redirect waits for the first webhook attempt.
pub const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(5);

/// How long a claimed delivery is this daemon's (another daemon takes it over after).
const LEASE: Duration = Duration::from_secs(30);

/// How often the delivery loop looks for due deliveries when nothing rings.
const TICK: Duration = Duration::from_millis(250);

impl Webhooks {
    /// Deliver from `store`'s outbox with `http`, trying as `retry` says.
    pub fn new(http: HttpClient, retry: Retry, store: Arc<dyn Store>) -> Self {
        Self { http, retry, store, wake: tokio::sync::Notify::new() }
    }

    /// A session ended (its delivery is queued with it): look now.
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// The first attempt at `session`'s delivery, now, returning once it is over (at most
    /// [`FIRST_ATTEMPT_WAIT`]): the eService hears the outcome before the citizen's browser
    /// arrives at its callback. Retries are the delivery loop's.
    pub async fn deliver_first(self: &Arc<Self>, signing: &Arc<dyn Engine>, session: &Session, issuer: &str) {
        if session.webhook_url.is_none() {
            return;
        }
        let lease = LEASE.as_millis() as i64;
        let claimed = match self.store.claim_deliveries(now_ms(), lease, 1, Some(&session.id)).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(correlation_id = %session.correlation_id, error = %e, "the webhook could not be claimed; the delivery loop will send it");
                return;
            }
        };
        for delivery in claimed {
            let attempt = tokio::spawn(Arc::clone(self).attempt(Arc::clone(signing), delivery, issuer.to_owned()));
            let _ = tokio::time::timeout(FIRST_ATTEMPT_WAIT, attempt).await;
        }
    }

    /// Deliver what is due, for the process's life: whichever daemon claims a delivery sends
    /// it; one that dies mid-way leaves it to the others when its lease ends.
    pub async fn run(self: Arc<Self>, signing: Arc<dyn Engine>, issuer: String) {
        loop {
            match self.store.claim_deliveries(now_ms(), LEASE.as_millis() as i64, 16, None).await {
                Ok(claimed) => {
                    for delivery in claimed {
                        tokio::spawn(Arc::clone(&self).attempt(Arc::clone(&signing), delivery, issuer.clone()));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the outbox could not be read; trying again"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// One attempt at `delivery`, and its outcome recorded.
    async fn attempt(self: Arc<Self>, signing: Arc<dyn Engine>, delivery: Delivery, issuer: String) {
        let session = match self.store.session(&delivery.session_id).await {
            Ok(Some(row)) => Session::from_row(&row).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "a webhook's session could not be read; retrying later");
                return; // the lease runs out and the delivery is claimed again
            }
        };
        let Some(session) = session else {
            let event = outcome_event("webhook.abandoned", None, &delivery);
            let _ = self.store.attempted(&delivery.id, &Attempted::Abandoned(event)).await;
            return;
        };
        let body = match &delivery.body {
            Some(body) => body.clone(),
            None => match seal(&signing, &session, &issuer).await {
                Ok(body) => body,
                Err(e) => {
                    tracing::error!(correlation_id = %session.correlation_id, error = %e, "webhook could not be signed; retrying later");
                    return;
                }
            },
        };
        let attempt = delivery.attempts + 1;
        let headers = [(CONTENT_TYPE, "application/jose".to_owned()), (DELIVERY_ID.clone(), delivery.id.clone())];
        let outcome = self
            .http
            .send(Method::POST, &delivery.url, &headers, body.clone().into_bytes(), Duration::from_secs(10))
            .await;
        let delivered = match outcome {
            Ok(response) if response.status.is_success() => true,
            Ok(response) => {
                tracing::warn!(correlation_id = %session.correlation_id, attempt, status = response.status.as_u16(), "webhook refused");
                false
            }
            Err(e) => {
                tracing::warn!(correlation_id = %session.correlation_id, attempt, error = %e, "webhook failed");
                false
            }
        };
        let recorded = if delivered {
            tracing::info!(correlation_id = %session.correlation_id, attempt, "webhook delivered");
            Attempted::Delivered(outcome_event("webhook.delivered", Some(&session), &delivery))
        } else if attempt >= self.retry.attempts {
            tracing::error!(correlation_id = %session.correlation_id, attempts = attempt, "webhook given up; the eService can poll GET /v1/sessions/{{correlationId}}");
            Attempted::Abandoned(outcome_event("webhook.abandoned", Some(&session), &delivery))
        } else {
            let delay = self.retry.first_delay.saturating_mul(1u32 << (attempt - 1).min(20));
            Attempted::Retry { next_at_ms: now_ms() + delay.as_millis() as i64, body }
        };
        if let Err(e) = self.store.attempted(&delivery.id, &recorded).await {
            tracing::error!(correlation_id = %session.correlation_id, error = %e, "a webhook's outcome could not be stored; it may be sent again");
        }
    }
}

/// The header that names a delivery (the same on every attempt): receivers drop duplicates.
static DELIVERY_ID: hyper::header::HeaderName = hyper::header::HeaderName::from_static("x-esignd-delivery-id");

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    crate::store::epoch_millis(std::time::SystemTime::now())
}

/// The audit record of a delivery's end.
fn outcome_event(kind: &'static str, session: Option<&Session>, delivery: &Delivery) -> crate::audit::AuditEvent {
    let mut event =
        crate::audit::AuditEvent::new(kind, json!({ "deliveryId": delivery.id, "attempts": delivery.attempts + 1 }));
    if let Some(session) = session {
        event = event.with("client", session.client_id.as_str()).with("correlationId", session.correlation_id.as_str());
    }
    event
}

/// The webhook payload for a finished session.
pub fn payload(session: &Session, issuer: &str) -> Value {
    let mut body = json!({
        "iss": issuer,
        "aud": session.client_id,
        "iat": crate::jose::claims::now(),
        "correlationId": session.correlation_id,
        "isSuccess": matches!(session.status, Status::Signed { .. }),
    });
    session.status.add_outcome(&mut body);
    for (name, value) in [("useCase", &session.use_case), ("means", &session.means)] {
        if let Some(value) = value {
            body[name] = value.as_str().into();
        }
    }
    body
}

async fn seal(signing: &Arc<dyn Engine>, session: &Session, issuer: &str) -> Result<String, String> {
    let payload = payload(session, issuer).to_string().into_bytes();
    let jws = signing.sign_jws("JWT", payload).await.map_err(|e| e.to_string())?;
    match &session.pub_key_pem {
        Some(pem) => {
            let recipient = RecipientKey::from_pem(pem).map_err(|e| e.to_string())?;
            jwe::encrypt(&recipient, jws.as_bytes(), "JWT").map_err(|e| e.to_string())
        }
        None => Ok(jws),
    }
}
