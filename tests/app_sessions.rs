//! In-process tier: signing sessions through the router on the in-memory key store — what eServices
//! may and may not ask, the moves a session makes in the browser (page, cancel, login at the demo
//! profile's mock provider, callback, redemption) and the refusals of every replay; the signing
//! page's pseudonym form, in the session's language. No redirect ever leaves for a URL the
//! eService did not register.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::app::{Answer, App, query_param};
use common::eservices::{CALLBACK, PERMIT, clients_toml, new_session};
use common::request_object;
use esignd::hsm::HashAlgorithm;
use serde_json::{Value, json};

const DOCUMENT: &[u8] = PERMIT;

async fn app() -> App {
    App::start(&clients_toml("http://127.0.0.1:9/webhook")).await
}

async fn create(app: &App, key: &str, body: &Value) -> Answer {
    app.json("POST", "/v1/sessions", &[("apikey", key)], body).await
}

/// The path and query of a URL esignd made for itself.
fn local(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    &url[after_scheme + url[after_scheme..].find('/').unwrap()..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_session_requests_are_refused_and_never_redirect_elsewhere() {
    let app = app().await;
    let good = new_session("dup-1", json!({}));
    assert_eq!(app.json("POST", "/v1/sessions", &[], &good).await.status, 401, "no apikey");
    assert_eq!(create(&app, "key-x", &good).await.status, 401, "unknown apikey");
    let evil = new_session("evil-1", json!({"callbackUrl": "https://evil.example/steal"}));
    let answer = create(&app, "key-a", &evil).await;
    assert_eq!((answer.status, answer.message().as_str()), (400, "callbackUrl is not registered for this client"));
    let other_webhook = new_session("evil-2", json!({"webhookUrl": "https://evil.example/hook"}));
    assert_eq!(create(&app, "key-a", &other_webhook).await.status, 400);
    let bad_hash = new_session("bad-1", json!({"hash": "AAAA"}));
    assert_eq!(create(&app, "key-a", &bad_hash).await.status, 400);
    for (field, value, want) in [
        ("sessionTimeInMinutes", json!(61), 400),
        ("lang", json!("xx"), 400),
        ("pubKey", json!("not base64 PEM"), 400),
        ("correlationId", json!(""), 422),
    ] {
        let answer = create(&app, "key-a", &new_session("field-1", json!({ field: value }))).await;
        assert_eq!(answer.status, want, "{field}: {}", answer.text());
    }
    assert_eq!(create(&app, "key-a", &good).await.status, 201);
    assert_eq!(create(&app, "key-a", &good).await.status, 409, "correlationId reused");
    assert_eq!(app.get("/v1/sessions/dup-1", &[("apikey", "key-b")]).await.status, 404, "another client's session");

    // The GovStack query form with an unregistered callback: an error page, not a redirect.
    let parameters = json!({"hash": STANDARD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)), "hashType": "SHA2-256",
        "format": "CAdES", "callbackUrl": "https://evil.example/"});
    let request = request_object::sign(&request_object::claims(&app.url, parameters));
    let answer = app.get(&format!("/sign/interactive?client_id=eservice-a&request={request}"), &[]).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(answer.header("location").is_none());
    // A forged or mismatched OpenID state, a broken token.
    assert_eq!(app.get("/sign/oidc/callback?state=forged&code=anything", &[]).await.status, 400);
    assert_eq!(app.get("/sign/interactive?token=eyJhbGciOiJFUzI1NiJ9.e30.AAAA", &[]).await.status, 400);
    assert_eq!(app.form("/sign/interactive/start", "token=forged").await.status, 400);
    assert_eq!(app.get("/v1/sign/response/00", &[("apikey", "key-a")]).await.status, 404);
    // Forms that did not come from the signing page.
    let json = app.call("POST", "/sign/interactive/start", &[("Content-Type", "application/json")], b"{}").await;
    assert_eq!(json.status, 415);
    assert_eq!(app.form("/sign/interactive/cancel", "nothing=here").await.status, 400);
    assert_eq!(app.form("/sign/interactive/start", &"x".repeat(9000)).await.status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_signed_at_the_mock_provider_redeemed_once_and_no_link_works_twice() {
    let app = app().await;
    let created = create(&app, "key-a", &new_session("flow-1", json!({}))).await.json();
    let page_path = local(created["redirectUrl"].as_str().unwrap()).to_owned();
    let page = app.get(&page_path, &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("&lt;script&gt;") && !page.text().contains("<script>alert"), "escaped");
    assert!(page.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    let token = query_param(&page_path, "token").unwrap();

    // Sign: to the mock provider, log in, back to the callback, which makes the signature.
    let start = app.form("/sign/interactive/start", &format!("token={token}")).await;
    assert_eq!(start.status, 303);
    let authorize = start.header("location").unwrap();
    let login = app.get(&authorize[authorize.find("/mock-idp/").unwrap()..], &[]).await;
    assert_eq!(login.status, 200, "{}", login.text());
    let form = mock_login(&authorize);
    let back = app.form("/mock-idp/authorize", &form).await;
    assert_eq!(back.status, 303, "{}", back.text());
    let callback = back.header("location").unwrap();
    let landed = app.get(local(&callback), &[]).await;
    assert_eq!(landed.status, 303, "{}", landed.text());
    let eservice = landed.header("location").unwrap();
    assert!(eservice.starts_with(CALLBACK), "{eservice}");
    let signature_id = query_param(&eservice, "signatureId").expect("a signatureId");

    let status = app.get("/v1/sessions/flow-1", &[("apikey", "key-a")]).await.json();
    assert_eq!(
        (status["status"].as_str(), status["signatureId"].as_str()),
        (Some("signed"), Some(signature_id.as_str()))
    );
    let redeemed = app.get(&format!("/v1/sign/response/{signature_id}"), &[("apikey", "key-a")]).await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.text());
    assert!(redeemed.json()["certificate"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    let path = format!("/v1/sign/response/{signature_id}");
    assert_eq!(app.get(&path, &[("apikey", "key-a")]).await.status, 404, "redeemed once");
    // Nothing works twice: the callback, the page, Sign.
    assert_eq!(app.get(local(&callback), &[]).await.status, 400, "a replayed callback");
    assert_eq!(app.get(&page_path, &[]).await.status, 409, "a used link");
    assert_eq!(app.form("/sign/interactive/start", &format!("token={token}")).await.status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_goes_back_with_an_error_and_the_eservice_sees_it_failed() {
    let app = app().await;
    let created = create(&app, "key-a", &new_session("cancel-1", json!({"lang": "fr"}))).await.json();
    let page_path = local(created["redirectUrl"].as_str().unwrap()).to_owned();
    let page = app.get(&page_path, &[]).await;
    assert!(page.text().contains("Signer avec mon identifiant national"), "the page speaks French");
    let token = query_param(&page_path, "token").unwrap();
    let cancelled = app.form("/sign/interactive/cancel", &format!("token={token}")).await;
    assert_eq!(cancelled.status, 303);
    let back = cancelled.header("location").unwrap();
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(query_param(&back, "error").as_deref(), Some("cancelled"));
    assert!(query_param(&back, "signatureId").is_none());
    let status = app.get("/v1/sessions/cancel-1", &[("apikey", "key-a")]).await.json();
    assert_eq!((status["status"].as_str(), status["error"].as_str()), (Some("failed"), Some("cancelled")));
    assert_eq!(app.form("/sign/interactive/cancel", &format!("token={token}")).await.status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pseudonym_token_the_user_is_sent_to_the_pseudonym_form_which_says_why_a_pseudonym_fails() {
    let app = app().await;
    let body = json!({
        "format": "CAdES", "hash": STANDARD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)), "hashType": "SHA2-256",
        "dataToBeDisplayed": "Lease agreement 4B (browser)", "nonce": "n-0002", "state": "s-0002",
    });
    let answer = app.json("POST", "/v1/sign/pseudonym", &[("apikey", "key-a")], &body).await;
    assert_eq!(answer.status, 302, "{}", answer.text());
    let redirect = answer.header("location").unwrap();
    assert!(redirect.contains("/v1/sign/interactivePseudonym?") && redirect.contains("callbackUrl="), "{redirect}");
    // An unregistered callbackUrl is refused; without one, the client's only one is used.
    let mut evil = body.clone();
    evil["callbackUrl"] = json!("https://evil.example/cb");
    assert_eq!(app.json("POST", "/v1/sign/pseudonym", &[("apikey", "key-a")], &evil).await.status, 400);

    // The redirect carries the session made under the API key; the page opens on the device form.
    let token = query_param(&redirect, "token").expect("the redirect names its session");
    let page = app.get(local(&redirect), &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Lease agreement 4B (browser)"), "the page shows the text");
    assert!(page.text().contains("name=\"pseudonym\"") && page.text().contains("autofocus"));
    let again = app.form("/sign/interactive/device", &format!("token={token}&pseudonym=not-a-device")).await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains("No signing device is registered under this pseudonym"), "{}", again.text());

    // The GovStack pseudonym query form, signed by the eService, in French.
    let display = URL_SAFE_NO_PAD.encode("Lease agreement 4B (browser)");
    let parameters = json!({
        "format": "CAdES", "hash": URL_SAFE_NO_PAD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)),
        "hashType": "SHA2-256", "dataToBeDisplayed": display, "callbackUrl": CALLBACK, "lang": "fr",
    });
    let request = request_object::sign(&request_object::claims(&app.url, parameters.clone()));
    // GovStack answers the query with the page itself (200), the pseudonym form first.
    let page = app.get(&format!("/v1/sign/interactivePseudonym?client_id=eservice-a&request={request}"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("Lease agreement 4B (browser)"), "the page shows the decoded text");
    assert!(page.text().contains("autofocus"), "the pseudonym form comes first");
    let token = page.text().split("name=\"token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let again = app.form("/sign/interactive/device", &format!("token={token}&pseudonym=not-a-device")).await;
    assert_eq!(again.status, 422);
    assert!(again.text().contains("Aucun appareil de signature"), "{}", again.text());
    // Unsigned, it is nobody's: refused.
    let hash = URL_SAFE_NO_PAD.encode(HashAlgorithm::Sha256.digest(DOCUMENT));
    let query = format!(
        "/v1/sign/interactivePseudonym?client_id=eservice-a&format=CAdES&hash={hash}&hashType=SHA2-256&callbackUrl=http%3A%2F%2F127.0.0.1%3A9%2Feservice%2Fcallback"
    );
    let refused = app.get(&query, &[]).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(refused.text().contains("the pseudonym form must be signed"), "{}", refused.text());
}

/// The mock provider's login form for Jane, answering the authorization request `authorize`.
fn mock_login(authorize: &str) -> String {
    let field = |name: &str| query_param(authorize, name).unwrap_or_default();
    format!(
        "name=Jane+Doe&sub=jane&client_id={}&redirect_uri={}&state={}&nonce={}&code_challenge={}",
        field("client_id"),
        field("redirect_uri"),
        field("state"),
        field("nonce"),
        field("code_challenge")
    )
}

/// Open a new session's signing page in the app's browser; returns its token.
async fn opened(app: &App, correlation_id: &str) -> String {
    let created = create(app, "key-a", &new_session(correlation_id, json!({}))).await.json();
    let page_path = local(created["redirectUrl"].as_str().unwrap()).to_owned();
    let page = app.get(&page_path, &[]).await;
    assert_eq!(page.status, 200);
    query_param(&page_path, "token").unwrap()
}

async fn failed_for_consent(app: &App, correlation_id: &str) {
    let status = app.get(&format!("/v1/sessions/{correlation_id}"), &[("apikey", "key-a")]).await.json();
    assert_eq!(
        (status["status"].as_str(), status["error"].as_str()),
        (Some("failed"), Some("consent_not_verified")),
        "{correlation_id}: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_browser_that_opened_the_page_can_sign_cancel_or_come_back_from_the_login() {
    let app = app().await;
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let attacker = common::app::Jar::default();

    // The page binds the session to the browser with an HttpOnly, SameSite cookie.
    let created = create(&app, "key-a", &new_session("csrf-0", json!({}))).await.json();
    let page = app.get(local(created["redirectUrl"].as_str().unwrap()), &[]).await;
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("esignd-binding=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));

    // A form another site submits in the citizen's own browser (cookie and all): refused by its
    // Origin, or by Sec-Fetch-Site; the session fails and no later click revives it.
    let token = opened(&app, "csrf-1").await;
    let body = format!("token={token}");
    let foreign = [form[0], ("Origin", "http://evil.example")];
    let refused = app.call("POST", "/sign/interactive/start", &foreign, body.as_bytes()).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("another site"), "{}", refused.text());
    failed_for_consent(&app, "csrf-1").await;
    assert_eq!(app.call("POST", "/sign/interactive/start", &form, body.as_bytes()).await.status, 409);
    let token = opened(&app, "csrf-2").await;
    let cross_site = [form[0], ("Sec-Fetch-Site", "cross-site")];
    let body = format!("token={token}");
    assert_eq!(app.call("POST", "/sign/interactive/cancel", &cross_site, body.as_bytes()).await.status, 403);
    failed_for_consent(&app, "csrf-2").await;

    // Another browser holding the link (the eService, a phisher) cannot press Sign or choose a
    // device, nor watch the device wait.
    let token = opened(&app, "csrf-3").await;
    let body = format!("token={token}");
    assert_eq!(app.call_from(&attacker, "POST", "/sign/interactive/start", &form, body.as_bytes()).await.status, 403);
    failed_for_consent(&app, "csrf-3").await;
    let token = opened(&app, "csrf-4").await;
    let body = format!("token={token}&pseudonym=anyone");
    let answer = app.call_from(&attacker, "POST", "/sign/interactive/device", &form, body.as_bytes()).await;
    assert_eq!(answer.status, 403);
    failed_for_consent(&app, "csrf-4").await;
    let waiting = app.call_from(&attacker, "GET", &format!("/sign/interactive/device?token={token}"), &[], b"").await;
    assert_eq!(waiting.status, 403);

    // A flow started in the attacker's browser and finished in the citizen's: the login's return
    // does not carry the attacker's binding, so nothing is signed.
    let created = create(&app, "key-a", &new_session("csrf-5", json!({}))).await.json();
    let page_path = local(created["redirectUrl"].as_str().unwrap()).to_owned();
    assert_eq!(app.call_from(&attacker, "GET", &page_path, &[], b"").await.status, 200);
    let token = query_param(&page_path, "token").unwrap();
    let start =
        app.call_from(&attacker, "POST", "/sign/interactive/start", &form, format!("token={token}").as_bytes()).await;
    assert_eq!(start.status, 303, "{}", start.text());
    let authorize = start.header("location").unwrap();
    let login = mock_login(&authorize);
    let back = app.form("/mock-idp/authorize", &login).await;
    let landed = app.get(local(&back.header("location").unwrap()), &[]).await;
    assert_eq!(landed.status, 403, "{}", landed.text());
    assert!(landed.header("location").is_none(), "no redirect with a signature");
    failed_for_consent(&app, "csrf-5").await;
    assert_eq!(app.rows("signatures"), 0, "nothing was signed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust1teams_names_are_taken_and_the_callback_always_carries_nonce_and_state() {
    let app = app().await;
    // POST /v1/token with redirectUri, webhookUri, useCase and means (Trust1Team's contract).
    let mut body = new_session("t1t-1", json!({ "useCase": "permit-b12", "means": "national-id" }));
    let callback = body.as_object_mut().unwrap().remove("callbackUrl").unwrap();
    body["redirectUri"] = callback;
    body["webhookUri"] = json!("http://127.0.0.1:9/webhook");
    let created = app.json("POST", "/v1/token", &[("apikey", "key-a")], &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_eq!((created["useCase"].as_str(), created["means"].as_str()), (Some("permit-b12"), Some("national-id")));
    // Neither nonce nor state was sent: both are made, told to the eService, and echoed back.
    let (nonce, state) = (created["nonce"].as_str().unwrap().to_owned(), created["state"].as_str().unwrap().to_owned());
    assert_eq!((nonce.len(), state.len()), (32, 32), "{created}");
    let status = app.get("/v1/sessions/t1t-1", &[("apikey", "key-a")]).await.json();
    assert_eq!((status["useCase"].as_str(), status["means"].as_str()), (Some("permit-b12"), Some("national-id")));
    let back = cancel_at(&app, created["redirectUrl"].as_str().unwrap()).await.header("location").unwrap();
    assert!(back.starts_with(CALLBACK), "{back}");
    assert_eq!(query_param(&back, "nonce"), Some(nonce));
    assert_eq!(query_param(&back, "state"), Some(state));
    // Another webhook than the registered one, and an overlong useCase, are refused.
    let mut other = new_session("t1t-2", json!({ "webhookUri": "http://127.0.0.1:9/elsewhere" }));
    assert_eq!(app.json("POST", "/v1/token", &[("apikey", "key-a")], &other).await.status, 400);
    other = new_session("t1t-3", json!({ "useCase": "x".repeat(129) }));
    assert_eq!(app.json("POST", "/v1/token", &[("apikey", "key-a")], &other).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eservice_hears_the_outcome_before_the_browser_arrives() {
    let hooks = common::eservices::Webhooks::start(0);
    let app = App::start(&clients_toml(hooks.url())).await;
    let created = create(&app, "key-a", &new_session("first-1", json!({}))).await.json();
    let back = cancel_at(&app, created["redirectUrl"].as_str().unwrap()).await;
    assert_eq!(back.status, 303);
    // No waiting here: the delivery was made before the redirect was answered.
    assert_eq!(hooks.received().len(), 1, "the webhook arrived before the browser was sent back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_callback_the_citizen_ends_on_esignds_page_and_the_eservice_polls() {
    let app = app().await;
    let mut body = new_session("no-callback-1", json!({ "lang": "nl" }));
    body.as_object_mut().unwrap().remove("callbackUrl");
    let created = create(&app, "key-a", &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let back = cancel_at(&app, created.json()["redirectUrl"].as_str().unwrap()).await.header("location").unwrap();
    assert_eq!(back, "/sign/interactive/done?outcome=failed&lang=nl");
    let done = app.get(&back, &[]).await;
    assert_eq!(done.status, 200);
    assert!(done.text().contains("Het document is niet ondertekend"), "{}", done.text());
    let status = app.get("/v1/sessions/no-callback-1", &[("apikey", "key-a")]).await.json();
    assert_eq!(status["status"], "failed");
}

/// The citizen opens the signing page at `page_url` and presses Cancel; esignd's answer.
async fn cancel_at(app: &App, page_url: &str) -> Answer {
    let page_path = local(page_url);
    assert_eq!(app.get(page_path, &[]).await.status, 200);
    let token = query_param(page_path, "token").unwrap();
    app.form("/sign/interactive/cancel", &format!("token={token}")).await
}

/// The citizen signs on the page at `page_path` through the mock provider; where the browser
/// ends (the eService's callback).
async fn citizen_signs(app: &App, page_path: &str) -> String {
    assert_eq!(app.get(page_path, &[]).await.status, 200);
    let token = query_param(page_path, "token").unwrap();
    let start = app.form("/sign/interactive/start", &format!("token={token}")).await;
    let authorize = start.header("location").unwrap();
    let back = app.form("/mock-idp/authorize", &mock_login(&authorize)).await;
    let landed = app.get(local(&back.header("location").unwrap()), &[]).await;
    assert_eq!(landed.status, 303, "{}", landed.text());
    landed.header("location").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esign_creates_a_session_and_waits_for_its_signature() {
    let app = app().await;
    let key = app.path("apikey");
    std::fs::write(&key, "key-a\n").unwrap();
    let digest = STANDARD.encode(HashAlgorithm::Sha256.digest(PERMIT));
    let esign = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_esign")).args(args).output().unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    // `esign session create` for `correlation_id`, with `extra` options.
    let create = |correlation_id: &str, extra: &[&str]| {
        let mut args = vec!["session", "create", "--server", &app.url, "--apikey-file", key.to_str().unwrap()];
        args.extend(["--digest", &digest, "--correlation-id", correlation_id]);
        args.extend_from_slice(extra);
        esign(&args)
    };
    let created = create("cli-1", &["--display", "Building permit B-12", "--callback", CALLBACK]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let redirect = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    assert!(redirect.starts_with(&app.url) && redirect.contains("/sign/interactive?token="), "{redirect}");

    // The eService waits (a process of its own) while the citizen signs.
    let out = app.path("response.json");
    let waiting = std::process::Command::new(env!("CARGO_BIN_EXE_esign"))
        .args(["session", "wait", "cli-1", "--server", &app.url, "--apikey-file", &s(&key), "--out", &s(&out)])
        .args(["--timeout", "60"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let back = citizen_signs(&app, local(&redirect)).await;
    assert!(back.starts_with(CALLBACK), "{back}");
    let waited = tokio::task::spawn_blocking(move || waiting.wait_with_output().unwrap()).await.unwrap();
    assert!(waited.status.success(), "{}", String::from_utf8_lossy(&waited.stderr));
    let response: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let dir = app.path("judged");
    common::oracle::sign_response(&dir, &response, PERMIT, &app.get("/v1/ca", &[]).await.text());

    // A session that ends without a signature: wait says why, and writes nothing.
    let cancelled = create("cli-2", &[]);
    let page = String::from_utf8_lossy(&cancelled.stdout).trim().to_owned();
    assert_eq!(cancel_at(&app, &page).await.status, 303);
    let nothing = app.path("nothing.json");
    let failed =
        esign(&["session", "wait", "cli-2", "--server", &app.url, "--apikey-file", &s(&key), "--out", &s(&nothing)]);
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("the session failed"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(!nothing.exists());
}
