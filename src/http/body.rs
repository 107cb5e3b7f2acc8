//! Request bodies: whatever the body's type (a socket's, a test's), one boxed type for every
//! handler; read whole with a cap enforced while reading (a body larger than allowed is refused
//! before it is parsed, whatever its Content-Length says); content types compared without their
//! parameters; JSON (malformed, 400, told apart from a missing or mistyped member, 422) and
//! forms.

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Limited};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use super::form;
use crate::service::{RequestError, ServiceError};

/// The body type of every request a handler sees (a read failure is an I/O error, whatever
/// the body was).
pub type RequestBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// Box any body into a [`RequestBody`].
pub(super) fn boxed<B>(body: B) -> RequestBody
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    body.map_err(std::io::Error::other).boxed_unsync()
}

/// A body that fails (`TimedOut`) once `deadline` has passed: a client that sends a head and
/// then trickles its body, or never sends it, holds nothing longer than that.
pub(super) fn with_deadline(body: RequestBody, deadline: std::time::Duration) -> RequestBody {
    Deadline { inner: body, sleep: Box::pin(tokio::time::sleep(deadline)) }.boxed_unsync()
}

struct Deadline {
    inner: RequestBody,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        if let std::task::Poll::Ready(frame) = std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            return std::task::Poll::Ready(frame);
        }
        match self.sleep.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why a body was not read.
#[derive(Debug)]
pub(super) enum BodyError {
    /// Larger than the cap.
    TooLarge,
    /// The connection failed while reading.
    Read,
    /// It did not arrive before the body deadline.
    TimedOut,
}

impl BodyError {
    /// The answer for a body that could not be read, `too_large` being the route's words for
    /// one larger than it takes.
    pub(super) fn into_request_error(self, too_large: String) -> RequestError {
        match self {
            BodyError::TooLarge => RequestError::too_large(too_large),
            BodyError::Read => RequestError::invalid("the request body could not be read"),
            BodyError::TimedOut => RequestError::timed_out("the request body did not arrive in time"),
        }
    }
}

/// Read the whole body, at most `limit` bytes.
pub(super) async fn read_limited(request: Request<RequestBody>, limit: usize) -> Result<Bytes, BodyError> {
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut) => {
            Err(BodyError::TimedOut)
        }
        Err(_) => Err(BodyError::Read),
    }
}

/// Whether the request's Content-Type is `expected` (parameters ignored, case-insensitive).
pub(super) fn has_content_type<B>(request: &Request<B>, expected: &str) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// Read and parse a JSON body of at most `limit` bytes.
///
/// # Errors
/// 415, 413, 400 or 422 as [`RequestError`]s.
pub(super) async fn json<T: DeserializeOwned>(request: Request<RequestBody>, limit: usize) -> Result<T, ServiceError> {
    if !has_content_type(&request, "application/json") {
        return Err(RequestError::unsupported("send the request body as application/json").into());
    }
    let body = read_limited(request, limit)
        .await
        .map_err(|e| e.into_request_error(format!("the body is larger than {limit} bytes")))?;
    Ok(serde_json::from_slice(&body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            RequestError::unprocessable(format!("the request does not fit the schema: {e}"))
        }
        _ => RequestError::invalid(format!("the body is not valid JSON: {e}")),
    })?)
}

/// The fields of a browser form (`application/x-www-form-urlencoded`) of at most `limit` bytes;
/// the refusals speak to a citizen, who sent no form by hand.
///
/// # Errors
/// 415 and 413 as [`RequestError`]s.
pub(super) async fn form_fields(
    request: Request<RequestBody>,
    limit: usize,
) -> Result<Vec<(String, String)>, ServiceError> {
    if !has_content_type(&request, "application/x-www-form-urlencoded") {
        return Err(RequestError::unsupported("Use the buttons on the signing page.").into());
    }
    let body = read_limited(request, limit).await.map_err(|e| e.into_request_error("The form is too large.".into()))?;
    Ok(form::parse(&String::from_utf8_lossy(&body)))
}
