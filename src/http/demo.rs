//! The demo profile's pages (only with `[identity] mode = "mock"`): the mock ID provider at
//! `/mock-idp/*` and the demo eService at `/demo`, where a visitor picks a file, its SHA-256 is
//! computed in the browser, the signing flow runs, and the `.p7s` comes back with the openssl
//! command that verifies it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::body::{has_content_type, read_limited};
use super::error::ApiError;
use super::form;
use super::json::read_json;
use super::pages::escape;
use super::response::{Body, json, see_other};
use crate::demo::DEMO_CLIENT;
use crate::demo::eservice::DemoShop;
use crate::demo::mock_idp::MockIdp;
use crate::hsm::HashAlgorithm;
use crate::service::sessions::{Lang, NewSession, clients};
use crate::vocabulary::{Digest, Format};

/// The demo's state.
pub struct Demo {
    /// The mock ID provider.
    pub idp: MockIdp,
    /// The demo eService's downloads.
    pub shop: DemoShop,
}

fn html(status: StatusCode, title: &str, main: &str, script: bool) -> Response<Body> {
    let script_tag = if script { "<script src=\"/demo/demo.js\" defer></script>" } else { "" };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>body{{font:1.05rem/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}}\
         .mock{{background:#fff3cd;border:2px solid #c90;padding:.5rem 1rem}}pre{{white-space:pre-wrap;background:#f4f4f4;padding:.7rem}}\
         button,a.button{{font-size:1.05rem;padding:.6rem 1.1rem;border-radius:.3rem}}label{{display:block;margin-top:.8rem}}</style>{script_tag}</head>\
         <body><main>{main}</main></body></html>",
        escape(title)
    );
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    response
}

/// `GET /demo`
pub fn page() -> Response<Body> {
    html(
        StatusCode::OK,
        "esignd demo",
        "<h1>Sign a file with esignd</h1>\
         <p class=\"mock\">Demo: the ID provider is a built-in mock that believes whatever name you type. \
         The file never leaves your browser; only its SHA-256 does.</p>\
         <form id=\"demo\"><label for=\"file\">File to sign</label><input id=\"file\" type=\"file\" required>\
         <p><button type=\"submit\" id=\"start\">Sign it</button></p></form>\
         <p>SHA-256: <code id=\"hash\">–</code></p><p id=\"status\" role=\"status\"></p>\
         <h2>Or sign with your own device</h2>\
         <p>Enrol the reference device <code>esign-device</code> once, keep it serving, then choose \
         \u{201c}Sign with my device\u{201d} on the signing page:</p>\
         <pre>curl -s 'http://127.0.0.1:8080/demo/id-token?name=Jane+Citizen&amp;sub=DEMO-0002' &gt; token.txt\n\
D=\"target/debug/esign-device --key-file phone.key --state phone.json\"\n\
$D keygen\n$D enroll --id-token-file token.txt --pseudonym jane\n$D serve</pre>",
        true,
    )
}

/// `GET /demo/id-token?name=&sub=`: a mock ID-provider token for a device's owner (plain text),
/// for `esign-device enroll --id-token-file`. Demo profile only, like the mock provider.
pub async fn id_token(state: &AppState, demo: &Demo, request: &Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let get = |name| form::get(&query, name).map(str::trim).filter(|v| !v.is_empty() && v.len() <= 200);
    let (Some(name), Some(subject)) = (get("name"), get("sub")) else {
        return Err(ApiError::bad_request("name and sub are required (up to 200 characters each)"));
    };
    let client_id = state.identity.config().client_id.clone();
    let claims = demo.idp.device_owner_claims(name, subject, &client_id);
    let token = state.service.sign_jws("JWT", claims.to_string().into_bytes()).await?;
    let mut response = Response::new(Body::from(format!("{token}\n")));
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /demo/demo.js`
pub fn script() -> Response<Body> {
    const SCRIPT: &str = r#"document.getElementById('demo').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = document.getElementById('file').files[0];
  const status = document.getElementById('status');
  if (!file) return;
  status.textContent = 'Computing the SHA-256 of ' + file.name + '…';
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
  document.getElementById('hash').textContent = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  const hash = btoa(String.fromCharCode(...digest));
  const response = await fetch('/demo/start', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hash, fileName: file.name }),
  });
  const body = await response.json();
  if (!response.ok) { status.textContent = body.status?.message ?? 'failed'; return; }
  status.textContent = 'Opening the signing page…';
  location.assign(body.redirectUrl);
});
"#;
    let mut response = Response::new(Full::new(Bytes::from_static(SCRIPT.as_bytes())));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    response
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    hash: String,
    file_name: Option<String>,
}

/// `POST /demo/start`: the demo eService creates a session for the browser's digest.
pub async fn start(state: &AppState, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let body: Start = read_json(request, 4096).await?;
    let digest = STANDARD.decode(&body.hash).map_err(|_| ApiError::bad_request("hash is not valid base64"))?;
    let digest =
        Digest::new(HashAlgorithm::Sha256, digest).map_err(|_| ApiError::bad_request("hash is a SHA-256 digest"))?;
    let client = clients::by_id(state.sessions.clients(), DEMO_CLIENT)
        .expect("the demo client is registered in mock mode")
        .clone();
    let file = body.file_name.unwrap_or_else(|| "the file".into());
    let new = NewSession {
        correlation_id: crate::ids::random_hex(16),
        digest,
        format: Format::Cades,
        data_to_be_displayed: format!("Demo: {}", file.chars().take(200).collect::<String>()),
        callback_url: client.callback_urls[0].clone(),
        webhook_url: None,
        lifetime: std::time::Duration::from_secs(600),
        lang: Lang::En,
        pub_key_pem: None,
        eservice_nonce: None,
        eservice_state: None,
    };
    let (_, _, redirect_url) = state.sessions.create(&client, new).await?;
    Ok(json(StatusCode::OK, &json!({ "redirectUrl": redirect_url })))
}

/// `GET /demo/done`: back from the signing flow; redeem and offer the download.
pub async fn done(state: &AppState, demo: &Demo, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let Some(signature_id) = form::get(&query, "signatureId") else {
        let error = form::get(&query, "error_description").or(form::get(&query, "error")).unwrap_or("no signature");
        return html(
            StatusCode::OK,
            "Not signed",
            &format!("<h1>Not signed</h1><p>{}</p><p><a href=\"/demo\">Try again</a></p>", escape(error)),
            false,
        );
    };
    let client =
        clients::by_id(state.sessions.clients(), DEMO_CLIENT).expect("the demo client is registered in mock mode");
    let response = match state.sessions.redeem(client, signature_id).await {
        Ok(Some(response)) => response,
        Err(e) => {
            tracing::warn!(error = %e, "the demo could not redeem a signature");
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<h1>The signature cannot be collected right now</h1><p>Reload this page in a moment.</p>",
                false,
            );
        }
        Ok(None) => {
            return html(
                StatusCode::NOT_FOUND,
                "Not found",
                "<h1>This signature was already collected or has expired</h1><p><a href=\"/demo\">Sign another file</a></p>",
                false,
            );
        }
    };
    let Some(Redeemed { p7s, gen_time, subject }) = read_sign_response(&response) else {
        tracing::error!("the demo could not read a SignResponse esignd made");
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not readable",
            "<h1>The signature came back in a form the demo cannot read</h1><p><a href=\"/demo\">Try again</a></p>",
            false,
        );
    };
    let id = demo.shop.keep(p7s);
    let main = format!(
        "<h1>Signed</h1><p>Signed by <strong>{subject}</strong> with a one-minute certificate, time-stamped.</p>\
         <p><a class=\"button\" id=\"download\" href=\"/demo/download/{id}\" download=\"signature.p7s\">Download signature.p7s</a></p>\
         <h2>Check it yourself</h2><pre id=\"verify\">curl -s {public_url}/v1/ca -o chain.pem\n\
         openssl cms -verify -binary -inform DER -in signature.p7s -content YOUR_FILE \\\n  -CAfile chain.pem -purpose any -attime {gen_time} -out /dev/null</pre>\
         <p>The certificate lived for one minute; <code>-attime</code> checks it at the time the RFC 3161 time-stamp in the signature proves.</p>\
         <p><a href=\"/demo\">Sign another file</a></p>",
        subject = escape(&subject),
        public_url = escape(&state.public_url),
    );
    html(StatusCode::OK, "Signed", &main, false)
}

/// What the result page needs from a SignResponse.
struct Redeemed {
    p7s: Vec<u8>,
    /// The time-stamp's genTime, seconds since the epoch (for `openssl cms -verify -attime`).
    gen_time: u64,
    subject: String,
}

fn read_sign_response(response: &str) -> Option<Redeemed> {
    let response: serde_json::Value = serde_json::from_str(response).ok()?;
    let field = |name: &str| response[name].as_str().map(str::to_owned);
    let p7s = STANDARD.decode(field("signature")?).ok()?;
    let token = STANDARD.decode(field("signatureTimestamp")?).ok()?;
    let gen_time = crate::tsa::verify::tst_info(&token).ok()?.gen_time.to_system_time();
    let pem = field("certificate")?;
    let (_, der) = der::pem::decode_vec(pem.as_bytes()).ok()?;
    let certificate: x509_cert::Certificate = der::Decode::from_der(&der).ok()?;
    Some(Redeemed {
        p7s,
        gen_time: gen_time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs(),
        subject: certificate.tbs_certificate().subject().to_string(),
    })
}

/// `GET /demo/download/{id}`
pub fn download(demo: &Demo, id: &str) -> Response<Body> {
    let Some(p7s) = demo.shop.get(id) else {
        return html(StatusCode::NOT_FOUND, "Not found", "<h1>This download has expired</h1>", false);
    };
    let mut response = Response::new(Full::new(Bytes::from(p7s)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/pkcs7-signature"));
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"signature.p7s\""));
    response
}

/// `GET /mock-idp/.well-known/openid-configuration`
pub fn discovery(demo: &Demo) -> Response<Body> {
    json(StatusCode::OK, &demo.idp.discovery())
}

/// `GET /mock-idp/authorize`: the mock login page.
pub fn authorize_page(demo: &Demo, request: &Request<Incoming>) -> Response<Body> {
    let query = form::parse(request.uri().query().unwrap_or(""));
    let get = |name| form::get(&query, name).unwrap_or_default();
    if !demo.idp.redirect_allowed(get("redirect_uri")) {
        return html(StatusCode::BAD_REQUEST, "Mock ID provider", "<h1>Unknown redirect_uri</h1>", false);
    }
    let hidden: String = ["client_id", "redirect_uri", "state", "nonce", "code_challenge"]
        .iter()
        .map(|name| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(get(name))))
        .collect();
    let main = format!(
        "<p class=\"mock\"><strong>MOCK ID PROVIDER</strong> — for demonstrations only. Type any name; it goes into the certificate.</p>\
         <h1>Who are you?</h1><form method=\"post\" action=\"/mock-idp/authorize\">{hidden}\
         <label for=\"name\">Full name</label><input id=\"name\" name=\"name\" required value=\"Demo User\">\
         <label for=\"sub\">Personal code</label><input id=\"sub\" name=\"sub\" required value=\"DEMO-0001\">\
         <p><button type=\"submit\" id=\"login\">Log in</button></p></form>"
    );
    html(StatusCode::OK, "Mock ID provider", &main, false)
}

/// `POST /mock-idp/authorize`: back to esignd's callback with a code.
pub async fn authorize(demo: &Demo, request: Request<Incoming>) -> Response<Body> {
    if !has_content_type(&request, "application/x-www-form-urlencoded") {
        return html(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Mock ID provider", "<h1>Use the form</h1>", false);
    }
    let body = read_limited(request, 8192).await.unwrap_or_default();
    let fields = form::parse(&String::from_utf8_lossy(&body));
    let get = |name| form::get(&fields, name).unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    if !demo.idp.redirect_allowed(redirect_uri) || get("name").trim().is_empty() || get("sub").trim().is_empty() {
        return html(
            StatusCode::BAD_REQUEST,
            "Mock ID provider",
            "<h1>Name, personal code and a known redirect_uri are required</h1>",
            false,
        );
    }
    let code =
        demo.idp.grant(get("name"), get("sub"), get("nonce"), get("code_challenge"), get("client_id"), redirect_uri);
    let query = crate::identity::rp::form_encode(&[("code", &code), ("state", get("state"))]);
    see_other(&format!("{redirect_uri}?{query}"))
}

/// `POST /mock-idp/token`: the code for an ID token signed by the service key.
pub async fn token(state: &AppState, demo: &Demo, request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let body = read_limited(request, 16 * 1024).await.map_err(|_| ApiError::bad_request("invalid_request"))?;
    let fields = form::parse(&String::from_utf8_lossy(&body));
    let get = |name| form::get(&fields, name).unwrap_or_default();
    let claims = demo
        .idp
        .exchange(get("code"), get("code_verifier"), get("redirect_uri"))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let id_token = state.service.sign_jws("JWT", claims.to_string().into_bytes()).await?;
    Ok(json(StatusCode::OK, &json!({ "id_token": id_token, "token_type": "Bearer", "expires_in": 300 })))
}
