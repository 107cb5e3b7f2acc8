//! In-process tier: the user's own device through the router on the in-memory key store. The
//! device is a P-256 key in the test, enrolled with an ID-provider token from the demo profile's
//! mock provider, answering over the device API as `esign-device` would. Bad device JWTs and bad
//! answers change nothing; refused, withdrawn, suspended, revoked and reactivated devices end
//! their requests with a clear status; no eService can flood a device; bad enrolments store
//! nothing. Finished signatures and CRLs are judged by openssl.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::app::{Answer, App};
use common::eservices::{clients_toml, enrolment, new_session};
use common::fake_tsa::{FakeTsa, Reply, serve};
use common::request_object;
use common::{openssl, oracle, text};
use esignd::device_client::key::UnlockedKey;
use esignd::hsm::HashAlgorithm;
use serde_json::{Value, json};

const DOCUMENT: &[u8] = b"Lease agreement, flat 4B, 12 Rue Haute\n";

async fn app() -> App {
    App::start(&clients_toml("http://127.0.0.1:9/webhook")).await
}

/// A device: its key and the certificate esignd issued for it.
struct Device {
    key: UnlockedKey,
    certificate: Vec<u8>,
    pseudonym: String,
}

impl Device {
    /// Enrol a fresh P-256 key for `user` under `pseudonym`.
    async fn enrol(app: &App, user: &str, pseudonym: &str) -> Device {
        Self::enrol_paid(app, user, pseudonym, None).await
    }

    /// As [`Device::enrol`], with a payment token.
    async fn enrol_paid(app: &App, user: &str, pseudonym: &str, payment: Option<&str>) -> Device {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).unwrap();
        let key = UnlockedKey::P256(p256::ecdsa::SigningKey::from_slice(&secret).unwrap());
        let csr = esignd::device_client::csr::make(&key).unwrap();
        let token = app.id_token(&format!("{user} Doe"), user).await;
        let mut headers = auth(&token);
        headers.extend(payment.map(|p| ("X-GovStack-PaymentToken", p)));
        let answer = app.json("POST", "/v1/cert/create", &headers, &enrolment(&csr, Some(pseudonym))).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let pem = answer.json()["certificate"].as_str().unwrap().to_owned();
        let certificate =
            der::Encode::to_der(&<x509_cert::Certificate as der::DecodePem>::from_pem(&pem).unwrap()).unwrap();
        Device { key, certificate, pseudonym: pseudonym.to_owned() }
    }

    fn certificate_id(&self) -> String {
        hex::encode(HashAlgorithm::Sha256.digest(&self.certificate))
    }

    /// A fresh device JWT.
    fn jwt(&self, app: &App) -> String {
        esignd::device_client::jwt::make(&self.key, &self.certificate, &self.pseudonym, &app.url).unwrap()
    }

    /// A device JWT with these claims, signed by `key`.
    fn jwt_with(&self, key: &UnlockedKey, claims: &Value) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(HashAlgorithm::Sha256.digest(&self.certificate)) });
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign_jws(input.as_bytes()).unwrap()))
    }

    async fn poll(&self, app: &App, jwt: &str) -> Answer {
        app.get("/v1/device/requests?wait=0", &[("Authorization", &format!("Bearer {jwt}"))]).await
    }

    /// Answer the oldest waiting request: sign it, or refuse.
    async fn answer(&self, app: &App, refuse: bool) -> Answer {
        let listed = self.poll(app, &self.jwt(app)).await.json();
        let request = &listed["requests"][0];
        let body = if refuse {
            json!({ "refused": true })
        } else {
            let attributes = STANDARD.decode(request["signedAttributes"].as_str().unwrap()).unwrap();
            json!({ "signature": STANDARD.encode(self.key.sign_der(HashAlgorithm::Sha256, &attributes).unwrap()) })
        };
        let path = format!("/v1/device/requests/{}", request["requestId"].as_str().unwrap());
        app.json("POST", &path, &[("Authorization", &format!("Bearer {}", self.jwt(app)))], &body).await
    }
}

fn auth(token: &str) -> Vec<(&str, &str)> {
    vec![("X-GovStack-AuthenticationToken", token)]
}

async fn pseudonym_token(app: &App, key: &str, pseudonym: &str) -> Answer {
    app.get(&format!("/v1/token/pseodonym/{pseudonym}"), &[("apikey", key)]).await
}

async fn sign_by_pseudonym(app: &App, key: &str, token: &str) -> Answer {
    sign_by_pseudonym_paid(app, key, token, None).await
}

async fn sign_by_pseudonym_paid(app: &App, key: &str, token: &str, payment: Option<&str>) -> Answer {
    let mut headers = vec![("apikey", key), ("X-Pseodonym-Token", token)];
    headers.extend(payment.map(|p| ("X-GovStack-PaymentToken", p)));
    let body = json!({
        "format": "CAdES", "hash": STANDARD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)), "hashType": "SHA2-256",
        "dataToBeDisplayed": "Lease agreement 4B", "nonce": "n-0001", "state": "s-0001",
    });
    app.json("POST", "/v1/sign/pseudonym", &headers, &body).await
}

async fn redeem(app: &App, key: &str, signature_id: &str) -> Answer {
    app.get(&format!("/v1/sign/response/{signature_id}"), &[("apikey", key)]).await
}

async fn patch(app: &App, token: &str, certificate_id: &str, code: &str) -> Answer {
    let body = json!({ "status": { "code": code, "message": "test" } });
    app.json("PATCH", &format!("/v1/cert/{certificate_id}"), &auth(token), &body).await
}

/// Judge a SignResponse with openssl (CMS at the time-stamp, and the time-stamp token).
async fn judge(app: &App, name: &str, response: &Value) {
    let dir = app.path(name);
    let chain = app.get("/v1/ca", &[]).await.text();
    oracle::sign_response(&dir, response, DOCUMENT, &chain);
    let p7s = std::fs::read(dir.join("signature.p7s")).unwrap();
    std::fs::write(dir.join("signature-value.bin"), oracle::signature_value(&p7s)).unwrap();
    oracle::assert_ok(
        &oracle::ts_verify(&dir.join("timestamp.tst"), &dir.join("signature-value.bin"), &dir.join("chain.pem")),
        "openssl ts -verify",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_device_jwts_and_bad_signatures_change_nothing() {
    let app = app().await;
    let phone = Device::enrol(&app, "jane", "jane-phone").await;
    let audience = format!("{}/v1/device", app.url);
    let now = esignd::jose::claims::now();
    let claims = |jti: &str, iat: i64, exp: i64| json!({ "sub": "jane-phone", "aud": audience, "iat": iat, "exp": exp, "jti": jti });

    let good = phone.jwt_with(&phone.key, &claims("one", now, now + 60));
    let listed = phone.poll(&app, &good).await;
    assert_eq!((listed.status, &listed.json()["requests"]), (200, &json!([])), "{}", listed.text());
    let replayed = phone.poll(&app, &good).await;
    assert_eq!(replayed.status, 401, "replayed");
    assert!(replayed.message().contains("used before"), "{}", replayed.text());
    let expired = phone.poll(&app, &phone.jwt_with(&phone.key, &claims("two", now - 600, now - 300))).await;
    assert_eq!(expired.status, 401, "expired: {}", expired.text());
    let long = phone.poll(&app, &phone.jwt_with(&phone.key, &claims("three", now, now + 3600))).await;
    assert_eq!(long.status, 401, "lives too long: {}", long.text());
    let stranger = Device::enrol(&app, "bob", "bob-phone").await;
    let forged = phone.poll(&app, &phone.jwt_with(&stranger.key, &claims("four", now, now + 60))).await;
    assert_eq!(forged.status, 401, "signed by another key: {}", forged.text());
    assert!(forged.message().contains("does not verify"), "{}", forged.text());
    let mut other_subject = claims("five", now, now + 60);
    other_subject["sub"] = json!("someone-else");
    assert_eq!(phone.poll(&app, &phone.jwt_with(&phone.key, &other_subject)).await.status, 401);
    assert_eq!(app.get("/v1/device/requests", &[]).await.status, 401);
    assert_eq!(app.get("/v1/device/requests?wait=31", &[]).await.status, 400, "wait is 0 to 30");

    // A signature that does not verify is refused; the request still waits and can be answered.
    let jwt = pseudonym_token(&app, "key-a", "jane-phone").await.json()["jwt"].as_str().unwrap().to_owned();
    let queued = sign_by_pseudonym(&app, "key-a", &jwt).await.json();
    let signature_id = queued["signatureId"].as_str().unwrap().to_owned();
    let listed = phone.poll(&app, &phone.jwt(&app)).await.json();
    let request = &listed["requests"][0];
    assert_eq!(request["signatureAlgorithm"], "ecdsa-with-SHA256");
    assert_eq!(request["hashType"], "SHA2-256");
    let path = format!("/v1/device/requests/{}", request["requestId"].as_str().unwrap());
    let attributes = STANDARD.decode(request["signedAttributes"].as_str().unwrap()).unwrap();
    let answer = |device: &Device, body: Value| {
        let bearer = format!("Bearer {}", device.jwt(&app));
        let (app, path) = (&app, path.clone());
        async move { app.json("POST", &path, &[("Authorization", &bearer)], &body).await }
    };
    let wrong = phone.key.sign_der(HashAlgorithm::Sha256, b"something else").unwrap();
    assert_eq!(answer(&phone, json!({ "signature": STANDARD.encode(&wrong) })).await.status, 422);
    assert_eq!(answer(&phone, json!({ "signature": "%%%" })).await.status, 400);
    assert_eq!(answer(&phone, json!({})).await.status, 422);
    assert_eq!(answer(&phone, json!({ "signature": "AAAA", "refused": true })).await.status, 422);
    assert_eq!(redeem(&app, "key-a", &signature_id).await.status, 202, "still waiting");

    // Another device cannot answer it.
    let signature =
        json!({ "signature": STANDARD.encode(phone.key.sign_der(HashAlgorithm::Sha256, &attributes).unwrap()) });
    assert_eq!(answer(&stranger, signature.clone()).await.status, 404);
    // The right answer, once.
    let signed = answer(&phone, signature.clone()).await;
    assert_eq!((signed.status, signed.json()["status"].as_str()), (200, Some("signed")), "{}", signed.text());
    assert_eq!(answer(&phone, signature).await.status, 409, "answered already");
    // Without registered binding partners, wallet binding is off.
    let headers = [("partner-id", "mimoto"), ("partner-api-key", "partner-key")];
    assert_eq!(app.json("POST", "/binding/wallet-binding", &headers, &json!({ "requestTime": "x" })).await.status, 403);
    let response = redeem(&app, "key-a", &signature_id).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        (response.json()["nonce"].as_str(), response.json()["state"].as_str()),
        (Some("n-0001"), Some("s-0001"))
    );
    judge(&app, "after-bad-answers", &response.json()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_revoked_refused_and_reactivated_devices() {
    let app = app().await;
    let tablet = Device::enrol(&app, "bob", "bob-tablet").await;
    let bob = app.id_token("bob Doe", "bob").await;
    let id = tablet.certificate_id();
    let jwt = pseudonym_token(&app, "key-a", "bob-tablet").await.json()["jwt"].as_str().unwrap().to_owned();
    // Another eService cannot use eservice-a's pseudonym token; an unknown pseudonym has none.
    assert_eq!(sign_by_pseudonym(&app, "key-b", &jwt).await.status, 401);
    assert_eq!(pseudonym_token(&app, "key-a", "nobody-here").await.status, 404);

    // The user refuses on the device: the request ends, the eService hears why.
    let refused = sign_by_pseudonym(&app, "key-a", &jwt).await.json()["signatureId"].as_str().unwrap().to_owned();
    assert_eq!(tablet.answer(&app, true).await.json()["status"], "refused");
    let answer = redeem(&app, "key-a", &refused).await;
    assert_eq!(answer.status, 410, "{}", answer.text());
    assert!(answer.message().contains("refused"), "{}", answer.text());

    // Suspended while a request waits: the request ends failed, new ones are refused, and the
    // device itself is turned away.
    let withdrawn = sign_by_pseudonym(&app, "key-a", &jwt).await.json()["signatureId"].as_str().unwrap().to_owned();
    assert_eq!(patch(&app, &bob, &id, "SUSPEND").await.status, 200);
    let answer = redeem(&app, "key-a", &withdrawn).await;
    assert_eq!(answer.status, 410, "{}", answer.text());
    assert!(answer.message().contains("suspended"), "{}", answer.text());
    let answer = sign_by_pseudonym(&app, "key-a", &jwt).await;
    assert_eq!(answer.status, 409, "{}", answer.text());
    assert!(answer.message().contains("SUSPENDED"), "{}", answer.text());
    assert_eq!(pseudonym_token(&app, "key-a", "bob-tablet").await.status, 409);
    let turned_away = tablet.poll(&app, &tablet.jwt(&app)).await;
    assert_eq!(turned_away.status, 403);
    assert!(turned_away.message().contains("SUSPENDED"), "{}", turned_away.text());

    // Reactivated: signing works again.
    assert_eq!(patch(&app, &bob, &id, "ACTIVATE").await.status, 200);
    let queued = sign_by_pseudonym(&app, "key-a", &jwt).await;
    assert_eq!(queued.status, 200, "{}", queued.text());
    assert_eq!(tablet.answer(&app, false).await.status, 200);
    let response = redeem(&app, "key-a", queued.json()["signatureId"].as_str().unwrap()).await;
    assert_eq!(response.status, 200, "{}", response.text());
    judge(&app, "reactivated", &response.json()).await;

    // Revoked: refused for good, and on the CRL openssl reads.
    assert_eq!(patch(&app, &bob, &id, "REVOKE").await.status, 200);
    assert_eq!(sign_by_pseudonym(&app, "key-a", &jwt).await.status, 409);
    let crl = app.get("/v1/crl", &[]).await;
    assert_eq!(crl.status, 200);
    std::fs::write(app.path("crl.der"), &crl.body).unwrap();
    let listing = text(
        &openssl(["crl", "-inform", "DER", "-noout", "-text", "-in", app.path("crl.der").to_str().unwrap()]).stdout,
    );
    let serial = {
        let certificate = <x509_cert::Certificate as der::Decode>::from_der(&tablet.certificate).unwrap();
        hex::encode_upper(certificate.tbs_certificate().serial_number().as_bytes())
    };
    assert!(listing.contains(&format!("Serial Number: {serial}")), "serial {serial} on the CRL: {listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_eservice_can_flood_a_device() {
    let app = app().await;
    let _watch = Device::enrol(&app, "jane", "jane-watch").await;
    let token = pseudonym_token(&app, "key-a", "jane-watch").await.json()["jwt"].as_str().unwrap().to_owned();
    for n in 0..10 {
        assert_eq!(sign_by_pseudonym(&app, "key-a", &token).await.status, 200, "request {n}");
    }
    let other = pseudonym_token(&app, "key-b", "jane-watch").await.json()["jwt"].as_str().unwrap().to_owned();
    let answer = sign_by_pseudonym(&app, "key-b", &other).await;
    assert_eq!(answer.status, 429, "{}", answer.text());
    assert_eq!(answer.header("retry-after").as_deref(), Some("1"));
}

/// A CSR made by openssl (`newkey` as `openssl req -newkey` takes it), PEM.
fn openssl_csr(dir: &std::path::Path, name: &str, newkey: &str, options: &[&str]) -> String {
    common::openssl_csr(dir, name, "/CN=Whatever the device says", newkey, options)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_enrolments_are_refused_and_store_nothing() {
    let app = app().await;
    let jane = app.id_token("Jane Doe", "jane").await;
    let dir = app.path("");
    let good = openssl_csr(&dir, "good", "ec", &["ec_paramgen_curve:P-256"]);
    // A CSR whose signature does not verify: one bit of the signature changed.
    let tampered = {
        let out = openssl(["req", "-in", dir.join("good.csr").to_str().unwrap(), "-outform", "DER"]);
        let mut der = out.stdout;
        let last = der.len() - 1;
        der[last] ^= 1;
        STANDARD.encode(der)
    };
    let with = |csr: &str, field: &str, value: Value| {
        let mut body = enrolment(csr, None);
        body[field] = value;
        body
    };
    let mut no_csr = enrolment(&good, None);
    no_csr.as_object_mut().unwrap().remove("CSR");
    let cases: Vec<(&str, Option<&str>, Value, u16, &str)> = vec![
        ("no token", None, enrolment(&good, None), 401, "X-GovStack-AuthenticationToken"),
        (
            "a token the provider did not sign",
            Some("eyJhbGciOiJFUzI1NiJ9.e30.AAAA"),
            enrolment(&good, None),
            401,
            "not valid",
        ),
        ("tampered signature", Some(&jane), enrolment(&tampered, None), 400, "does not verify"),
        ("RSA-1024", Some(&jane), enrolment(&openssl_csr(&dir, "weak", "rsa:1024", &[]), None), 400, "1024 bits"),
        (
            "secp256k1",
            Some(&jane),
            enrolment(&openssl_csr(&dir, "k1", "ec", &["ec_paramgen_curve:secp256k1"]), None),
            400,
            "curve",
        ),
        ("not a CSR", Some(&jane), enrolment("bm90IGEgQ1NS", None), 400, "PKCS#10"),
        ("unknown SCDType", Some(&jane), with(&good, "SCDType", json!("PIGEON")), 400, "SCDType"),
        ("empty SCDRemoteId", Some(&jane), with(&good, "SCDRemoteId", json!("")), 400, "SCDRemoteId"),
        ("negative SCDKeyId", Some(&jane), with(&good, "SCDKeyId", json!(-1)), 400, "SCDKeyId"),
        ("bad pseudonym", Some(&jane), enrolment(&good, Some("<b>x</b>")), 400, "pseudonym"),
        ("no CSR", Some(&jane), no_csr, 422, "CSR"),
    ];
    for (what, token, body, want, words) in cases {
        let headers = token.map(auth).unwrap_or_default();
        let answer = app.json("POST", "/v1/cert/create", &headers, &body).await;
        assert_eq!(answer.status, want, "{what}: {}", answer.text());
        assert!(answer.message().contains(words), "{what}: {}", answer.message());
    }
    let malformed = app
        .call(
            "POST",
            "/v1/cert/create",
            &[("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", &jane)],
            b"{\"CSR\": ",
        )
        .await;
    assert_eq!(malformed.status, 400, "malformed JSON");
    let list = app.get("/v1/cert/list", &auth(&jane)).await;
    assert_eq!(list.json(), json!([]), "nothing was stored");
    assert_eq!(app.rows("device_certificates"), 0);
    assert_eq!(app.get("/v1/cert/list?filter=SOME", &auth(&jane)).await.status, 400);
}

/// The phone is lost: any token of the owner suspends it. Bringing it back (or revoking it)
/// takes a fresh login, or the device's own word signed by its key — so neither an eService
/// with an old token of the citizen nor a thief with the citizen's stale token can reactivate it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactivation_and_revocation_need_a_fresh_login_or_the_devices_own_word() {
    let app = app().await;
    let phone = Device::enrol(&app, "carol", "carol-phone").await;
    let other = Device::enrol(&app, "carol", "carol-tablet").await;
    let id = phone.certificate_id();
    let stale = app.mock_token("carol Doe", "carol", "&login_age_secs=3600").await;
    assert_eq!(patch(&app, &stale, &id, "SUSPEND").await.status, 200, "suspending is never held up");

    let with_proof = |proof: Option<String>, code: &str| {
        let mut body = json!({ "status": { "code": code, "message": "found it" } });
        if let Some(proof) = proof {
            body["deviceProof"] = proof.into();
        }
        body
    };
    let change =
        async |token: &str, body: Value| app.json("PATCH", &format!("/v1/cert/{id}"), &auth(token), &body).await;
    let refused = change(&stale, with_proof(None, "ACTIVATE")).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert!(refused.message().contains("fresh login"), "{}", refused.text());
    let signing = app.signing_token("carol Doe", "carol").await;
    assert_eq!(change(&signing, with_proof(None, "ACTIVATE")).await.status, 401, "a signing token");

    let proof = |device: &Device, action: &str| {
        esignd::device_client::jwt::change_proof(&device.key, &device.certificate, &device.pseudonym, &app.url, action)
            .unwrap()
    };
    let attacks = [
        ("a proof for another action", proof(&phone, "REVOKE")),
        ("another device's proof", proof(&other, "ACTIVATE")),
        ("a device JWT for the device API", phone.jwt(&app)),
    ];
    for (attack, bad) in attacks {
        let answer = change(&stale, with_proof(Some(bad), "ACTIVATE")).await;
        assert_eq!(answer.status, 401, "{attack}: {}", answer.text());
    }
    let good = proof(&phone, "ACTIVATE");
    let answer = change(&stale, with_proof(Some(good.clone()), "ACTIVATE")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["status"]["code"], "ACTIVATED");
    assert_eq!(patch(&app, &stale, &id, "SUSPEND").await.status, 200);
    let replayed = change(&stale, with_proof(Some(good), "ACTIVATE")).await;
    assert_eq!(replayed.status, 401, "a replayed proof: {}", replayed.text());
    assert!(replayed.message().contains("used before"), "{}", replayed.text());

    // A fresh login needs no proof.
    let fresh = app.id_token("carol Doe", "carol").await;
    assert_eq!(patch(&app, &fresh, &id, "REVOKE").await.status, 200);
}

/// A payment provider on loopback publishing the test's fixed key ([`request_object::jwks`]),
/// and a payment token from it.
fn payment_provider() -> (FakeTsa, impl Fn(&str) -> String) {
    let provider = serve(|_| Reply::Body(request_object::jwks().to_string().into_bytes()));
    let pay = |jti: &str| {
        let now = request_object::now();
        request_object::sign(&json!({ "iss": "payments", "aud": "esignd-payment", "exp": now + 300, "jti": jti }))
    };
    (provider, pay)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_is_paid_for_and_a_payment_is_spent_once_with_the_signature_it_delivers() {
    let (provider, pay) = payment_provider();
    let app = App::start(&format!(
        "{}\n[payment]\nrequired = true\njwks_url = \"{}\"\nissuer = \"payments\"\naudience = \"esignd-payment\"\n",
        clients_toml("http://127.0.0.1:9/webhook"),
        provider.url
    ))
    .await;
    let phone = Device::enrol_paid(&app, "jane", "jane-phone", Some(&pay("enrolment-1"))).await;
    let jwt = pseudonym_token(&app, "key-a", "jane-phone").await.json()["jwt"].as_str().unwrap().to_owned();

    // Unpaid: refused in every flow, before anything is queued or stored.
    let sessions = app.rows("sessions");
    let unpaid = sign_by_pseudonym(&app, "key-a", &jwt).await;
    assert_eq!(unpaid.status, 402, "{}", unpaid.text());
    let unpaid = app.json("POST", "/v1/sessions", &[("apikey", "key-a")], &new_session("c-1", json!({}))).await;
    assert_eq!(unpaid.status, 402, "{}", unpaid.text());
    let link = request_object::sign(&request_object::claims(&app.url, link_parameters(None)));
    let unpaid = app.get(&format!("/sign/interactive?client_id=eservice-a&request={link}"), &[]).await;
    assert_eq!(unpaid.status, 402, "{}", unpaid.text());
    assert_eq!(app.rows("sessions"), sessions, "no session for an unpaid request");

    // Paid: a session (by body or by signed link) keeps the verified payment, unspent.
    let headers = [("apikey", "key-a"), ("X-GovStack-PaymentToken", &pay("session-1"))];
    let paid = app.json("POST", "/v1/sessions", &headers, &new_session("c-2", json!({}))).await;
    assert_eq!(paid.status, 201, "{}", paid.text());
    let link = request_object::sign(&request_object::claims(&app.url, link_parameters(Some(&pay("link-1")))));
    let opened = app.get(&format!("/sign/interactive?client_id=eservice-a&request={link}"), &[]).await;
    assert_eq!(opened.status, 303, "{}", opened.text());

    // A device signature: the payment is spent when the signature is delivered, not before.
    let token = pay("device-1");
    let queued = sign_by_pseudonym_paid(&app, "key-a", &jwt, Some(&token)).await;
    assert_eq!(queued.status, 200, "{}", queued.text());
    assert_eq!(phone.answer(&app, false).await.status, 200);
    let signed = redeem(&app, "key-a", queued.json()["signatureId"].as_str().unwrap()).await;
    assert_eq!(signed.status, 200, "{}", signed.text());

    // The same payment again: verified when asked (it is not expired), refused at delivery —
    // no second signature for one payment; the request ends and the eService hears why.
    let again = sign_by_pseudonym_paid(&app, "key-a", &jwt, Some(&token)).await;
    assert_eq!(again.status, 200, "{}", again.text());
    let answered = phone.answer(&app, false).await;
    assert_eq!(answered.status, 402, "{}", answered.text());
    assert!(answered.message().contains("already been used"), "{}", answered.text());
    let redeemed = redeem(&app, "key-a", again.json()["signatureId"].as_str().unwrap()).await;
    assert_eq!(redeemed.status, 410, "{}", redeemed.text());
    assert!(redeemed.message().contains("payment"), "{}", redeemed.text());
    // Two requests queued on one payment: only the first answered is delivered.
    let token = pay("device-2");
    for _ in 0..2 {
        assert_eq!(sign_by_pseudonym_paid(&app, "key-a", &jwt, Some(&token)).await.status, 200);
    }
    let statuses = [phone.answer(&app, false).await.status, phone.answer(&app, false).await.status];
    assert_eq!(statuses, [200, 402]);
}

/// The query parameters of a signed link for [`DOCUMENT`], with `paymentToken` when given.
fn link_parameters(payment: Option<&str>) -> Value {
    let mut parameters = json!({
        "hash": STANDARD.encode(HashAlgorithm::Sha256.digest(DOCUMENT)), "hashType": "SHA2-256", "format": "CAdES",
        "callbackUrl": common::eservices::CALLBACK, "nonce": "n-1", "state": "s-1",
    });
    if let Some(payment) = payment {
        parameters["paymentToken"] = payment.into();
    }
    parameters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_holds_one_long_poll_and_only_its_own_requests_wake_it() {
    let app = std::sync::Arc::new(app().await);
    let phone = std::sync::Arc::new(Device::enrol(&app, "jane", "jane-phone").await);
    let watch = Device::enrol(&app, "bob", "bob-watch").await;
    let long_poll = |device: &Device| {
        let (app, jwt) = (std::sync::Arc::clone(&app), device.jwt(&app));
        tokio::spawn(async move {
            app.get("/v1/device/requests?wait=30", &[("Authorization", &format!("Bearer {jwt}"))]).await
        })
    };
    let bound = |task| tokio::time::timeout(std::time::Duration::from_secs(20), task);
    let limit = std::time::Duration::from_secs(20);
    let (mut one, mut two) = (long_poll(&phone), long_poll(&phone));
    // Whichever came second answers the other at once, empty, and holds the place.
    let (answered, second) = tokio::time::timeout(limit, async {
        tokio::select! {
            answered = &mut one => (answered, two),
            answered = &mut two => (answered, one),
        }
    })
    .await
    .expect("the older poll was answered");
    let answered = answered.unwrap();
    assert_eq!(answered.status, 200);
    assert_eq!(answered.json()["requests"], json!([]), "{}", answered.text());
    // Another device's request does not wake the phone; the phone's own does.
    let watching = long_poll(&watch);
    let token = pseudonym_token(&app, "key-a", "bob-watch").await.json()["jwt"].as_str().unwrap().to_owned();
    assert_eq!(sign_by_pseudonym(&app, "key-a", &token).await.status, 200);
    let woken = bound(watching).await.expect("the watch's poll woke").unwrap();
    assert_eq!(woken.json()["requests"].as_array().map(Vec::len), Some(1));
    assert!(!second.is_finished(), "the phone's poll still waits");
    let token = pseudonym_token(&app, "key-a", "jane-phone").await.json()["jwt"].as_str().unwrap().to_owned();
    assert_eq!(sign_by_pseudonym(&app, "key-a", &token).await.status, 200);
    let woken = bound(second).await.expect("the phone's poll woke").unwrap();
    assert_eq!(woken.json()["requests"].as_array().map(Vec::len), Some(1), "{}", woken.text());
}
