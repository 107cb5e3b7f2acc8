//! In-process tier: the GovStack query forms are the eService's only when it signed them (RFC 9101
//! request objects). Attacks: an unsigned link in an eService's name, a link signed by another
//! key, for another audience or client, expired, too long-lived, without or with a used `jti`,
//! another kind of token, `alg: none`, a `request_uri`, outer parameters swapped under a valid
//! signature, an oversized `nonce`. None makes a session. A client that still takes unsigned
//! links gets sessions without webhook or device.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::app::{Answer, App, query_param};
use common::eservices::{CALLBACK, PERMIT, clients_toml, sha256_hex};
use common::fake_tsa::{Reply, serve};
use common::request_object::{self, claims, sign, sign_with};
use esignd::hsm::HashAlgorithm;
use serde_json::{Value, json};

/// eservice-a signs (its JWKS is registered); eservice-b registered no keys; eservice-legacy
/// takes unsigned links.
async fn app() -> App {
    let legacy = format!(
        "\n[[clients]]\nid = \"eservice-legacy\"\napi_key_sha256 = \"{}\"\ncallback_urls = [\"{CALLBACK}\"]\n\
         webhook_url = \"http://127.0.0.1:9/legacy-hook\"\nallow_unsigned_query = true\n",
        sha256_hex("key-l")
    );
    App::start(&format!("{}{legacy}", clients_toml("http://127.0.0.1:9/webhook"))).await
}

fn parameters() -> Value {
    json!({
        "hash": STANDARD.encode(HashAlgorithm::Sha256.digest(PERMIT)), "hashType": "SHA2-256", "format": "CAdES",
        "dataToBeDisplayed": "Building permit B-12", "callbackUrl": CALLBACK, "nonce": "n-1", "state": "s-1",
    })
}

async fn open(app: &App, client_id: &str, request: &str) -> Answer {
    app.get(&format!("/sign/interactive?client_id={client_id}&request={request}"), &[]).await
}

/// The stored session behind a signing-page URL.
fn stored_session(app: &App, page_url: &str) -> Value {
    let token = query_param(page_url, "token").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let id = claims["sub"].as_str().unwrap().to_owned();
    let db = rusqlite::Connection::open(app.path("esignd.db")).unwrap();
    let body: String = db.query_row("SELECT body FROM sessions WHERE id = ?1", [id], |row| row.get(0)).unwrap();
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_link_opens_the_page_once_and_its_parameters_are_the_only_ones_taken() {
    let app = app().await;
    let request = sign(&claims(&app.url, parameters()));
    // Outer parameters beside the request object are ignored (RFC 9101 §5): the digest signed is
    // the one the eService signed, whatever the link says around it.
    let swapped = format!("&hash={}&callbackUrl=https%3A%2F%2Fevil.example%2F", STANDARD.encode([0u8; 32]));
    let opened = app.get(&format!("/sign/interactive?client_id=eservice-a&request={request}{swapped}"), &[]).await;
    assert_eq!(opened.status, 303, "{}", opened.text());
    let page_url = opened.header("location").unwrap();
    let session = stored_session(&app, &page_url);
    assert_eq!(session["digest_hex"], hex::encode(HashAlgorithm::Sha256.digest(PERMIT)), "{session}");
    assert_eq!(session["callback_url"], CALLBACK);
    assert_eq!(session["webhook_url"], "http://127.0.0.1:9/webhook", "a signed link's session has the webhook");
    let page = app.get(&page_url[page_url.find("/sign/").unwrap()..], &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("name=\"pseudonym\""), "and may go to the user's device");

    let replayed = open(&app, "eservice-a", &request).await;
    assert_eq!(replayed.status, 401, "{}", replayed.text());
    assert!(replayed.text().contains("already been used"), "{}", replayed.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_misused_links_make_no_session() {
    let app = app().await;
    let sessions = || app.rows("sessions");
    let before = sessions();
    let query = format!(
        "/sign/interactive?client_id=eservice-a&hash={}&hashType=SHA2-256&format=CAdES&callbackUrl={}",
        STANDARD.encode(HashAlgorithm::Sha256.digest(PERMIT)).replace('+', "%2B").replace('/', "%2F"),
        CALLBACK.replace(':', "%3A").replace('/', "%2F"),
    );
    let unsigned = app.get(&query, &[]).await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.text());
    assert!(unsigned.text().contains("client eservice-a signs its query forms"), "{}", unsigned.text());

    let with = |change: Value| {
        let mut claims = claims(&app.url, parameters());
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let stranger = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let none_alg = {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string());
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims(&app.url, parameters()).to_string()))
    };
    let at_jwt = {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "at+jwt"}).to_string());
        let signed = sign(&claims(&app.url, parameters()));
        let mut parts = signed.splitn(2, '.');
        let _ = parts.next();
        format!("{header}.{}", parts.next().unwrap())
    };
    let now = request_object::now();
    let cases: Vec<(&str, &str, String, &str)> = vec![
        ("another key", "eservice-a", sign_with(&stranger, &claims(&app.url, parameters())), "not valid"),
        ("another audience", "eservice-a", sign(&with(json!({"aud": "https://other.example"}))), "not valid"),
        ("another issuer", "eservice-a", sign(&with(json!({"iss": "eservice-b"}))), "not valid"),
        ("another client_id inside", "eservice-a", sign(&with(json!({"client_id": "eservice-b"}))), "client_id"),
        ("expired", "eservice-a", sign(&with(json!({"exp": now - 300}))), "not valid"),
        ("valid for a day", "eservice-a", sign(&with(json!({"exp": now + 86_400}))), "ten minutes"),
        ("no exp", "eservice-a", sign(&with(json!({"exp": null}))), "not valid"),
        ("no jti", "eservice-a", sign(&with(json!({"jti": null}))), "jti"),
        ("a number for a parameter", "eservice-a", sign(&with(json!({"state": 7}))), "must be a string"),
        ("alg none", "eservice-a", none_alg, "not valid"),
        ("an access token's typ", "eservice-a", at_jwt, "typ"),
        ("a client without keys", "eservice-b", sign(&claims(&app.url, parameters())), "no request-object keys"),
        ("not a JWT", "eservice-a", "garbage".to_owned(), "not valid"),
    ];
    for (attack, client, request, says) in cases {
        let answer = open(&app, client, &request).await;
        assert_eq!(answer.status, 401, "{attack}: {}", answer.text());
        assert!(answer.text().contains(says), "{attack}: {}", answer.text());
        assert!(answer.header("location").is_none(), "{attack}");
    }
    let by_reference =
        app.get("/sign/interactive?client_id=eservice-a&request_uri=https%3A%2F%2Fe.example%2Fr", &[]).await;
    assert_eq!(by_reference.status, 401);
    assert!(by_reference.text().contains("request_uri is not supported"), "{}", by_reference.text());
    let unknown = open(&app, "nobody", &sign(&claims(&app.url, parameters()))).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text());
    let long_nonce = sign(&with(json!({"nonce": "n".repeat(257)})));
    let answer = open(&app, "eservice-a", &long_nonce).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.text().contains("nonce"), "{}", answer.text());
    assert_eq!(sessions(), before, "no attack made a session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_link_of_a_client_that_allows_it_gets_no_webhook_and_no_device() {
    let app = app().await;
    let query = format!(
        "/sign/interactive?client_id=eservice-legacy&hash={}&hashType=SHA2-256&format=CAdES&callbackUrl={}",
        STANDARD.encode(HashAlgorithm::Sha256.digest(PERMIT)).replace('+', "%2B").replace('/', "%2F"),
        CALLBACK.replace(':', "%3A").replace('/', "%2F"),
    );
    let opened = app.get(&query, &[]).await;
    assert_eq!(opened.status, 303, "{}", opened.text());
    let page_url = opened.header("location").unwrap();
    let session = stored_session(&app, &page_url);
    assert_eq!(session["webhook_url"], Value::Null, "{session}");
    assert_eq!(session["unsigned_query"], true);
    let page = app.get(&page_url[page_url.find("/sign/").unwrap()..], &[]).await;
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("name=\"pseudonym\""), "no device form on the page");
    let token = query_param(&page_url, "token").unwrap();
    let device = app.form("/sign/interactive/device", &format!("token={token}&pseudonym=somebody")).await;
    assert_eq!(device.status, 401, "{}", device.text());
    assert_eq!(app.rows("device_requests"), 0, "nothing was queued for a device");
    // Its pseudonym query form is never taken unsigned.
    let pseudonym = query.replace("/sign/interactive?", "/v1/sign/interactivePseudonym?");
    assert_eq!(app.get(&pseudonym, &[]).await.status, 401);
    // An oversized state is refused here too.
    let long_state = app.get(&format!("{query}&state={}", "s".repeat(257)), &[]).await;
    assert_eq!(long_state.status, 400, "{}", long_state.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_keys_are_fetched_once_and_a_key_server_that_is_down_is_a_503() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&fetches);
    let published = serve(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Reply::Body(request_object::jwks().to_string().into_bytes())
    });
    let down = serve(|_| Reply::Status(500, b"down".to_vec()));
    let client = |id: &str, url: &str| {
        format!(
            "\n[[clients]]\nid = \"{id}\"\napi_key_sha256 = \"{}\"\ncallback_urls = [\"{CALLBACK}\"]\njwks_url = \"{url}\"\n",
            sha256_hex(id)
        )
    };
    let app = App::start(&format!("{}{}", client("published", &published.url), client("unreachable", &down.url))).await;
    for _ in 0..2 {
        let mut claims = claims(&app.url, parameters());
        claims["iss"] = json!("published");
        let opened = open(&app, "published", &sign(&claims)).await;
        assert_eq!(opened.status, 303, "{}", opened.text());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the key set is cached");
    let mut claims = claims(&app.url, parameters());
    claims["iss"] = json!("unreachable");
    let answer = open(&app, "unreachable", &sign(&claims)).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
}
