//! Where the HSM user PIN comes from, and reading it into a zeroizing secret.
//!
//! The PIN is read when it is needed (at start-up, or by an `esignctl` command that logs in),
//! never logged, and never printed by `Debug`.

use std::fmt;
use std::path::PathBuf;

use crate::hsm::Pin;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::ConfigError;

/// The configured source of the user PIN.
#[derive(Clone)]
pub enum PinSource {
    /// `hsm.pin_file`: a file holding the PIN (a trailing newline is ignored).
    File(PathBuf),
    /// `ESIGND__HSM__PIN`.
    Environment(SecretString),
}

impl fmt::Debug for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Environment(_) => f.write_str("Environment([REDACTED])"),
        }
    }
}

impl PinSource {
    /// Read the PIN.
    ///
    /// # Errors
    /// [`ConfigError::PinFile`] when the file cannot be read, [`ConfigError::PinUnusable`] when
    /// the PIN is empty.
    pub fn read(&self) -> Result<Pin, ConfigError> {
        match self {
            Self::File(path) => {
                let bytes = Zeroizing::new(
                    std::fs::read(path).map_err(|source| ConfigError::PinFile { path: path.clone(), source })?,
                );
                pin_from_bytes(&bytes).ok_or_else(|| ConfigError::PinUnusable { origin: format!("file {path:?}") })
            }
            Self::Environment(pin) => pin_from_bytes(pin.expose_secret().as_bytes())
                .ok_or_else(|| ConfigError::PinUnusable { origin: "ESIGND__HSM__PIN".to_owned() }),
        }
    }
}

/// A PIN from file contents: UTF-8, without a trailing line break, not empty.
pub fn pin_from_bytes(bytes: &[u8]) -> Option<Pin> {
    let text = std::str::from_utf8(bytes).ok()?;
    let pin = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
    (!pin.is_empty()).then(|| Pin::from(pin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_newline_is_not_part_of_the_pin() {
        assert_eq!(pin_from_bytes(b"1234\n").unwrap().expose_secret(), "1234");
        assert_eq!(pin_from_bytes(b"1234\r\n").unwrap().expose_secret(), "1234");
        assert_eq!(pin_from_bytes(b"12 34").unwrap().expose_secret(), "12 34");
        assert!(pin_from_bytes(b"\n").is_none());
        assert!(pin_from_bytes(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn debug_never_shows_the_pin() {
        let source = PinSource::Environment(SecretString::from("s3cret-pin"));
        assert!(!format!("{source:?}").contains("s3cret"));
    }
}
