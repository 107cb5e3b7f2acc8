//! Every route esignd serves, in one table: method, path, what the request carries, the wire
//! format its failures take, and the handler. The router matches against it, and answers
//! `405 Method Not Allowed` with `Allow` from it; nothing else spells a path. A path ending in
//! `{name}` takes the rest of the request path as its parameter; literal paths win over such
//! patterns (`/v1/cert/create` before `/v1/cert/{certificateId}`). Demo routes exist only in
//! the demo profile.

use hyper::Method;

use super::call::{Answer, Call, Wire};
use super::{
    audit, demo, device_api, device_certs, health, interactive, mock_idp, onetime, pseudonym, public, sessions, tsa,
    wallet_binding,
};

/// What a route's request carries, for the 405 answer's hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Takes {
    /// Nothing but its path and query.
    Nothing,
    /// A JSON body.
    Json,
    /// A form from one of esignd's pages.
    Form,
    /// An RFC 3161 TimeStampReq.
    TimestampQuery,
    /// A PDF.
    Pdf,
}

/// One route.
pub(super) struct Route {
    pub method: Method,
    pub path: &'static str,
    pub takes: Takes,
    pub wire: Wire,
    pub demo: bool,
    pub handler: fn(Call) -> Answer,
}

macro_rules! routes {
    ($($method:ident $path:literal $takes:ident $wire:ident $(demo $demo:tt)? => $handler:path;)+) => {
        &[$(Route {
            method: Method::$method,
            path: $path,
            takes: Takes::$takes,
            wire: Wire::$wire,
            demo: false $(|| $demo)?,
            handler: |call| Box::pin($handler(call)),
        }),+]
    };
}

/// The table.
pub(super) static ROUTES: &[Route] = routes! {
    GET "/healthz" Nothing Json => health::live;
    GET "/readyz" Nothing Json => health::ready;
    POST "/tsa" TimestampQuery Json => tsa::stamp;
    GET "/v1/ca" Nothing Json => public::ca_chain;
    GET "/.well-known/jwks.json" Nothing Json => public::jwks;
    GET "/v1/certs/{serial}" Nothing Json => public::certificate;
    GET "/v1/crl" Nothing Json => public::crl;
    POST "/v1/sign/onetime" Json Json => onetime::sign;
    POST "/v1/sessions" Json Json => sessions::create;
    // Trust1Team's contract names session creation so.
    POST "/v1/token" Json Json => sessions::create;
    GET "/v1/sessions/{correlationId}" Nothing Json => sessions::status;
    GET "/v1/sign/response/{signatureId}" Nothing Json => sessions::redeem;
    GET "/v1/audit/log" Nothing Json => audit::log;
    GET "/v1/audit/checkpoints" Nothing Json => audit::checkpoints;
    GET "/sign/interactive" Nothing Page => interactive::page;
    POST "/sign/interactive/start" Form Page => interactive::start;
    POST "/sign/interactive/cancel" Form Page => interactive::cancel;
    GET "/sign/oidc/callback" Nothing Page => interactive::callback;
    POST "/sign/interactive/device" Form Page => interactive::choose_device;
    GET "/sign/interactive/device" Nothing Page => interactive::device_waiting;
    GET "/sign/interactive/done" Nothing Page => interactive::done;
    GET "/v1/sign/interactivePseudonym" Nothing Page => interactive::pseudonym_page;
    POST "/v1/sign/pseudonym" Json Json => pseudonym::sign;
    GET "/v1/token/pseodonym/{pseudonym}" Nothing Json => pseudonym::token;
    GET "/v1/token/pseudonym/{pseudonym}" Nothing Json => pseudonym::token;
    POST "/binding/wallet-binding" Json Esignet => wallet_binding::bind;
    GET "/v1/device/requests" Nothing Json => device_api::requests;
    POST "/v1/device/requests/{requestId}" Json Json => device_api::answer;
    POST "/v1/cert/create" Json Json => device_certs::create;
    GET "/v1/cert/list" Nothing Json => device_certs::list;
    PATCH "/v1/cert/{certificateId}" Json Json => device_certs::change;
    GET "/" Nothing Page demo true => demo::page;
    GET "/demo" Nothing Page demo true => demo::page;
    GET "/demo/demo.js" Nothing Page demo true => demo::script;
    POST "/demo/start" Json Json demo true => demo::start;
    POST "/demo/start-pdf" Pdf Json demo true => demo::start_pdf;
    GET "/demo/done" Nothing Page demo true => demo::done;
    GET "/demo/id-token" Nothing Json demo true => demo::id_token;
    GET "/demo/download/{id}" Nothing Page demo true => demo::download;
    GET "/mock-idp/.well-known/openid-configuration" Nothing Json demo true => mock_idp::discovery;
    GET "/mock-idp/authorize" Nothing Page demo true => mock_idp::login_page;
    POST "/mock-idp/authorize" Form Page demo true => mock_idp::login;
    POST "/mock-idp/token" Nothing Json demo true => mock_idp::token;
};

impl Route {
    /// The parameter when `path` is this route's path: empty for a literal route.
    pub fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        match self.path.split_once('{') {
            None => (self.path == path).then_some(""),
            Some((prefix, _)) => path.strip_prefix(prefix),
        }
    }

    /// Whether the path is literal (no parameter).
    pub fn is_literal(&self) -> bool {
        !self.path.contains('{')
    }

    /// How a caller should have called it, for a 405.
    pub fn hint(&self) -> String {
        match self.takes {
            Takes::Nothing => format!("use {}", self.method),
            Takes::Json => format!("use {} with a JSON body", self.method),
            Takes::Form => "use the signing page's buttons".to_owned(),
            Takes::TimestampQuery => format!("use {} with an application/timestamp-query body", self.method),
            Takes::Pdf => format!("use {} with an application/pdf body", self.method),
        }
    }
}
