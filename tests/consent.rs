//! Only the citizen can consent, attacked the way an attacker would: in Debian's headless
//! Chromium, with a real OpenID provider (oidc-provider) whose single sign-on session the citizen
//! holds. A page on another site auto-submits the Sign form of the attacker's session; a flow the
//! attacker started in their own browser is finished in the citizen's. Neither signs anything:
//! each ends on a 403 page, its session fails with `consent_not_verified`, and the eService's
//! webhook says so. The citizen's own signing still works.

mod common;

use std::net::SocketAddr;

use common::daemon::Daemon;
use common::eservices::{CALLBACK, Webhooks, clients_toml, new_session};
use common::oidc::Provider;
use common::{TokenDir, http_exchange, node};
use serde_json::{Value, json};

struct Setup {
    _token: TokenDir,
    provider: Provider,
    _daemon: Daemon,
    addr: SocketAddr,
    webhooks: Webhooks,
}

fn setup() -> Setup {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let provider = Provider::start(&[&format!("http://127.0.0.1:{port}/sign/oidc/callback")]);
    let webhooks = Webhooks::start(0);
    let token = TokenDir::with_listen(&format!("127.0.0.1:{port}"));
    std::fs::write(token.path("client-secret"), "esignd-secret\n").unwrap();
    let config = format!(
        "\n[identity]\nissuer = \"{issuer}\"\nclient_id = \"esignd\"\nclient_auth = \"client_secret_basic\"\n\
         client_secret_file = \"client-secret\"\n{clients}",
        issuer = provider.issuer,
        clients = clients_toml(webhooks.url()),
    );
    let existing = std::fs::read_to_string(token.config()).unwrap();
    std::fs::write(token.config(), existing + &config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    Setup { _token: token, provider, _daemon: daemon, addr, webhooks }
}

fn api(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    common::http_json(addr, method, path, &[("apikey", "key-a")], body)
}

/// A new session's signing link (path and query).
fn signing_link(setup: &Setup, correlation_id: &str) -> String {
    let (status, created) = api(setup.addr, "POST", "/v1/sessions", Some(&new_session(correlation_id, json!({}))));
    assert_eq!(status, 201, "{created}");
    let url = created["redirectUrl"].as_str().unwrap();
    url[url.find("/sign/").unwrap()..].to_owned()
}

fn header(head: &[(String, String)], name: &str) -> String {
    head.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap_or_default()
}

#[test]
fn another_site_or_a_flow_started_elsewhere_signs_nothing_and_the_citizen_still_signs() {
    let setup = setup();
    let normal = signing_link(&setup, "normal-1");
    let csrf = signing_link(&setup, "csrf-1");
    let csrf_token = csrf.split("token=").nth(1).unwrap().to_owned();

    // The attacker opens their session's page in their own browser and presses Sign there.
    let phish = signing_link(&setup, "phish-1");
    let (status, head, _) = http_exchange(setup.addr, "GET", &phish, &[], b"");
    assert_eq!(status, 200);
    let cookie = header(&head, "set-cookie").split(';').next().unwrap().to_owned();
    let form = format!("token={}", phish.split("token=").nth(1).unwrap());
    let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie.as_str())];
    let (status, head, _) = http_exchange(setup.addr, "POST", "/sign/interactive/start", &headers, form.as_bytes());
    assert_eq!(status, 303);
    let phish_url = header(&head, "location");
    assert!(phish_url.starts_with(&setup.provider.issuer) && phish_url.contains("max_age=0"), "{phish_url}");

    let base = format!("http://{}", setup.addr);
    let seen: Value = serde_json::from_str(&node(
        "tests/browser",
        &["consent.mjs", &base, &format!("{base}{normal}"), &csrf_token, &phish_url, CALLBACK, "jane"],
    ))
    .unwrap();

    // The citizen's own signing works, and is redeemed.
    let landed = seen["normal"].as_str().unwrap();
    let signature_id = landed.split("signatureId=").nth(1).expect("a signatureId").split('&').next().unwrap();
    assert_eq!(api(setup.addr, "GET", &format!("/v1/sign/response/{signature_id}"), None).0, 200);

    // Each attack: a 403 page, no signature, the session failed, and the eService told.
    for (attack, correlation_id, words) in [("csrf", "csrf-1", "another site"), ("phish", "phish-1", "another browser")]
    {
        let ended = &seen[attack];
        assert_eq!(ended["status"], 403, "{attack}: {ended}");
        let text = ended["text"].as_str().unwrap();
        assert!(text.contains(words) || text.contains("belongs to the browser"), "{attack}: {text}");
        let (_, status) = api(setup.addr, "GET", &format!("/v1/sessions/{correlation_id}"), None);
        assert_eq!(
            (status["status"].as_str(), status["error"].as_str(), status["signatureId"].as_str()),
            (Some("failed"), Some("consent_not_verified"), None),
            "{attack}: {status}"
        );
    }
    let jwks = format!("{base}/.well-known/jwks.json");
    let delivered: Vec<Value> = setup
        .webhooks
        .wait_for(3)
        .iter()
        .map(|jws| setup.provider.verify_jose(&jwks, jws, None)["payload"].clone())
        .collect();
    for correlation_id in ["csrf-1", "phish-1"] {
        let told = delivered.iter().find(|p| p["correlationId"] == correlation_id).expect("a webhook");
        assert_eq!((told["isSuccess"].as_bool(), told["error"].as_str()), (Some(false), Some("consent_not_verified")));
    }
    assert!(delivered.iter().any(|p| p["correlationId"] == "normal-1" && p["isSuccess"] == true));
}
