//! The browser-binding cookie on the wire (what it binds and why: the service's
//! `sessions/browser.rs`): `esignd-binding`, or `__Host-esignd-binding` when esignd is reached
//! over https (then `Secure`, host-only, path `/`); always `HttpOnly` and `SameSite=Lax`, so that
//! scripts never read it and other sites' forms never carry it, while the ID provider's redirect
//! back (a top-level GET) does. It lives as long as the browser session.

use hyper::header::{COOKIE, HeaderValue, SET_COOKIE};
use hyper::{Request, Response};

use super::headers::header;
use super::response::Body;
use crate::service::Browser;

fn name(public_url: &str) -> &'static str {
    if public_url.starts_with("https://") { "__Host-esignd-binding" } else { "esignd-binding" }
}

/// What `request` tells of its browser: the binding cookie, `Origin`, `Sec-Fetch-Site`.
pub(super) fn browser<B>(request: &Request<B>, public_url: &str) -> Browser {
    let wanted = name(public_url);
    let binding = request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == wanted)
        .map(|(_, value)| value.to_owned());
    Browser {
        binding,
        origin: header(request, "origin").map(str::to_owned),
        fetch_site: header(request, "sec-fetch-site").map(str::to_owned),
    }
}

/// Give the browser the binding cookie `value`.
pub(super) fn set(response: &mut Response<Body>, value: &str, public_url: &str) {
    let secure = if public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}", name(public_url));
    response
        .headers_mut()
        .append(SET_COOKIE, HeaderValue::from_str(&cookie).expect("base64url is a valid cookie value"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_among_others_and_set_host_only_over_https() {
        let request = hyper::Request::builder()
            .header("cookie", "other=1; esignd-binding=abc")
            .header("origin", "http://127.0.0.1:8080")
            .body(())
            .unwrap();
        let browser = browser(&request, "http://127.0.0.1:8080");
        assert_eq!(browser.binding.as_deref(), Some("abc"));
        assert_eq!(browser.origin.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(super::browser(&request, "https://sign.example.gov").binding, None, "over https, only __Host-");
        let mut response = Response::new(Body::default());
        set(&mut response, "xyz", "https://sign.example.gov");
        assert_eq!(response.headers()[SET_COOKIE], "__Host-esignd-binding=xyz; Path=/; HttpOnly; SameSite=Lax; Secure");
    }
}
