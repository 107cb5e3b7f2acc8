//! What every handler gets and gives: a [`Call`] (the service, the request, the path's
//! parameter) and an [`Answer`]; and the [`Wire`] format a route's failures take. Handlers,
//! the route table and the error mapping all speak these, and none of them the others' details.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hyper::{Request, Response};

use super::body::RequestBody;
use super::response::Body;
use crate::service::{EsignService, ServiceError};

/// What a handler gets: the service, the request, and the path's parameter (empty without one).
pub(super) struct Call {
    /// The service.
    pub service: Arc<EsignService>,
    /// The request.
    pub request: Request<RequestBody>,
    /// The `{name}` part of the path.
    pub param: String,
    /// Who is on the other end of the connection (a proxy's address when there is one).
    pub peer: std::net::SocketAddr,
}

/// What a handler returns.
pub(super) type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, ServiceError>> + Send>>;

/// The wire format a route's failures take (see `error.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wire {
    /// GovStack's JSON error body.
    Json,
    /// e-Signet's `errors` list.
    Esignet,
    /// An HTML page for the citizen.
    Page,
}
