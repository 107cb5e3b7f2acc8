//! `hsm::Error`: everything that can go wrong between esignd and a key store.
//!
//! PKCS#11 failures keep which function failed and its return code, printed the way the
//! PKCS#11 specification names them (`C_Login returned CKR_PIN_INCORRECT`), so an operator can
//! look them up. Messages never contain a PIN, a key or a signature value.

use std::path::PathBuf;
use std::time::Duration;

use cryptoki::context::Function;
use cryptoki::error::{Error as CryptokiError, RvError};

use super::KeyAlgorithm;
use super::SignatureScheme;

/// Result of a key-store operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A key-store failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured PKCS#11 module does not exist.
    #[error(
        "the PKCS#11 module {path:?} does not exist; install it (Debian: apt-get install softhsm2) \
         or point hsm.module at your HSM vendor's library"
    )]
    ModuleMissing {
        /// The configured module path.
        path: PathBuf,
    },

    /// The PKCS#11 module could not be loaded or initialised.
    #[error(
        "cannot load the PKCS#11 module {path:?}: {source}; check that hsm.module is a PKCS#11 \
         library built for this machine"
    )]
    Module {
        /// The configured module path.
        path: PathBuf,
        /// What the loader said.
        #[source]
        source: CryptokiError,
    },

    /// A PKCS#11 function returned an error code.
    #[error("{} returned {}", function_name(*.function), rv_name(*.rv))]
    Pkcs11 {
        /// The function that failed.
        function: Function,
        /// Its return code.
        rv: RvError,
    },

    /// cryptoki failed before or after calling the module (conversion, missing symbol...).
    #[error("PKCS#11 wrapper error: {0}")]
    Cryptoki(CryptokiError),

    /// No token matches the configured label or serial.
    #[error(
        "no token {wanted} found; tokens present: {}; run `esignctl token list` to see them or \
         `esignctl token init --label <LABEL>` to make one",
        if present.is_empty() { "none".to_owned() } else { present.join(", ") }
    )]
    TokenNotFound {
        /// What was asked for, e.g. `labelled 'esignd'`.
        wanted: String,
        /// Label and serial of each token present.
        present: Vec<String>,
    },

    /// More than one token carries the configured label.
    #[error("{count} tokens are labelled '{label}'; set hsm.token_serial to choose one")]
    TokenAmbiguous {
        /// The label.
        label: String,
        /// How many tokens have it.
        count: usize,
    },

    /// The token rejected a PIN. esignd never retries a rejected PIN, so that a wrong
    /// configuration cannot lock the token.
    #[error(
        "the token '{token}' rejected the {who} PIN (C_Login returned CKR_PIN_INCORRECT){warning}; \
         check where the PIN comes from (hsm.pin_file or ESIGND__HSM__PIN for the user PIN, \
         --so-pin-file for the security officer's) — esignd did not retry, so it has not locked the token"
    )]
    PinIncorrect {
        /// Label of the token.
        token: String,
        /// `user` or `security officer`.
        who: &'static str,
        /// A note about the token's remaining tries, when the token reports it.
        warning: &'static str,
    },

    /// The token's user PIN is locked (too many wrong PINs).
    #[error(
        "the user PIN of token '{token}' is locked; the security officer must reset it \
         (esignctl token pin --reset --so-pin-file FILE) before esignd can log in"
    )]
    PinLocked {
        /// Label of the token.
        token: String,
    },

    /// `esignctl token init` was asked for a label that a token already has.
    #[error(
        "a token labelled '{label}' already exists (serial {serial}); esignd never re-initialises a token, which would erase its keys — choose another label"
    )]
    TokenExists {
        /// The label.
        label: String,
        /// Serial of the existing token.
        serial: String,
    },

    /// No key with this label (and id) exists.
    #[error(
        "no key labelled '{label}' on the token; create it with `esignctl key generate` or `esignctl provision --dev`"
    )]
    KeyNotFound {
        /// The label looked for.
        label: String,
    },

    /// Creating an object would shadow an existing one.
    #[error(
        "an object labelled '{label}' already exists on the token; esignd never overwrites key or certificate objects — choose another label or destroy the old one first"
    )]
    ObjectExists {
        /// The label in use.
        label: String,
    },

    /// Several keys answer to one label; the caller must disambiguate by CKA_ID.
    #[error("{count} keys are labelled '{label}'; give their CKA_ID as well (esignctl key list shows it)")]
    KeyAmbiguous {
        /// The label.
        label: String,
        /// How many private keys carry it.
        count: usize,
    },

    /// The digest does not have the length the scheme's hash produces.
    #[error("digest is {got} bytes but {scheme} signs {want}-byte digests")]
    DigestLength {
        /// Scheme asked for.
        scheme: SignatureScheme,
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        want: usize,
    },

    /// The scheme does not fit the key (ECDSA with an RSA key, ...).
    #[error("a {algorithm} key cannot sign with {scheme}")]
    SchemeMismatch {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// The scheme asked for.
        scheme: SignatureScheme,
    },

    /// Every pooled session stayed busy past the per-call deadline.
    #[error(
        "no HSM session became free within {0:?}; raise hsm.sessions or hsm.call_timeout_ms, or check the HSM's load"
    )]
    Busy(Duration),

    /// The key pool had no key ready and is configured to refuse rather than generate in line.
    #[error(
        "no pre-generated one-time key is ready (hsm.key_pool.when_empty = \"busy\"); retry shortly, or raise hsm.key_pool.size or refill_threads"
    )]
    KeyPoolEmpty,

    /// An HSM call did not finish before its deadline.
    #[error("the HSM did not answer within {0:?} (hsm.call_timeout_ms)")]
    Timeout(Duration),

    /// The token returned something esignd cannot use (a key type it does not know, a malformed
    /// attribute).
    #[error("the token returned an unusable {what}: {detail}")]
    Malformed {
        /// Which value.
        what: &'static str,
        /// Why it is unusable.
        detail: String,
    },

    /// DER encoding or decoding failed.
    #[error("DER encoding failed: {0}")]
    Der(#[from] der::Error),
}

impl Error {
    /// Whether the session that produced this error must be closed and replaced: the handle is
    /// gone, the device failed, or the login state was lost underneath us.
    pub fn is_session_fatal(&self) -> bool {
        matches!(
            self,
            Error::Pkcs11 {
                rv: RvError::SessionHandleInvalid
                    | RvError::SessionClosed
                    | RvError::DeviceError
                    | RvError::DeviceRemoved
                    | RvError::DeviceMemory
                    | RvError::TokenNotPresent
                    | RvError::TokenNotRecognized
                    | RvError::UserNotLoggedIn
                    | RvError::GeneralError,
                ..
            }
        )
    }

    /// Whether the token said a key or object handle is no longer valid (its objects changed
    /// underneath esignd), so that persistent keys should be looked up again.
    pub fn is_stale_handle(&self) -> bool {
        matches!(self.rv(), Some(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid))
    }

    /// The PKCS#11 return code, when the error came from the module.
    pub fn rv(&self) -> Option<RvError> {
        match self {
            Error::Pkcs11 { rv, .. } => Some(*rv),
            _ => None,
        }
    }
}

impl From<CryptokiError> for Error {
    fn from(e: CryptokiError) -> Self {
        match e {
            CryptokiError::Pkcs11(rv, function) => Error::Pkcs11 { function, rv },
            other => Error::Cryptoki(other),
        }
    }
}

/// `Login` → `C_Login`.
fn function_name(function: Function) -> String {
    format!("C_{function:?}")
}

/// `PinIncorrect` → `CKR_PIN_INCORRECT`.
fn rv_name(rv: RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR_");
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs11_errors_read_like_the_specification() {
        let e = Error::from(CryptokiError::Pkcs11(RvError::SessionHandleInvalid, Function::Sign));
        assert_eq!(e.to_string(), "C_Sign returned CKR_SESSION_HANDLE_INVALID");
        assert!(e.is_session_fatal());
        let e = Error::from(CryptokiError::Pkcs11(RvError::KeyHandleInvalid, Function::Sign));
        assert!(!e.is_session_fatal());
    }
}
