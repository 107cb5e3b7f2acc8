//! Webhooks: the outcome of a session, POSTed to the eService's registered webhook URL as a
//! JWS signed by the service key (`application/jose`), sealed in a JWE (RSA-OAEP-256 +
//! A256GCM) when the session carried a `pubKey`. Delivery is retried with exponential backoff
//! until the eService answers 2xx or the attempts run out.

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
}

impl Webhooks {
    /// Deliver with `http`, trying as `retry` says.
    /// Deliver with `http`, trying as `retry` says; the outcome is recorded in `store`'s audit.
    pub fn new(http: HttpClient, retry: Retry, store: Arc<dyn Store>) -> Self {
        Self { http, retry, store }
    }

    fn sender(&self) -> Sender {
        Sender { http: self.http.clone(), retry: self.retry, store: Arc::clone(&self.store) }
    }

    /// As [`Webhooks::deliver`], returning once the first attempt is over (at most
    /// [`FIRST_ATTEMPT_WAIT`]): the eService hears the outcome before the citizen's browser
    /// arrives at its callback. Retries go on in the background.
    pub async fn deliver_first(&self, signing: Arc<dyn Engine>, session: Session, issuer: String) {
        if session.webhook_url.is_none() {
            return;
        }
        let (first, attempted) = tokio::sync::oneshot::channel();
        deliver(signing, self.sender(), session, issuer, Some(first));
        let _ = tokio::time::timeout(FIRST_ATTEMPT_WAIT, attempted).await;
    }

    /// Sign (and seal) the outcome of `session` and deliver it in the background, if the session
    /// has a webhook.
    pub fn deliver(&self, signing: Arc<dyn Engine>, session: Session, issuer: String) {
        deliver(signing, self.sender(), session, issuer, None);
    }
}

/// What a delivery in the background holds.
struct Sender {
    http: HttpClient,
    retry: Retry,
    store: Arc<dyn Store>,
}

/// Record a delivery's outcome (`webhook.delivered` or `webhook.abandoned`).
async fn record(store: &Arc<dyn Store>, session: &Session, kind: &'static str, attempts: u32) {
    let event = crate::audit::AuditEvent::new(
        kind,
        json!({ "client": session.client_id, "correlationId": session.correlation_id, "attempts": attempts }),
    );
    if let Err(e) = store.record(&[event]).await {
        tracing::error!(correlation_id = %session.correlation_id, error = %e, "the webhook's outcome could not be audited");
    }
}

/// How long a browser's redirect waits for the first webhook attempt.
pub const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(5);

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

fn deliver(
    signing: Arc<dyn Engine>,
    Sender { http, retry, store }: Sender,
    session: Session,
    issuer: String,
    mut first: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let Some(url) = session.webhook_url.clone() else { return };
    tokio::spawn(async move {
        let body = match seal(&signing, &session, &issuer).await {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(correlation_id = %session.correlation_id, error = %e, "webhook could not be signed; not sent");
                return;
            }
        };
        let mut delay = retry.first_delay;
        for attempt in 1..=retry.attempts {
            let headers = [(CONTENT_TYPE, "application/jose".to_owned())];
            let outcome =
                http.send(Method::POST, &url, &headers, body.clone().into_bytes(), Duration::from_secs(10)).await;
            if let Some(first) = first.take() {
                let _ = first.send(());
            }
            match outcome {
                Ok(response) if response.status.is_success() => {
                    tracing::info!(correlation_id = %session.correlation_id, attempt, "webhook delivered");
                    record(&store, &session, "webhook.delivered", attempt).await;
                    return;
                }
                Ok(response) => {
                    tracing::warn!(correlation_id = %session.correlation_id, attempt, status = response.status.as_u16(), "webhook refused")
                }
                Err(e) => {
                    tracing::warn!(correlation_id = %session.correlation_id, attempt, error = %e, "webhook failed")
                }
            }
            if attempt < retry.attempts {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        tracing::error!(correlation_id = %session.correlation_id, attempts = retry.attempts, "webhook given up; the eService can poll GET /v1/sessions/{{correlationId}}");
        record(&store, &session, "webhook.abandoned", retry.attempts).await;
    });
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
