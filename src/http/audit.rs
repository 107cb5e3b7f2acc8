//! `GET /v1/audit/log` and `GET /v1/audit/checkpoints` (GovStack "audit"): an auditor sends
//! its `apikey`, a citizen their access token (`X-GovStack-AuthenticationToken`) and sees only
//! their own records. Filters: `from`/`to` (also GovStack's `start`/`end`, RFC 3339), `type`,
//! `correlationId`, `serial`; paging by sequence number: `after` (the previous page's `next`)
//! and `limit` (at most 1,000).

use hyper::Response;
use serde_json::json;

use super::call::Call;
use super::form;
use super::headers::{api_key, header};
use super::response::{self, Body};
use crate::service::audit::AuditQuery;
use crate::service::audit::Reader;
use crate::service::{CallerError, RequestError, ServiceError};

fn reader(call: &Call) -> Result<Reader, ServiceError> {
    if let Some(key) = api_key(&call.request).filter(|k| !k.is_empty()) {
        return Ok(Reader::Auditor(key.to_owned()));
    }
    match header(&call.request, "x-govstack-authenticationtoken").filter(|t| !t.trim().is_empty()) {
        Some(token) => Ok(Reader::Citizen(token.to_owned())),
        None => Err(CallerError::Missing("an auditor's apikey or the citizen's X-GovStack-AuthenticationToken").into()),
    }
}

fn number(pairs: &[(String, String)], name: &str, default: u64) -> Result<u64, ServiceError> {
    match form::get(pairs, name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| RequestError::invalid(format!("{name} is a whole number")).into()),
    }
}

fn time(pairs: &[(String, String)], names: [&str; 2]) -> Result<Option<String>, ServiceError> {
    let Some(text) = names.iter().find_map(|name| form::get(pairs, name)) else { return Ok(None) };
    let at = crate::service::parse_rfc3339(text).ok_or_else(|| {
        RequestError::invalid(format!("{} is an RFC 3339 UTC time, e.g. 2026-12-01T09:12:28Z", names[0]))
    })?;
    Ok(Some(crate::service::rfc3339(at)))
}

fn text(pairs: &[(String, String)], name: &str) -> Result<Option<String>, ServiceError> {
    match form::get(pairs, name) {
        Some(value) if value.is_empty() || value.len() > 256 => {
            Err(RequestError::invalid(format!("{name} is 1 to 256 characters")).into())
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// `GET /v1/audit/log`
pub(super) async fn log(call: Call) -> Result<Response<Body>, ServiceError> {
    let pairs = form::parse(call.request.uri().query().unwrap_or(""));
    let query = AuditQuery {
        after: number(&pairs, "after", 0)?,
        limit: number(&pairs, "limit", 100)?.min(usize::MAX as u64) as usize,
        from: time(&pairs, ["from", "start"])?,
        to: time(&pairs, ["to", "end"])?,
        kind: text(&pairs, "type")?,
        correlation_id: text(&pairs, "correlationId")?,
        serial: text(&pairs, "serial")?.map(|s| s.to_ascii_lowercase()),
        subject: None,
    };
    let page = call.service.audit_log(reader(&call)?, query).await?;
    Ok(response::json(&json!({ "records": page.records, "next": page.next })))
}

/// `GET /v1/audit/checkpoints`
pub(super) async fn checkpoints(call: Call) -> Result<Response<Body>, ServiceError> {
    let pairs = form::parse(call.request.uri().query().unwrap_or(""));
    let (after, limit) = (number(&pairs, "after", 0)?, number(&pairs, "limit", 100)?);
    let checkpoints = call.service.audit_checkpoints(reader(&call)?, after, limit.min(1000) as usize).await?;
    Ok(response::json(&json!({ "checkpoints": checkpoints })))
}
