//! `POST /v1/sign/onetime` end to end: a real OpenID provider (oidc-provider on loopback) issues
//! the users' access tokens, esignd signs on SoftHSM, openssl judges the result; every bad input
//! is answered with the right status and leaves nothing behind.

mod common;

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::Daemon;
use common::oidc::Provider;
use common::{TokenDir, http_get, http_with, openssl, oracle, text};
use serde_json::{Value, json};

const DOCUMENT: &[u8] = b"The consent form the citizen signs.\n";

struct Setup {
    token: TokenDir,
    provider: Provider,
    daemon: Daemon,
    addr: SocketAddr,
}

fn setup(extra_config: impl FnOnce(&Provider) -> String) -> Setup {
    let provider = Provider::start(&[]);
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap();
    let identity =
        format!("\n[identity]\nissuer = \"{}\"\naudience = \"esignd\"\n{}", provider.issuer, extra_config(&provider));
    std::fs::write(token.config(), config + &identity).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    Setup { token, provider, daemon, addr }
}

fn sign(addr: SocketAddr, token: Option<&str>, payment: Option<&str>, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(token) = token {
        headers.push(("X-GovStack-AuthenticationToken", token));
    }
    if let Some(payment) = payment {
        headers.push(("X-GovStack-PaymentToken", payment));
    }
    let (status, answer) = http_with(addr, "POST", "/v1/sign/onetime", &headers, body);
    (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
}

fn request(format: &str, hash_type: &str, digest: &[u8]) -> Vec<u8> {
    json!({ "format": format, "hash": STANDARD.encode(digest), "hashType": hash_type, "dataToBeDisplayed": "Consent form 1234", "requestTimestamp": "2026-11-23T09:12:28Z" })
        .to_string()
        .into_bytes()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    esignd::hsm::HashAlgorithm::Sha256.digest(data)
}

/// Check a SignResponse with openssl; returns the certificate's subject line.
fn judge(setup: &Setup, response: &Value, name: &str) -> String {
    assert_eq!(response["status"]["code"], "OK", "{response}");
    let dir = setup.token.path(name);
    let subject = oracle::sign_response(&dir, response, DOCUMENT, &http_get(setup.addr, "/v1/ca").1);
    let p = |f: &str| dir.join(f);
    std::fs::write(p("signature-value.bin"), oracle::signature_value(&std::fs::read(p("signature.p7s")).unwrap()))
        .unwrap();
    oracle::assert_ok(
        &oracle::ts_verify(&p("timestamp.tst"), &p("signature-value.bin"), &p("chain.pem")),
        "openssl ts -verify",
    );

    // The certificate is published under its serial.
    let serial = text(&openssl(["x509", "-noout", "-serial", "-in", p("leaf.pem").to_str().unwrap()]).stdout);
    let serial = serial.trim().trim_start_matches("serial=").to_ascii_lowercase();
    let (status, published) = http_get(setup.addr, &format!("/v1/certs/{serial}"));
    assert_eq!(status, 200, "certificate {serial} is published");
    assert_eq!(published.trim(), response["certificate"].as_str().unwrap().trim());
    subject
}

#[test]
fn a_jwt_access_token_signs_cades_for_the_named_user() {
    let setup = setup(|_| String::new());
    let token = setup.provider.access_token("eservice-jwt", "jane");
    assert_eq!(token.split('.').count(), 3, "the provider issues JWT access tokens to this client");
    let (status, response) =
        sign(setup.addr, Some(&token), None, "application/json", &request("CAdES", "SHA2-256", &sha256(DOCUMENT)));
    assert_eq!(status, 200, "{response}");
    let subject = judge(&setup, &response, "jwt");
    assert!(subject.contains("CN=Jane Doe") && subject.contains("serialNumber=jane"), "{subject}");
}

/// Tokens the provider really issued, but not to esignd: an opaque token of any relying party
/// (userinfo would accept it), an ID token esignd itself could have received, a token for
/// several audiences that does not say who holds it. Each used to sign; none does now.
#[test]
fn tokens_issued_to_others_or_not_access_tokens_sign_nothing() {
    let setup = setup(|_| String::new());
    let body = request("CAdES", "SHA2-256", &sha256(DOCUMENT));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let lowtrust = setup.provider.access_token("eservice-lowtrust", "jane");
    assert_eq!(lowtrust.split('.').count(), 1, "the provider issues opaque access tokens to this client");
    let opaque_for_us = setup.provider.access_token("eservice-opaque", "jane");
    // What the provider's ID token for esignd looks like: typ JWT, aud = esignd's client_id.
    let id_token = setup.provider.mint_typed(
        &json!({"sub": "jane", "name": "Jane Doe", "aud": "esignd", "exp": now + 300, "nonce": "n"}),
        "JWT",
    );
    let several =
        setup.provider.mint(&json!({"sub": "jane", "name": "Jane Doe", "aud": ["esignd", "x"], "exp": now + 300}));
    let esignds_own = setup
        .provider
        .mint(&json!({"sub": "jane", "name": "Jane Doe", "aud": ["esignd", "x"], "azp": "esignd", "exp": now + 300}));
    let cases: Vec<(&str, &str, &str)> = vec![
        ("an opaque token of another relying party", &lowtrust, "opaque access tokens are not accepted"),
        ("an opaque token, introspection off", &opaque_for_us, "opaque access tokens are not accepted"),
        ("an ID token", &id_token, "not an access token for esignd"),
        ("several audiences, no azp", &several, "azp"),
        ("issued to esignd itself", &esignds_own, "issued to esignd itself"),
    ];
    for (what, token, says) in cases {
        let (status, response) = sign(setup.addr, Some(token), None, "application/json", &body);
        assert_eq!(status, 401, "{what}: {response}");
        let said = response["status"]["message"].as_str().unwrap_or_default();
        assert!(said.contains(says), "{what}: {said:?}");
    }
    // The same claims as a typed access token sign.
    let typed = setup.provider.mint(&json!({"sub": "jane", "name": "Jane Doe", "aud": "esignd", "exp": now + 300}));
    let (status, response) = sign(setup.addr, Some(&typed), None, "application/json", &body);
    assert_eq!(status, 200, "{response}");
}

#[test]
fn with_introspection_the_providers_verdict_on_an_opaque_token_decides() {
    // esignd authenticates at the introspection endpoint with private_key_jwt: an assertion
    // signed by its HSM service key, which the provider checks against esignd's published JWKS.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let provider = Provider::start_with(
        &[&format!("http://127.0.0.1:{port}/sign/oidc/callback")],
        Some(&format!("http://127.0.0.1:{port}/.well-known/jwks.json")),
    );
    let token = TokenDir::with_listen(&format!("127.0.0.1:{port}"));
    let config = std::fs::read_to_string(token.config()).unwrap()
        + &format!(
            "\n[identity]\nissuer = \"{}\"\naudience = \"esignd\"\nclient_auth = \"private_key_jwt\"\nintrospection = true\n",
            provider.issuer
        );
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    let body = request("CAdES", "SHA2-256", &sha256(DOCUMENT));

    let opaque = provider.access_token("eservice-opaque", "o-brien");
    assert_eq!(opaque.split('.').count(), 1, "the provider issues opaque access tokens to this client");
    let (status, response) = sign(addr, Some(&opaque), None, "application/json", &body);
    assert_eq!(status, 200, "{response}\n{}", daemon.log());
    let setup = Setup { token, provider, daemon, addr };
    // The name's comma stays inside the CN (RFC 4514 escapes it as \,).
    assert!(judge(&setup, &response, "introspected").contains(r"CN=Seán O'Brien\, Jr."));

    // Active, but for no audience of esignd's: a token of any relying party.
    let lowtrust = setup.provider.access_token("eservice-lowtrust", "jane");
    let (status, response) = sign(addr, Some(&lowtrust), None, "application/json", &body);
    assert_eq!(status, 401, "{response}");
    assert!(response["status"]["message"].as_str().unwrap().contains("another audience"), "{response}");

    let quarantined = setup.provider.access_token("eservice-quarantined", "jane");
    let (status, response) = sign(addr, Some(&quarantined), None, "application/json", &body);
    assert_eq!(
        (status, response["status"]["message"].as_str()),
        (401, Some("the ID provider does not accept the authentication token")),
        "introspection said inactive: {response}"
    );
    let (status, _) = sign(addr, Some("made-up-opaque-token"), None, "application/json", &body);
    assert_eq!(status, 401);
}

/// What only a real provider can say about a token: unknown to it, expired, for another
/// audience. (Malformed requests are refused before any provider is asked: the in-process tier,
/// tests/app_sign_api.rs, has that matrix.)
#[test]
fn tokens_the_provider_does_not_vouch_for_are_refused_and_leave_nothing_behind() {
    let setup = setup(|_| String::new());
    let good_token = setup.provider.access_token("eservice-jwt", "jane");
    let store = setup.token.path("esignd.db");
    let certificates = || {
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.query_row("SELECT count(*) FROM certificates", [], |row| row.get::<_, i64>(0)).unwrap()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let expired = setup.provider.mint(&json!({"sub": "jane", "name": "Jane Doe", "aud": "esignd", "exp": now - 3600}));
    let other_audience =
        setup.provider.mint(&json!({"sub": "jane", "name": "Jane Doe", "aud": "another-service", "exp": now + 300}));
    let good = request("CAdES", "SHA2-256", &sha256(DOCUMENT));
    // (what, token, expected status, words the message must contain)
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        ("opaque token the provider does not know", "not-a-token-the-provider-issued", 401, "opaque"),
        ("expired token", &expired, 401, "expired"),
        ("wrong audience", &other_audience, 401, "another audience"),
    ];
    for (what, token, want, message) in cases {
        let (status, response) = sign(setup.addr, Some(token), None, "application/json", &good);
        assert_eq!(status, want, "{what}: {response}");
        assert_eq!(response["status"]["code"], "ERROR", "{what}");
        let said = response["status"]["message"].as_str().unwrap_or_default();
        assert!(said.contains(message), "{what}: {said:?} lacks {message:?}");
        assert!(!said.contains(token), "{what}: the token is echoed");
    }
    // A malformed body with a good token, and no token: refused before the provider is asked.
    let (status, _) = sign(setup.addr, Some(&good_token), None, "application/json", b"{\"format\": ");
    assert_eq!(status, 400);
    let (status, _) = sign(setup.addr, None, None, "application/json", &good);
    assert_eq!(status, 401);
    assert_eq!(certificates(), 0, "nothing was issued for any bad request");
    let log = setup.daemon.seen.join("\n");
    assert!(!log.contains(&good_token) && !log.contains("Jane Doe"), "no token or personal data in the log");
}

#[test]
fn payment_tokens_are_required_checked_and_spent_once() {
    let setup = setup(|provider| {
        format!(
            "\n[payment]\nrequired = true\njwks_url = \"{}\"\nissuer = \"{}\"\naudience = \"esignd-payment\"\n",
            provider.jwks_url(),
            provider.issuer
        )
    });
    let token = setup.provider.access_token("eservice-jwt", "jane");
    let body = request("CAdES", "SHA2-256", &sha256(DOCUMENT));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let paid =
        setup.provider.mint(&json!({"jti": "payment-1", "aud": "esignd-payment", "exp": now + 300, "amount": "1.00"}));
    let expired = setup.provider.mint(&json!({"jti": "payment-2", "aud": "esignd-payment", "exp": now - 3600}));

    let (status, response) = sign(setup.addr, Some(&token), None, "application/json", &body);
    assert_eq!(
        (status, response["status"]["message"].as_str().unwrap()),
        (402, "a payment token (X-GovStack-PaymentToken) is required")
    );
    let (status, _) = sign(setup.addr, Some(&token), Some(&expired), "application/json", &body);
    assert_eq!(status, 402, "an expired payment token");
    let (status, response) = sign(setup.addr, Some(&token), Some(&paid), "application/json", &body);
    assert_eq!(status, 200, "{response}");
    judge(&setup, &response, "paid");
    let (status, response) = sign(setup.addr, Some(&token), Some(&paid), "application/json", &body);
    assert_eq!(
        (status, response["status"]["message"].as_str().unwrap()),
        (402, "the payment token has already been used")
    );
}
