//! `/healthz` (the process answers) and `/readyz` (it can do its job: the HSM session pool
//! hands out a logged-in session within the per-call deadline).

use hyper::{Response, StatusCode};
use serde_json::json;

use super::AppState;
use super::response::{Body, json};
use crate::hsm::{self, KeyStore};

/// Liveness: the process is up.
pub fn live() -> Response<Body> {
    json(StatusCode::OK, &json!({ "status": "ok" }))
}

/// Readiness: the HSM answers with a logged-in session.
pub async fn ready<K: KeyStore>(state: &AppState<K>) -> Response<Body> {
    match hsm::blocking::status(state.service.keys(), state.hsm_deadline).await {
        Ok(status) if status.logged_in => json(
            StatusCode::OK,
            &json!({ "status": "ready", "checks": { "hsm": { "status": "ok", "token": status.label, "serial": status.serial } } }),
        ),
        Ok(status) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "checks": { "hsm": { "status": "error", "token": status.label, "error": "the session is not logged in" } } }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: HSM check failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "status": "unavailable", "checks": { "hsm": { "status": "error", "error": e.to_string() } } }),
            )
        }
    }
}
