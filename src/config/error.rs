//! `ConfigError`: why the configuration was refused, naming the key or value at fault and
//! what to do about it. `esignd --check-config` prints it and exits 64 (EX_USAGE).

use std::path::PathBuf;

/// A configuration the daemon refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` names a file that does not exist.
    #[error("configuration file {path:?} does not exist")]
    FileMissing {
        /// The path given.
        path: PathBuf,
    },

    /// The file does not parse, a key is unknown, or a value has the wrong type.
    #[error("configuration {path:?}: {source}")]
    Parse {
        /// The file (empty when only the environment was read).
        path: PathBuf,
        /// The parser's message, which names the key.
        #[source]
        source: Box<config::ConfigError>,
    },

    /// A value is of the right type but not acceptable.
    #[error("{key} = {value:?} is not valid: {reason}")]
    Invalid {
        /// Dotted key, e.g. `hsm.sessions`.
        key: &'static str,
        /// The value as given.
        value: String,
        /// What would be acceptable.
        reason: &'static str,
    },

    /// A file named by the configuration cannot be used.
    #[error("{key} = {path:?}: {reason}")]
    File {
        /// Dotted key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A secret (`hsm.pin`, `identity.client_secret`) is written in the file.
    #[error(
        "{key} is written in the configuration file {path:?}; a secret does not belong in a config \
         file: put it in the file named by {key}_file (mode 0600, or a systemd credential) or in \
         the environment variable {env}"
    )]
    SecretInFile {
        /// The dotted key.
        key: &'static str,
        /// Its environment variable.
        env: &'static str,
        /// The file.
        path: PathBuf,
    },

    /// A file holding a secret (`store.password_file`) cannot be used.
    #[error("cannot read {key} {path:?}: {reason}")]
    SecretFile {
        /// The dotted key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Both `hsm.pin_file` and `ESIGND__HSM__PIN` are set.
    #[error("both hsm.pin_file and ESIGND__HSM__PIN are set; keep one")]
    PinTwice,

    /// No PIN source configured where a login is needed.
    #[error("no HSM user PIN configured: set hsm.pin_file (or ESIGND__HSM__PIN)")]
    PinMissing,

    /// The PIN file cannot be read.
    #[error("cannot read the HSM PIN from {path:?}: {source}")]
    PinFile {
        /// The PIN file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The PIN file (or variable) is empty or not text.
    #[error("the HSM PIN from {origin} is empty or not UTF-8")]
    PinUnusable {
        /// `file "..."` or `ESIGND__HSM__PIN`.
        origin: String,
    },
}
