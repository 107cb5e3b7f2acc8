//! eservice-a's request-object key: a fixed P-256 key whose public JWKS the test configurations
//! register (`jwks_file`), and RFC 9101 request objects signed with it — here in Rust for the
//! in-process tier, by the npm `jose` library (`tests/oidc/request-object.mjs`) for the daemon
//! tests, so that esignd is judged by a signer nobody here wrote.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

/// The key (a fixed scalar: the tests' JWKS file is the same in every run).
fn key() -> SigningKey {
    SigningKey::from_slice(&[0x5a; 32]).unwrap()
}

fn coordinates() -> (String, String) {
    // SEC 1 uncompressed: 0x04 ‖ x ‖ y.
    let point = key().verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    (URL_SAFE_NO_PAD.encode(&bytes[1..33]), URL_SAFE_NO_PAD.encode(&bytes[33..65]))
}

/// The private JWK (for the npm `jose` signer).
pub fn private_jwk() -> Value {
    let (x, y) = coordinates();
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "d": URL_SAFE_NO_PAD.encode(key().to_bytes()), "kid": "eservice-a-1"})
}

/// The public JWKS, as eservice-a publishes it.
pub fn jwks() -> Value {
    let (x, y) = coordinates();
    json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "eservice-a-1", "alg": "ES256", "use": "sig"}]})
}

/// A file holding [`jwks`], for `jwks_file` (written once per build, the same each time).
pub fn jwks_file() -> PathBuf {
    static WRITTEN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WRITTEN
        .get_or_init(|| {
            let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("eservice-a.jwks.json");
            // Written whole then renamed: test processes running side by side never see half.
            let partial = path.with_extension(format!("{}.partial", std::process::id()));
            std::fs::write(&partial, jwks().to_string()).unwrap();
            std::fs::rename(&partial, &path).unwrap();
            path
        })
        .clone()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The claims of a request object by eservice-a for `audience` (esignd's public URL) with the
/// query `parameters`, a new `jti`, valid five minutes.
pub fn claims(audience: &str, parameters: Value) -> Value {
    let mut claims = json!({
        "iss": "eservice-a", "aud": audience, "iat": now(), "exp": now() + 300,
        "jti": format!("jti-{}", esignd::ids::random_hex(8)),
    });
    for (k, v) in parameters.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

/// `claims` signed ES256 by the key, `typ` oauth-authz-req+jwt.
pub fn sign(claims: &Value) -> String {
    sign_with(&key(), claims)
}

/// `claims` signed by some other key.
pub fn sign_with(key: &SigningKey, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "kid": "eservice-a-1"});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
