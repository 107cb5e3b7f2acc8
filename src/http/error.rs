//! `ApiError`: the one place a failure becomes an HTTP status and a public message, in the
//! GovStack shape `{"status":{"code":"ERROR","message":"..."}}`. Client errors are logged at
//! warn, server errors at error; both carry the request id from the request's span. Public
//! messages say what to fix and never echo tokens, PINs or personal data.

use hyper::{Response, StatusCode};

use super::response::{Body, error};
use crate::identity::AuthError;
use crate::service::engine::EngineError;
use crate::service::payment::PaymentError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// More detail for the log only.
    detail: Option<String>,
}

impl ApiError {
    /// An error with `status` and a public `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), detail: None }
    }

    /// Add detail for the log (never sent to the caller).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 400
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: a mandatory field is missing or a value is not supported.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 404
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// Log and turn into a response.
    pub fn into_response(self) -> Response<Body> {
        let detail = self.detail.as_deref().unwrap_or("");
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), answer = %self.message, detail, "request failed");
        } else {
            tracing::warn!(status = self.status.as_u16(), answer = %self.message, detail, "request refused");
        }
        let mut response = error(self.status, &self.message);
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(hyper::header::RETRY_AFTER, "1".parse().expect("static header value"));
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        if e.is_callers_fault() {
            ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())
        } else {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the ID provider cannot be reached; try again shortly")
                .with_detail(e.to_string())
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        if e.is_callers_fault() {
            ApiError::new(StatusCode::PAYMENT_REQUIRED, e.to_string())
        } else {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "payment cannot be checked right now; try again shortly")
                .with_detail(e.to_string())
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        use crate::hsm::Error as Hsm;
        let unavailable =
            |message: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).with_detail(e.to_string());
        match &e {
            EngineError::DeviceSignature(_) => ApiError::unprocessable(e.to_string()),
            EngineError::Hsm(Hsm::Busy(_)) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "all HSM sessions are busy; retry shortly")
                    .with_detail(e.to_string())
            }
            EngineError::Hsm(_) => unavailable("the HSM is unavailable; try again shortly"),
            EngineError::Tsa(_) => unavailable("no time-stamp could be obtained; try again shortly"),
            EngineError::Check(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the signature failed its final check and was not returned",
            )
            .with_detail(e.to_string()),
            EngineError::Ca(_) | EngineError::Cms(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the signature could not be made")
                    .with_detail(e.to_string())
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable; try again shortly")
            .with_detail(e.to_string())
    }
}
