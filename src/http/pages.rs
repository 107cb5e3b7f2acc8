//! The citizen's pages, rendered on the server in the session's language (en, fr, nl, de):
//! what is being signed, by which model, and Sign / Cancel; and a plain error page. Every value
//! is HTML-escaped; the pages load nothing from elsewhere and may not be framed.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::response::Body;
use crate::service::sessions::{Lang, Session};

/// The words of the pages.
struct Words {
    title: &'static str,
    heading: &'static str,
    requested_by: &'static str,
    what: &'static str,
    fingerprint: &'static str,
    format: &'static str,
    model: &'static str,
    model_one_time: &'static str,
    sign: &'static str,
    cancel: &'static str,
    expires: &'static str,
    error_title: &'static str,
    device_heading: &'static str,
    model_device: &'static str,
    pseudonym: &'static str,
    sign_device: &'static str,
    waiting_heading: &'static str,
    waiting: &'static str,
    no_device: &'static str,
    device_unfit: &'static str,
    device_busy: &'static str,
}

/// Why the pseudonym typed on the signing page did not work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceProblem {
    /// No device is enrolled under it.
    Unknown,
    /// Its certificate is suspended, revoked or expired.
    Unfit,
    /// Too many requests wait for it.
    Busy,
}

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &Words {
            title: "Sign a document",
            heading: "You are asked to sign",
            requested_by: "Requested by",
            what: "What you sign",
            fingerprint: "Document fingerprint",
            format: "Signature format",
            model: "How you sign",
            model_one_time: "You confirm who you are with your national ID. A signing key is made for this signature only, certified for one minute, and destroyed right after.",
            sign: "Sign with my national ID",
            cancel: "Cancel",
            expires: "This request expires at",
            error_title: "This signing request cannot continue",
            device_heading: "Or sign with your own device",
            model_device: "If your signing app is registered, enter its pseudonym. The request appears in the app; you check it there and confirm with your PIN.",
            pseudonym: "Your pseudonym",
            sign_device: "Sign with my device",
            waiting_heading: "Confirm on your device",
            waiting: "Open your signing app, check what you sign and confirm with your PIN. This page moves on by itself when you are done.",
            no_device: "No signing device is registered under this pseudonym. Check it and try again.",
            device_unfit: "The signing device registered under this pseudonym cannot sign now (its certificate is suspended, revoked or expired).",
            device_busy: "Too many requests are waiting on this device. Answer them on the device, then try again.",
        },
        Lang::Fr => &Words {
            title: "Signer un document",
            heading: "Vous êtes invité à signer",
            requested_by: "Demandé par",
            what: "Ce que vous signez",
            fingerprint: "Empreinte du document",
            format: "Format de signature",
            model: "Comment vous signez",
            model_one_time: "Vous confirmez votre identité avec votre identifiant national. Une clé de signature est créée pour cette seule signature, certifiée pour une minute, puis détruite.",
            sign: "Signer avec mon identifiant national",
            cancel: "Annuler",
            expires: "Cette demande expire à",
            error_title: "Cette demande de signature ne peut pas continuer",
            device_heading: "Ou signez avec votre propre appareil",
            model_device: "Si votre application de signature est enregistrée, saisissez son pseudonyme. La demande apparaît dans l’application ; vérifiez-la et confirmez avec votre code PIN.",
            pseudonym: "Votre pseudonyme",
            sign_device: "Signer avec mon appareil",
            waiting_heading: "Confirmez sur votre appareil",
            waiting: "Ouvrez votre application de signature, vérifiez ce que vous signez et confirmez avec votre code PIN. Cette page avance d’elle-même ensuite.",
            no_device: "Aucun appareil de signature n’est enregistré sous ce pseudonyme. Vérifiez-le et réessayez.",
            device_unfit: "L’appareil enregistré sous ce pseudonyme ne peut pas signer pour l’instant (son certificat est suspendu, révoqué ou expiré).",
            device_busy: "Trop de demandes attendent sur cet appareil. Répondez-y sur l’appareil, puis réessayez.",
        },
        Lang::Nl => &Words {
            title: "Een document ondertekenen",
            heading: "U wordt gevraagd te ondertekenen",
            requested_by: "Aangevraagd door",
            what: "Wat u ondertekent",
            fingerprint: "Vingerafdruk van het document",
            format: "Handtekeningformaat",
            model: "Hoe u ondertekent",
            model_one_time: "U bevestigt wie u bent met uw nationale identiteit. Er wordt een sleutel gemaakt voor alleen deze handtekening, één minuut gecertificeerd en daarna vernietigd.",
            sign: "Ondertekenen met mijn nationale identiteit",
            cancel: "Annuleren",
            expires: "Dit verzoek verloopt om",
            error_title: "Dit ondertekeningsverzoek kan niet verder",
            device_heading: "Of onderteken met uw eigen toestel",
            model_device: "Is uw ondertekeningsapp geregistreerd, vul dan haar pseudoniem in. Het verzoek verschijnt in de app; controleer het daar en bevestig met uw pincode.",
            pseudonym: "Uw pseudoniem",
            sign_device: "Ondertekenen met mijn toestel",
            waiting_heading: "Bevestig op uw toestel",
            waiting: "Open uw ondertekeningsapp, controleer wat u ondertekent en bevestig met uw pincode. Deze pagina gaat daarna vanzelf verder.",
            no_device: "Onder dit pseudoniem is geen ondertekeningstoestel geregistreerd. Controleer het en probeer opnieuw.",
            device_unfit: "Het toestel onder dit pseudoniem kan nu niet ondertekenen (het certificaat is geschorst, ingetrokken of verlopen).",
            device_busy: "Er wachten te veel verzoeken op dit toestel. Beantwoord ze op het toestel en probeer opnieuw.",
        },
        Lang::De => &Words {
            title: "Ein Dokument unterschreiben",
            heading: "Sie werden gebeten zu unterschreiben",
            requested_by: "Angefordert von",
            what: "Was Sie unterschreiben",
            fingerprint: "Fingerabdruck des Dokuments",
            format: "Signaturformat",
            model: "Wie Sie unterschreiben",
            model_one_time: "Sie bestätigen Ihre Identität mit Ihrer nationalen ID. Für diese eine Signatur wird ein Schlüssel erzeugt, eine Minute lang zertifiziert und danach vernichtet.",
            sign: "Mit meiner nationalen ID unterschreiben",
            cancel: "Abbrechen",
            expires: "Diese Anfrage läuft ab um",
            error_title: "Diese Signaturanfrage kann nicht fortgesetzt werden",
            device_heading: "Oder mit Ihrem eigenen Gerät unterschreiben",
            model_device: "Ist Ihre Signatur-App registriert, geben Sie ihr Pseudonym ein. Die Anfrage erscheint in der App; prüfen Sie sie dort und bestätigen Sie mit Ihrer PIN.",
            pseudonym: "Ihr Pseudonym",
            sign_device: "Mit meinem Gerät unterschreiben",
            waiting_heading: "Bestätigen Sie auf Ihrem Gerät",
            waiting: "Öffnen Sie Ihre Signatur-App, prüfen Sie, was Sie unterschreiben, und bestätigen Sie mit Ihrer PIN. Danach geht diese Seite von selbst weiter.",
            no_device: "Unter diesem Pseudonym ist kein Signaturgerät registriert. Prüfen Sie es und versuchen Sie es erneut.",
            device_unfit: "Das Gerät unter diesem Pseudonym kann derzeit nicht unterschreiben (sein Zertifikat ist gesperrt, widerrufen oder abgelaufen).",
            device_busy: "Auf diesem Gerät warten zu viele Anfragen. Beantworten Sie sie auf dem Gerät und versuchen Sie es erneut.",
        },
    }
}

/// Escape text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
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

fn page(status: StatusCode, lang: Lang, title: &str, main: &str) -> Response<Body> {
    page_with_head(status, lang, title, "", main)
}

fn page_with_head(status: StatusCode, lang: Lang, title: &str, head: &str, main: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         {head}<title>{}</title><style>{STYLE}</style></head><body><main id=\"main\">{main}</main></body></html>",
        lang.tag(),
        escape(title)
    );
    let mut response = Response::new(Full::new(Bytes::from(html)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let set = |value: &'static str| HeaderValue::from_static(value);
    headers.insert(CONTENT_TYPE, set("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, set("no-store"));
    headers.insert(
        "content-security-policy",
        set("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert("x-frame-options", set("DENY"));
    headers.insert("referrer-policy", set("no-referrer"));
    headers.insert("x-content-type-options", set("nosniff"));
    response
}

/// The digest in groups of four hex digits, for reading aloud or comparing.
fn fingerprint(digest_hex: &str) -> String {
    digest_hex.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("")).collect::<Vec<_>>().join(" ")
}

/// The signing page of a pending session reached with `token`: the national-ID button, the
/// pseudonym form for the user's own device (focused first when `device_first`, with
/// `device_error` shown when the last pseudonym did not work), and Cancel.
pub fn signing(
    session: &Session,
    token: &str,
    device_first: bool,
    device_error: Option<DeviceProblem>,
) -> Response<Body> {
    let w = words(session.lang);
    let expires = crate::vocabulary::rfc3339(session.expires());
    let main = format!(
        "<h1>{heading}</h1><p>{requested_by} <strong>{client}</strong></p>\
         <section aria-labelledby=\"what\"><h2 id=\"what\">{what}</h2><p class=\"data\">{data}</p>\
         <dl><dt>{fingerprint_label}</dt><dd><code>{fingerprint}</code> ({hash_type})</dd><dt>{format_label}</dt><dd>{format}</dd></dl></section>\
         <section aria-labelledby=\"how\"><h2 id=\"how\">{model}</h2><p>{model_one_time}</p></section>\
         <form method=\"post\" action=\"/sign/interactive/start\"><input type=\"hidden\" name=\"token\" value=\"{token}\"><button type=\"submit\" id=\"sign\">{sign}</button></form>\
         <section aria-labelledby=\"device\"><h2 id=\"device\">{device_heading}</h2><p>{model_device}</p>\
         <form method=\"post\" action=\"/sign/interactive/device\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"pseudonym\">{pseudonym_label}</label> <input id=\"pseudonym\" name=\"pseudonym\" required minlength=\"3\" maxlength=\"64\" autocomplete=\"username\"{autofocus}{described}> \
         <button type=\"submit\" id=\"sign-device\">{sign_device}</button></form>{device_error}</section>\
         <form method=\"post\" action=\"/sign/interactive/cancel\"><input type=\"hidden\" name=\"token\" value=\"{token}\"><button type=\"submit\" id=\"cancel\" class=\"secondary\">{cancel}</button></form>\
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
        device_heading = escape(w.device_heading),
        model_device = escape(w.model_device),
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
        cancel = escape(w.cancel),
        expires_label = escape(w.expires),
        expires = escape(&expires),
    );
    page(StatusCode::OK, session.lang, w.title, &main)
}

/// The page shown while the user's device is asked; it reloads itself every two seconds, and
/// the server redirects it onwards once the device has answered.
pub fn device_waiting(session: &Session) -> Response<Body> {
    let w = words(session.lang);
    let main = format!(
        "<h1>{heading}</h1><p role=\"status\">{waiting}</p><dl><dt>{fingerprint_label}</dt><dd><code>{fingerprint}</code></dd></dl>",
        heading = escape(w.waiting_heading),
        waiting = escape(w.waiting),
        fingerprint_label = escape(w.fingerprint),
        fingerprint = escape(&fingerprint(&session.digest.hex())),
    );
    page_with_head(
        StatusCode::OK,
        session.lang,
        w.waiting_heading,
        "<meta http-equiv=\"refresh\" content=\"2\">",
        &main,
    )
}

/// A page saying why the request cannot continue.
pub fn error(status: StatusCode, lang: Lang, message: &str) -> Response<Body> {
    let w = words(lang);
    let main = format!("<h1>{}</h1><p role=\"alert\">{}</p>", escape(w.error_title), escape(message));
    page(status, lang, w.error_title, &main)
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
        assert_eq!(fingerprint("0123456789ab"), "0123 4567 89ab");
    }
}
