//! Fresh random identifiers: session, signature and request ids, nonces, states, JWT ids. All
//! come from the operating system's random source; none is derived from anything a caller sent.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `bytes` random bytes in lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    hex::encode(random_bytes(bytes))
}

/// 256 random bits, base64url without padding (OAuth `state`, `nonce`, PKCE verifiers).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source failed");
    buffer
}
