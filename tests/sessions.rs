//! Signing sessions end to end: an eService creates a session, a citizen (a scripted browser)
//! signs at a real OpenID provider, the eService redeems the signature once and hears of it by a
//! signed (and, when asked, encrypted) webhook that survives two failed deliveries.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::Daemon;
use common::eservices::{CALLBACK, PERMIT, Webhooks, clients_toml, new_session};
use common::oidc::Provider;
use common::{TokenDir, http_get, node, openssl, oracle, request_object};
use serde_json::{Value, json};

const DOCUMENT: &[u8] = PERMIT;

struct Setup {
    token: TokenDir,
    provider: Provider,
    _daemon: Daemon,
    addr: SocketAddr,
    webhooks: Webhooks,
}

/// esignd with two registered eServices (API keys "key-a" and "key-b"), a real provider, and a
/// webhook receiver that refuses the first `failures` deliveries.
fn setup(private_key_jwt: bool, failures: usize) -> Setup {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let jwks_uri = format!("http://127.0.0.1:{port}/.well-known/jwks.json");
    let provider = Provider::start_with(
        &[&format!("http://127.0.0.1:{port}/sign/oidc/callback")],
        private_key_jwt.then_some(jwks_uri.as_str()),
    );
    let webhooks = Webhooks::start(failures);
    let token = TokenDir::with_listen(&format!("127.0.0.1:{port}"));
    let client_auth = if private_key_jwt {
        "client_auth = \"private_key_jwt\"\n".to_owned()
    } else {
        std::fs::write(token.path("client-secret"), "esignd-secret\n").unwrap();
        "client_auth = \"client_secret_basic\"\nclient_secret_file = \"client-secret\"\n".to_owned()
    };
    let config = format!(
        "\n[identity]\nissuer = \"{issuer}\"\nclient_id = \"esignd\"\n{client_auth}\
         \n[webhooks]\nattempts = 5\nfirst_retry_ms = 200\n{clients}",
        issuer = provider.issuer,
        clients = clients_toml(webhooks.url()),
    );
    let existing = std::fs::read_to_string(token.config()).unwrap();
    std::fs::write(token.config(), existing + &config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    Setup { token, provider, _daemon: daemon, addr, webhooks }
}

fn api(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let headers: Vec<_> = key.map(|key| ("apikey", key)).into_iter().collect();
    common::http_json(addr, method, path, &headers, body)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%20", " "))
    })
}

/// Check a SignResponse with openssl and return the signer's subject.
fn judge(setup: &Setup, response: &Value, name: &str) -> String {
    oracle::sign_response(&setup.token.path(name), response, DOCUMENT, &http_get(setup.addr, "/v1/ca").1)
}

#[test]
fn a_citizen_signs_the_eservice_redeems_once_and_the_webhook_arrives_after_two_failures() {
    let setup = setup(false, 2);
    let (status, created) =
        api(setup.addr, "POST", "/v1/sessions", Some("key-a"), Some(&new_session("order-1", json!({"lang": "fr"}))));
    assert_eq!(status, 201, "{created}");
    let link = created["redirectUrl"].as_str().unwrap();
    assert!(link.starts_with(&format!("http://{}/sign/interactive?token=", setup.addr)), "{link}");

    let walk = setup.provider.citizen(link, CALLBACK, "jane", "start", false);
    let page = &walk["pages"][0];
    assert_eq!(page["status"], 200);
    let html = page["html"].as_str().unwrap();
    assert!(html.contains("<html lang=\"fr\"") && html.contains("Signer avec mon identifiant national"), "French page");
    assert!(html.contains("Building permit B-12 &lt;script&gt;"), "dataToBeDisplayed shown, escaped");
    let fingerprint = hex::encode(esignd::hsm::HashAlgorithm::Sha256.digest(DOCUMENT));
    assert!(html.contains(&fingerprint[..4]), "the digest fingerprint is shown");

    let landed = walk["url"].as_str().unwrap();
    let signature_id = query_param(landed, "signatureId").unwrap_or_else(|| panic!("no signatureId in {landed}"));
    assert_eq!(signature_id.len(), 64, "256 bits");

    let (status, state) = api(setup.addr, "GET", "/v1/sessions/order-1", Some("key-a"), None);
    assert_eq!((status, state["status"].as_str()), (200, Some("signed")), "{state}");
    assert_eq!(state["signatureId"], signature_id.as_str());

    let path = format!("/v1/sign/response/{signature_id}");
    assert_eq!(api(setup.addr, "GET", &path, Some("key-b"), None).0, 404, "another client cannot redeem it");
    let (status, response) = api(setup.addr, "GET", &path, Some("key-a"), None);
    assert_eq!(status, 200, "{response}");
    assert!(judge(&setup, &response, "redeemed").contains("CN=Jane Doe"));
    assert_eq!(api(setup.addr, "GET", &path, Some("key-a"), None).0, 404, "a signature is redeemed once");

    // Two refused deliveries, then the third is accepted: three identical bodies, each a JWS
    // that panva/jose verifies with esignd's published JWKS.
    let deliveries = setup.webhooks.wait_for(3);
    assert_eq!(deliveries.len(), 3);
    assert!(deliveries.iter().all(|d| d == &deliveries[0]), "retries send the same body");
    let jwks = format!("http://{}/.well-known/jwks.json", setup.addr);
    let verified = setup.provider.verify_jose(&jwks, &deliveries[2], None);
    assert_eq!(verified["jws"]["alg"], "ES256");
    let payload = &verified["payload"];
    assert_eq!(
        (payload["correlationId"].as_str(), payload["isSuccess"].as_bool()),
        (Some("order-1"), Some(true)),
        "{payload}"
    );
    assert_eq!(payload["signatureId"], signature_id.as_str());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(setup.webhooks.received().len(), 3, "no delivery after the accepted one");

    // The used link is refused.
    let (status, _) = http_get(setup.addr, &link[link.find("/sign/").unwrap()..]);
    assert_eq!(status, 409);

    // The audit: the session's events in order, in the transactions of its steps; the citizen
    // only as a subject hash.
    let db = setup.token.path("esignd.db");
    let signed = [
        "session.created",
        "consent.given",
        "citizen.authenticated",
        "certificate.issued",
        "signature.produced",
        "timestamp.issued",
        "key.destroyed",
        "signature.kept",
        "signature.redeemed",
    ];
    let trail = common::audit::types(&db, common::audit::AROUND);
    assert_eq!(trail[5..], signed, "after the five token.changed of the harness's provisioning");
    assert!(common::audit::types(&db, &[]).contains(&"webhook.delivered".to_owned()));
    common::audit::assert_no_personal_data(&db, &["Jane", "jane", &signature_id]);
}

#[test]
fn private_key_jwt_with_the_hsm_service_key_signs_too() {
    let setup = setup(true, 0);
    let (status, created) =
        api(setup.addr, "POST", "/v1/sessions", Some("key-a"), Some(&new_session("pkjwt-1", json!({}))));
    assert_eq!(status, 201, "{created}");
    let walk = setup.provider.citizen(created["redirectUrl"].as_str().unwrap(), CALLBACK, "accent", "start", false);
    let signature_id = query_param(walk["url"].as_str().unwrap(), "signatureId").expect("signed");
    let (status, response) = api(setup.addr, "GET", &format!("/v1/sign/response/{signature_id}"), Some("key-a"), None);
    assert_eq!(status, 200);
    assert!(judge(&setup, &response, "pkjwt").contains("CN=Jüri Õunapuu"));
}

#[test]
fn cancel_and_a_login_failure_go_back_with_errors_and_encrypted_failure_webhooks() {
    let setup = setup(false, 0);
    let key = setup.token.path("eservice.key");
    let made =
        openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key.to_str().unwrap()]);
    assert!(made.status.success());
    let public = openssl(["pkey", "-in", key.to_str().unwrap(), "-pubout"]);
    let pub_key = STANDARD.encode(&public.stdout);

    let (_, created) = api(
        setup.addr,
        "POST",
        "/v1/sessions",
        Some("key-a"),
        Some(&new_session("cancel-1", json!({"pubKey": pub_key}))),
    );
    let walk = setup.provider.citizen(created["redirectUrl"].as_str().unwrap(), CALLBACK, "jane", "cancel", false);
    let landed = walk["url"].as_str().unwrap();
    assert_eq!(query_param(landed, "error").as_deref(), Some("cancelled"), "{landed}");
    assert!(query_param(landed, "signatureId").is_none());

    let delivered = setup.webhooks.wait_for(1);
    assert_eq!(delivered[0].split('.').count(), 5, "a compact JWE");
    let jwks = format!("http://{}/.well-known/jwks.json", setup.addr);
    let opened = setup.provider.verify_jose(&jwks, &delivered[0], Some(&key));
    assert_eq!((opened["jwe"]["alg"].as_str(), opened["jwe"]["enc"].as_str()), (Some("RSA-OAEP-256"), Some("A256GCM")));
    assert_eq!(opened["payload"]["isSuccess"], false);
    assert_eq!(opened["payload"]["error"], "cancelled");

    let (_, created) = api(setup.addr, "POST", "/v1/sessions", Some("key-a"), Some(&new_session("abort-1", json!({}))));
    let walk = setup.provider.citizen(created["redirectUrl"].as_str().unwrap(), CALLBACK, "jane", "start", true);
    assert_eq!(query_param(walk["url"].as_str().unwrap(), "error").as_deref(), Some("login_failed"));
    let (_, state) = api(setup.addr, "GET", "/v1/sessions/abort-1", Some("key-a"), None);
    assert_eq!(state["status"], "failed");
}

#[test]
fn the_govstack_query_form_signed_by_the_eservice_echoes_nonce_and_state() {
    let setup = setup(false, 0);
    // The eService signs its link with the npm jose library: esignd is judged by a signer it did
    // not write.
    let parameters = json!({
        "hash": STANDARD.encode(esignd::hsm::HashAlgorithm::Sha256.digest(DOCUMENT)), "hashType": "SHA2-256",
        "format": "PAdES", "callbackUrl": CALLBACK, "nonce": "n-123", "state": "s-456", "lang": "de",
    });
    let claims = request_object::claims(&format!("http://{}", setup.addr), parameters).to_string();
    let request = node("tests/oidc", &["request-object.mjs", &request_object::private_jwk().to_string(), &claims]);
    let link = format!("http://{}/sign/interactive?client_id=eservice-a&request={}", setup.addr, request.trim());
    let walk = setup.provider.citizen(&link, CALLBACK, "jane", "start", false);
    assert!(walk["pages"][0]["html"].as_str().unwrap().contains("Mit meiner nationalen ID unterschreiben"));
    let landed = walk["url"].as_str().unwrap();
    assert!(query_param(landed, "signatureId").is_some(), "{landed}");
    assert_eq!(query_param(landed, "nonce").as_deref(), Some("n-123"));
    assert_eq!(query_param(landed, "state").as_deref(), Some("s-456"));
}
