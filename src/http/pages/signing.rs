//! The signing page of a pending session — the national-ID button, the pseudonym form for the
//! user's own device, Cancel — and the page that waits while the device is asked.

use hyper::Response;

use super::words::{Words, words};
use super::{escape, page};
use crate::http::response::Body;
use crate::service::{DeviceProblem, Session};

/// The digest in groups of four hex digits, for reading aloud or comparing.
fn fingerprint(digest_hex: &str) -> String {
    digest_hex.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("")).collect::<Vec<_>>().join(" ")
}

/// The signing page of a pending session reached with `token`: the national-ID button, the
/// pseudonym form for the user's own device (focused first when `device_first`, with
/// `device_error` shown when the last pseudonym did not work), and Cancel.
pub(crate) fn signing(
    session: &Session,
    token: &str,
    device_first: bool,
    device_error: Option<DeviceProblem>,
) -> Response<Body> {
    let w = words(session.lang);
    let expires = crate::service::rfc3339(session.expires());
    let main = format!(
        "<h1>{heading}</h1><p>{requested_by} <strong>{client}</strong></p>\
         <section aria-labelledby=\"what\"><h2 id=\"what\">{what}</h2><p class=\"data\">{data}</p>\
         <dl><dt>{fingerprint_label}</dt><dd><code>{fingerprint}</code> ({hash_type})</dd><dt>{format_label}</dt><dd>{format}</dd></dl></section>\
         <section aria-labelledby=\"how\"><h2 id=\"how\">{model}</h2><p>{model_one_time}</p></section>\
         <form method=\"post\" action=\"/sign/interactive/start\"><input type=\"hidden\" name=\"token\" value=\"{token}\"><button type=\"submit\" id=\"sign\">{sign}</button></form>\
         {device}<form method=\"post\" action=\"/sign/interactive/cancel\"><input type=\"hidden\" name=\"token\" value=\"{token}\"><button type=\"submit\" id=\"cancel\" class=\"secondary\">{cancel}</button></form>\
         <p><small>{expires_label} <time datetime=\"{expires}\">{expires}</time></small></p>",
        heading = escape(w.heading),
        requested_by = escape(w.requested_by),
        client = escape(&session.client_id),
        what = escape(w.what),
        data = escape(&session.data_to_be_displayed),
        fingerprint_label = escape(w.fingerprint),
        fingerprint = escape(&fingerprint(&session.digest.hex())),
        hash_type = escape(session.digest.hash().name()),
        format_label = escape(w.format),
        format = escape(session.format.name()),
        model = escape(w.model),
        model_one_time = escape(w.model_one_time),
        token = escape(token),
        sign = escape(w.sign),
        // An unsigned query form's session cannot go to the user's device.
        device = if session.unsigned_query { String::new() } else { device_form(w, token, device_first, device_error) },
        cancel = escape(w.cancel),
        expires_label = escape(w.expires),
        expires = escape(&expires),
    );
    page(session.lang, w.title, "", &main)
}

/// The pseudonym form for the user's own device, with why the last pseudonym did not work.
fn device_form(w: &Words, token: &str, device_first: bool, device_error: Option<DeviceProblem>) -> String {
    format!(
        "<section aria-labelledby=\"device\"><h2 id=\"device\">{device_heading}</h2><p>{model_device}</p>\
         <form method=\"post\" action=\"/sign/interactive/device\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"pseudonym\">{pseudonym_label}</label> <input id=\"pseudonym\" name=\"pseudonym\" required minlength=\"3\" maxlength=\"64\" autocomplete=\"username\"{autofocus}{described}> \
         <button type=\"submit\" id=\"sign-device\">{sign_device}</button></form>{device_error}</section>",
        device_heading = escape(w.device_heading),
        model_device = escape(w.model_device),
        token = escape(token),
        pseudonym_label = escape(w.pseudonym),
        autofocus = if device_first { " autofocus" } else { "" },
        described =
            if device_error.is_some() { " aria-describedby=\"device-error\" aria-invalid=\"true\"" } else { "" },
        sign_device = escape(w.sign_device),
        device_error = device_error
            .map(|problem| {
                let text = match problem {
                    DeviceProblem::Unknown => w.no_device,
                    DeviceProblem::Unfit => w.device_unfit,
                    DeviceProblem::Busy => w.device_busy,
                };
                format!("<p id=\"device-error\" role=\"alert\">{}</p>", escape(text))
            })
            .unwrap_or_default(),
    )
}

/// The page shown while the user's device is asked; it reloads itself every two seconds, and
/// the server redirects it onwards once the device has answered.
pub(crate) fn device_waiting(session: &Session) -> Response<Body> {
    let w = words(session.lang);
    let main = format!(
        "<h1>{heading}</h1><p role=\"status\">{waiting}</p><dl><dt>{fingerprint_label}</dt><dd><code>{fingerprint}</code></dd></dl>",
        heading = escape(w.waiting_heading),
        waiting = escape(w.waiting),
        fingerprint_label = escape(w.fingerprint),
        fingerprint = escape(&fingerprint(&session.digest.hex())),
    );
    page(session.lang, w.waiting_heading, "<meta http-equiv=\"refresh\" content=\"2\">", &main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_groups_of_four() {
        assert_eq!(fingerprint("0123456789ab"), "0123 4567 89ab");
    }
}
