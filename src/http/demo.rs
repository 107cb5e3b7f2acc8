//! The demo profile's pages (only with `[identity] mode = "mock"`): the demo eService at
//! `/demo`, where a visitor picks a file, its SHA-256 is computed in the browser, the signing
//! flow runs, and the `.p7s` comes back with the openssl command that verifies it; and
//! `/demo/id-token`, a mock token for enrolling the reference device.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use serde_json::json;

use super::body::json;
use super::call::Call;
use super::form;
use super::pages::escape;
use super::response::{self, Body, bytes};
use crate::service::{Digest, HashAlgorithm, MockPurpose, RequestError, ServiceError};

/// A demo page: the mock banner's style, and the demo script when `script`.
pub(super) fn html(title: &str, main: &str, script: bool) -> Response<Body> {
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
pub(super) async fn page(_call: Call) -> Result<Response<Body>, ServiceError> {
    Ok(html(
        "esignd demo",
        "<h1>Sign a file with esignd</h1>\
         <p class=\"mock\">Demo: the ID provider is a built-in mock that believes whatever name you type. \
         The file never leaves your browser; only its SHA-256 does \u{2014} unless it is a PDF: the demo eService \
         then prepares it and you download it signed.</p>\
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
    ))
}

/// `GET /demo/id-token?name=&sub=[&for=signing][&login_age_secs=]`: a mock ID-provider access
/// token (plain text) for a device's owner, for `esign-device enroll --id-token-file` — or,
/// `for=signing`, for `POST /v1/sign/onetime`; its login happened `login_age_secs` ago (default
/// now). Demo profile only, like the mock provider.
pub(super) async fn id_token(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = form::parse(call.request.uri().query().unwrap_or(""));
    let get = |name| form::get(&query, name).map(str::trim).filter(|v| !v.is_empty() && v.len() <= 200);
    let (Some(name), Some(subject)) = (get("name"), get("sub")) else {
        return Err(RequestError::invalid("name and sub are required (up to 200 characters each)").into());
    };
    let purpose = match get("for") {
        None | Some("devices") => MockPurpose::Devices,
        Some("signing") => MockPurpose::Signing,
        Some(_) => return Err(RequestError::invalid("for is devices (the default) or signing").into()),
    };
    let login_age = get("login_age_secs")
        .map(|age| age.parse::<u32>().map_err(|_| RequestError::invalid("login_age_secs is a number of seconds")))
        .transpose()?
        .unwrap_or(0);
    let token = call.service.demo_id_token(name, subject, purpose, login_age).await?;
    Ok(bytes("text/plain; charset=utf-8", Some("no-store"), format!("{token}\n")))
}

/// `GET /demo/demo.js`
pub(super) async fn script(_call: Call) -> Result<Response<Body>, ServiceError> {
    const SCRIPT: &str = r#"document.getElementById('demo').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = document.getElementById('file').files[0];
  const status = document.getElementById('status');
  if (!file) return;
  if (file.type === 'application/pdf' || file.name.toLowerCase().endsWith('.pdf')) {
    status.textContent = 'The demo eService prepares ' + file.name + ' for a PAdES signature…';
    const response = await fetch('/demo/start-pdf?fileName=' + encodeURIComponent(file.name), {
      method: 'POST', headers: { 'content-type': 'application/pdf' }, body: file,
    });
    const body = await response.json();
    if (!response.ok) { status.textContent = body.status?.message ?? 'failed'; return; }
    location.assign(body.redirectUrl);
    return;
  }
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
    Ok(bytes("text/javascript; charset=utf-8", None, SCRIPT))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    hash: String,
    file_name: Option<String>,
}

/// `POST /demo/start`: the demo eService creates a session for the browser's digest.
pub(super) async fn start(call: Call) -> Result<Response<Body>, ServiceError> {
    let body: Start = json(call.request, 4096).await?;
    let bytes = STANDARD.decode(&body.hash).map_err(|_| RequestError::invalid("hash is not valid base64"))?;
    let digest =
        Digest::new(HashAlgorithm::Sha256, bytes).map_err(|_| RequestError::invalid("hash is a SHA-256 digest"))?;
    let redirect_url = call.service.demo_start(digest, body.file_name).await?;
    Ok(response::json(&json!({ "redirectUrl": redirect_url })))
}

/// `GET /demo/done`: back from the signing flow; redeem and offer the download.
pub(super) async fn done(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = form::parse(call.request.uri().query().unwrap_or(""));
    let Some(signature_id) = form::get(&query, "signatureId") else {
        let error = form::get(&query, "error_description").or(form::get(&query, "error")).unwrap_or("no signature");
        let main = format!("<h1>Not signed</h1><p>{}</p><p><a href=\"/demo\">Try again</a></p>", escape(error));
        return Ok(html("Not signed", &main, false));
    };
    let collected = call.service.demo_collect(signature_id, form::get(&query, "state")).await?;
    if collected.pdf {
        let main = format!(
            "<h1>Signed</h1><p>Signed by <strong>{subject}</strong> with a one-minute certificate, time-stamped, \
             as a PAdES signature inside the PDF.</p>\
             <p><a class=\"button\" id=\"download\" href=\"/demo/download/{id}\" download=\"signed.pdf\">Download signed.pdf</a></p>\
             <h2>Check it yourself</h2><pre id=\"verify\">curl -s {public_url}/v1/ca -o chain.pem\n\
             esign verify signed.pdf --trust chain.pem\npdfsig signed.pdf</pre>\
             <p><a href=\"/demo\">Sign another file</a></p>",
            subject = escape(&collected.subject),
            id = collected.download_id,
            public_url = escape(call.service.public_url()),
        );
        return Ok(html("Signed", &main, false));
    }
    let main = format!(
        "<h1>Signed</h1><p>Signed by <strong>{subject}</strong> with a one-minute certificate, time-stamped.</p>\
         <p><a class=\"button\" id=\"download\" href=\"/demo/download/{id}\" download=\"signature.p7s\">Download signature.p7s</a></p>\
         <h2>Check it yourself</h2><pre id=\"verify\">curl -s {public_url}/v1/ca -o chain.pem\n\
         openssl cms -verify -binary -inform DER -in signature.p7s -content YOUR_FILE \\\n  -CAfile chain.pem -purpose any -attime {gen_time} -out /dev/null</pre>\
         <p>The certificate lived for one minute; <code>-attime</code> checks it at the time the RFC 3161 time-stamp in the signature proves.</p>\
         <p><a href=\"/demo\">Sign another file</a></p>",
        subject = escape(&collected.subject),
        id = collected.download_id,
        gen_time = collected.gen_time,
        public_url = escape(call.service.public_url()),
    );
    Ok(html("Signed", &main, false))
}

/// `GET /demo/download/{id}`: the `.p7s`, or the signed PDF.
pub(super) async fn download(call: Call) -> Result<Response<Body>, ServiceError> {
    let signed = call.service.demo_download(&call.param)?;
    let (kind, disposition) = if signed.starts_with(b"%PDF") {
        ("application/pdf", "attachment; filename=\"signed.pdf\"")
    } else {
        ("application/pkcs7-signature", "attachment; filename=\"signature.p7s\"")
    };
    let mut response = bytes(kind, None, signed);
    response.headers_mut().insert(CONTENT_DISPOSITION, HeaderValue::from_static(disposition));
    Ok(response)
}

/// The largest PDF the demo takes.
const MAX_PDF: usize = 20 * 1024 * 1024;

/// `POST /demo/start-pdf?fileName=`: the demo eService prepares the uploaded PDF and creates a
/// PAdES session for it.
pub(super) async fn start_pdf(call: Call) -> Result<Response<Body>, ServiceError> {
    let query = form::parse(call.request.uri().query().unwrap_or(""));
    let file_name = form::get(&query, "fileName").map(str::to_owned);
    if !super::body::has_content_type(&call.request, "application/pdf") {
        return Err(RequestError::unsupported("send the PDF as application/pdf").into());
    }
    let pdf = super::body::read_limited(call.request, MAX_PDF)
        .await
        .map_err(|e| e.into_request_error(format!("the demo takes PDFs up to {} MB", MAX_PDF >> 20)))?;
    let redirect_url = call.service.demo_start_pdf(pdf.to_vec(), file_name).await?;
    Ok(response::json(&json!({ "redirectUrl": redirect_url })))
}
