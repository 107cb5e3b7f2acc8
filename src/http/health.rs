//! `/healthz` (the process answers) and `/readyz` (it can do its job: the HSM session pool hands
//! out a logged-in session within the per-call deadline, the store answers, and the TSA gives a
//! valid token — see [`crate::service::engine::TsaReadiness`]).

use hyper::{Response, StatusCode};
use serde_json::json;

use super::AppState;
use super::response::{Body, json};
use crate::vocabulary::rfc3339;

/// Liveness: the process is up.
pub fn live() -> Response<Body> {
    json(StatusCode::OK, &json!({ "status": "ok" }))
}

/// Readiness: every dependency answers.
pub async fn ready(state: &AppState) -> Response<Body> {
    let (hsm, store, tsa) = tokio::join!(state.service.hsm_status(), state.store.ping(), state.service.tsa_readiness());
    let hsm = match hsm {
        Ok(status) if status.logged_in => json!({ "status": "ok", "token": status.label, "serial": status.serial }),
        Ok(status) => json!({ "status": "error", "token": status.label, "error": "the session is not logged in" }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: HSM check failed");
            json!({ "status": "error", "error": e.to_string() })
        }
    };
    let store = match store {
        Ok(()) => json!({ "status": "ok" }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store check failed");
            json!({ "status": "error", "error": e.to_string() })
        }
    };
    let mut tsa_check = json!({
        "status": if tsa.error.is_none() { "ok" } else { "error" },
        "mode": tsa.mode,
        "checked": rfc3339(tsa.checked),
    });
    if let Some(url) = tsa.url {
        tsa_check["url"] = url.into();
    }
    if let Some(error) = tsa.error {
        tsa_check["error"] = error.into();
    }
    let ready = [&hsm, &store, &tsa_check].iter().all(|check| check["status"] == "ok");
    let (status, word) =
        if ready { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    json(status, &json!({ "status": word, "checks": { "hsm": hsm, "store": store, "tsa": tsa_check } }))
}
