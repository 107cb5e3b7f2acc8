//! `/healthz` (the process answers) and `/readyz` (it can do its job: the HSM session pool hands
//! out a logged-in session within the per-call deadline, the store answers, and the TSA gives a
//! valid token).
//!
//! A stopping daemon says `draining` (503) at once, before its listener closes.
//!
//! Anyone may ask whether the daemon is ready, and is told only that (`{"status": …}`, 200 or
//! 503): the token's label and serial, the TSA's URL and the errors met are for the operator,
//! on a loopback connection.

use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::call::Call;
use super::error::status;
use super::response::{self, Body, json_with};
use crate::service::{Check, Dependency, ErrorKind, ServiceError, rfc3339};

/// Liveness: the process is up.
pub(super) async fn live(_call: Call) -> Result<Response<Body>, ServiceError> {
    Ok(response::json(&json!({ "status": "ok" })))
}

/// Readiness: every dependency answers (503 when one does not, with each one's state).
pub(super) async fn ready(call: Call) -> Result<Response<Body>, ServiceError> {
    let detailed = call.peer.ip().to_canonical().is_loopback();
    let (status, body) = readiness(&call.service, detailed).await;
    Ok(json_with(status, &body))
}

/// The readiness answer: its status, and each check's detail when `detailed`.
pub(super) async fn readiness(service: &crate::service::EsignService, detailed: bool) -> (StatusCode, Value) {
    if service.is_draining() {
        return (status(ErrorKind::Unavailable(Dependency::ThisDaemon)), json!({ "status": "draining" }));
    }
    let readiness = service.readiness().await;
    let hsm = check(&readiness.hsm);
    let store = check(&readiness.store);
    let tsa = &readiness.tsa;
    let mut tsa_check = json!({
        "status": if tsa.error.is_none() { "ok" } else { "error" },
        "mode": tsa.mode,
        "checked": rfc3339(tsa.checked),
    });
    if let Some(url) = &tsa.url {
        tsa_check["url"] = url.as_str().into();
    }
    if let Some(error) = &tsa.error {
        tsa_check["error"] = error.as_str().into();
    }
    let failing = [(&hsm, Dependency::Hsm), (&store, Dependency::Store), (&tsa_check, Dependency::Tsa)]
        .into_iter()
        .find(|(check, _)| check["status"] != "ok");
    // Readiness is an answer, not a failure: unready says "route no traffic here".
    let (status, word) = match failing {
        None => (StatusCode::OK, "ready"),
        Some((_, dependency)) => (status(ErrorKind::Unavailable(dependency)), "unavailable"),
    };
    if !detailed {
        return (status, json!({ "status": word }));
    }
    (status, json!({ "status": word, "checks": { "hsm": hsm, "store": store, "tsa": tsa_check } }))
}

fn check(check: &Check) -> Value {
    match (&check.error, &check.token) {
        (None, Some((label, serial))) => json!({ "status": "ok", "token": label, "serial": serial }),
        (None, None) => json!({ "status": "ok" }),
        (Some(error), Some((label, _))) => json!({ "status": "error", "token": label, "error": error }),
        (Some(error), None) => json!({ "status": "error", "error": error }),
    }
}
