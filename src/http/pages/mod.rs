//! The citizen's pages, rendered on the server in the session's language (en, fr, nl, de):
//! what is being signed, by which model, and Sign / Cancel ([`signing`]); the page that waits
//! for the user's device; and a plain error page. Every value is HTML-escaped; the pages load
//! nothing from elsewhere and may not be framed.

mod signing;
mod words;

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

pub(super) use signing::{device_waiting, signing};
use words::words;

use super::response::Body;
use crate::service::Lang;

/// Escape text for HTML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font:1.05rem/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:1.5rem}.data{white-space:pre-wrap;border-left:4px solid #0b5;padding:.5rem 1rem;background:#f4f8f5}\
code{word-break:break-all}button{font-size:1.05rem;padding:.7rem 1.2rem;margin:.5rem .5rem 0 0;border-radius:.3rem;border:2px solid #0b5;background:#0b5;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#1a1a1a;border-color:#666}button:focus{outline:3px solid #036;outline-offset:2px}form{display:inline}";

/// A page in `lang` with `title`, extra `head` elements and `main` content (all already escaped).
fn page(lang: Lang, title: &str, head: &str, main: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         {head}<title>{}</title><style>{STYLE}</style></head><body><main id=\"main\">{main}</main></body></html>",
        lang.tag(),
        escape(title)
    );
    let mut response = Response::new(Full::new(Bytes::from(html)));
    let headers = response.headers_mut();
    let set = |value: &'static str| HeaderValue::from_static(value);
    headers.insert(CONTENT_TYPE, set("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, set("no-store"));
    headers.insert(
        "content-security-policy",
        set("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert("x-frame-options", set("DENY"));
    // The page's URL carries its session token: no other site may see it. Same-origin (not
    // no-referrer) so that the browser names esignd's origin in the forms' `Origin` header.
    headers.insert("referrer-policy", set("same-origin"));
    headers.insert("x-content-type-options", set("nosniff"));
    response
}

/// The page a citizen ends on when the eService gave no callback URL: signed or not, and that
/// the window can be closed.
pub(super) fn finished(lang: Lang, signed: bool) -> Response<Body> {
    let w = words(lang);
    let heading = if signed { w.done_signed } else { w.done_failed };
    let main = format!("<h1>{}</h1><p role=\"status\">{}</p>", escape(heading), escape(w.done_close));
    page(lang, heading, "", &main)
}

/// A page saying why the request cannot continue (its status is set by `error.rs`).
pub(super) fn error(lang: Lang, message: &str) -> Response<Body> {
    let w = words(lang);
    let main = format!("<h1>{}</h1><p role=\"alert\">{}</p>", escape(w.error_title), escape(message));
    page(lang, w.error_title, "", &main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_escaped() {
        assert_eq!(
            escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
