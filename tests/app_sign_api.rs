//! In-process tier: `POST /v1/sign/onetime` and the routing table, driven through the router on
//! the in-memory key store. Every malformed request gets its status and a message that says what
//! to fix, before the ID provider or the HSM is asked, and leaves nothing behind; a good one is
//! signed, and its certificate published.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::app::App;
use esignd::hsm::HashAlgorithm;
use serde_json::json;

const DOCUMENT: &[u8] = b"The consent form the citizen signs.\n";

fn request(format: &str, hash_type: &str, digest: &[u8]) -> Vec<u8> {
    json!({ "format": format, "hash": STANDARD.encode(digest), "hashType": hash_type, "dataToBeDisplayed": "Consent form 1234", "requestTimestamp": "2026-11-23T09:12:28Z" })
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_the_right_status_and_leave_nothing_behind() {
    let app = App::start("").await;
    let token = app.signing_token("Jane Doe", "jane").await;
    let devices_token = app.id_token("Jane Doe", "jane").await;
    let digest = HashAlgorithm::Sha256.digest(DOCUMENT);
    let good = request("CAdES", "SHA2-256", &digest);
    // (what, token, content type, body, expected status, words the message must contain)
    type Case<'a> = (&'a str, Option<&'a str>, &'a str, Vec<u8>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("malformed JSON", Some(&token), "application/json", b"{\"format\": ".to_vec(), 400, "not valid JSON"),
        ("wrong hash length", Some(&token), "application/json", request("CAdES", "SHA2-256", &digest[..20]), 400, "hash is 20 bytes"),
        (
            "bad base64",
            Some(&token),
            "application/json",
            br#"{"format":"CAdES","hashType":"SHA2-256","hash":"***"}"#.to_vec(),
            400,
            "not valid base64",
        ),
        ("unknown hashType", Some(&token), "application/json", request("CAdES", "SHA3-256", &digest), 422, "unsupported hash algorithm"),
        ("unknown format", Some(&token), "application/json", request("JWS", "SHA2-256", &digest), 422, "esignd produces CAdES and PAdES"),
        (
            "missing hash",
            Some(&token),
            "application/json",
            br#"{"format":"CAdES","hashType":"SHA2-256"}"#.to_vec(),
            422,
            "hash is required",
        ),
        (
            "text too long to show",
            Some(&token),
            "application/json",
            json!({"format": "CAdES", "hashType": "SHA2-256", "hash": STANDARD.encode(&digest), "dataToBeDisplayed": "x".repeat(1001)}).to_string().into_bytes(),
            400,
            "longer than 1000 characters",
        ),
        (
            "text that reverses itself",
            Some(&token),
            "application/json",
            json!({"format": "CAdES", "hashType": "SHA2-256", "hash": STANDARD.encode(&digest), "dataToBeDisplayed": "Pay 10\u{202E}00001 EUR"}).to_string().into_bytes(),
            400,
            "U+202E (a format character)",
        ),
        ("oversized body", Some(&token), "application/json", vec![b' '; 64 * 1024], 413, "larger than"),
        ("wrong content type", Some(&token), "text/plain", good.clone(), 415, "application/json"),
        ("missing token", None, "application/json", good.clone(), 401, "X-GovStack-AuthenticationToken is required"),
        ("blank token", Some("  "), "application/json", good.clone(), 401, "X-GovStack-AuthenticationToken is required"),
        ("a JWT the provider did not sign", Some("eyJhbGciOiJFUzI1NiJ9.e30.AAAA"), "application/json", good.clone(), 401, "not valid"),
        ("a token for device management", Some(&devices_token), "application/json", good.clone(), 401, "another audience"),
    ];
    for (what, token, content_type, body, want, words) in cases {
        let mut headers = vec![("Content-Type", content_type)];
        if let Some(token) = token {
            headers.push(("X-GovStack-AuthenticationToken", token));
        }
        let answer = app.call("POST", "/v1/sign/onetime", &headers, &body).await;
        assert_eq!(answer.status, want, "{what}: {}", answer.text());
        assert_eq!(answer.json()["status"]["code"], "ERROR", "{what}");
        let said = answer.message();
        assert!(said.contains(words), "{what}: {said:?} lacks {words:?}");
        if let Some(token) = token.filter(|t| t.len() > 3) {
            assert!(!said.contains(token), "{what}: the token is echoed");
        }
    }
    assert_eq!(app.rows("certificates"), 0, "nothing was issued for any bad request");

    // The same request, well-formed: signed, and its certificate published under its serial.
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", token.as_str())];
    let answer = app.call("POST", "/v1/sign/onetime", &headers, &good).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let signed = answer.json();
    assert_eq!(signed["status"]["code"], "OK");
    assert_eq!(app.rows("certificates"), 1);
    let pem = signed["certificate"].as_str().unwrap();
    let certificate = <x509_cert::Certificate as der::DecodePem>::from_pem(pem).unwrap();
    let serial = hex::encode(certificate.tbs_certificate().serial_number().as_bytes());
    let published = app.get(&format!("/v1/certs/{serial}"), &[]).await;
    assert_eq!((published.status, published.text().trim()), (200, pem.trim()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_key_pool_configured_busy_answers_503_and_nothing_is_issued() {
    // RSA-3072 keys take the pool far longer to make than a signature takes to use one: with
    // room for one key, signatures soon find it empty.
    let app =
        App::start_with_hsm("ephemeral_key = \"rsa3072\"", "[hsm.key_pool]\nsize = 1\nwhen_empty = \"busy\"\n").await;
    let token = app.signing_token("Jane Doe", "jane").await;
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", token.as_str())];
    let good = request("CAdES", "SHA2-256", &HashAlgorithm::Sha256.digest(DOCUMENT));
    let mut signed = 0;
    let refused = loop {
        let answer = app.call("POST", "/v1/sign/onetime", &headers, &good).await;
        match answer.status {
            200 => signed += 1,
            _ => break answer,
        }
        assert!(signed < 20, "twenty signatures in a row found a key ready");
    };
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.message(), "no one-time key is ready; retry shortly");
    assert!(refused.header("retry-after").is_some(), "a busy answer says when to come back");
    assert_eq!(app.rows("certificates"), signed, "a refused signature issued nothing");
}

#[tokio::test]
async fn routes_answer_from_one_table_404_405_with_allow_and_head_as_get() {
    let app = App::start("").await;
    let answer = app.get("/no/such/thing", &[]).await;
    assert_eq!((answer.status, answer.message().as_str()), (404, "no such endpoint"));
    // A path served for other methods: 405, with the methods it takes.
    let cases = [
        ("GET", "/v1/sign/onetime", "POST", "use POST with a JSON body"),
        ("POST", "/healthz", "GET", "use GET"),
        ("GET", "/tsa", "POST", "use POST with an application/timestamp-query body"),
        ("GET", "/sign/interactive/start", "POST", "use the signing page's buttons"),
        ("GET", "/v1/cert/create", "POST", "use POST with a JSON body"),
        ("POST", "/v1/cert/4b1d", "PATCH", "use PATCH with a JSON body"),
        ("DELETE", "/v1/sign/response/abc", "GET", "use GET"),
        ("PUT", "/sign/interactive/device", "GET, POST", "use GET or POST"),
    ];
    for (method, path, allow, hint) in cases {
        let answer = app.call(method, path, &[], b"").await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.header("allow").as_deref(), Some(allow), "{method} {path}");
        assert_eq!(answer.message(), hint, "{method} {path}");
    }
    // HEAD is answered as GET; every answer carries a request id.
    let head = app.call("HEAD", "/healthz", &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-request-id").map(|id| id.len()), Some(16));
    // Path parameters are checked where they are decoded.
    assert_eq!(app.get("/v1/certs/not-hex", &[]).await.status, 400);
    assert_eq!(app.get("/v1/certs/00ff", &[]).await.status, 404);
}

#[tokio::test]
async fn the_built_in_tsa_refuses_what_is_not_a_timestamp_query() {
    let app = App::start("").await;
    let wrong = app.call("POST", "/tsa", &[("Content-Type", "application/json")], b"{}").await;
    assert_eq!(wrong.status, 415, "{}", wrong.text());
    let big = vec![0u8; 64 * 1024];
    let large = app.call("POST", "/tsa", &[("Content-Type", "application/timestamp-query")], &big).await;
    assert_eq!(large.status, 413, "{}", large.text());
    // A malformed query is answered by a TimeStampResp with status rejection, not an HTTP error.
    let garbage =
        app.call("POST", "/tsa", &[("Content-Type", "application/timestamp-query")], b"\x30\x03\x02\x01\x07").await;
    assert_eq!(garbage.status, 200);
    assert_eq!(garbage.header("content-type").as_deref(), Some("application/timestamp-reply"));
}

#[tokio::test]
async fn readiness_tells_the_public_only_whether_and_the_operator_why() {
    let app = App::start("").await;
    // From elsewhere: ready or not, nothing about the token, the TSA or the errors met.
    let public = app.get_from("203.0.113.7:40000", "/readyz").await;
    assert_eq!(public.status, 200, "{}", public.text());
    assert_eq!(public.json(), json!({ "status": "ready" }));
    let public_v6 = app.get_from("[2001:db8::7]:40000", "/readyz").await;
    assert_eq!(public_v6.json(), json!({ "status": "ready" }));
    // On loopback (the operator on the machine): every check, with the token it reached.
    for peer in ["127.0.0.1:40000", "[::1]:40000", "[::ffff:127.0.0.1]:40000"] {
        let local = app.get_from(peer, "/readyz").await;
        assert_eq!(local.status, 200);
        let body = local.json();
        assert_eq!(body["checks"]["hsm"]["status"], "ok", "{body}");
        assert!(body["checks"]["hsm"]["token"].is_string(), "{body}");
        assert_eq!(body["checks"]["tsa"]["mode"], "builtin", "{body}");
    }
}
