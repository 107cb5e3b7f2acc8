//! `esignctl`, the security officer's tool: tokens, PINs, keys, the CA chain, the TSA
//! certificate, and development provisioning. Every command takes `--config` like the daemon
//! and addresses objects by label (and `CKA_ID`), never by handle or slot index. PINs come from
//! files or a prompt, never from the command line.

mod ca;
mod error;
mod key;
mod pins;
mod provision;
mod token;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error::CtlError;

use crate::config::Config;
use crate::hsm::pkcs11::Pkcs11KeyStore;

/// Command line of `esignctl`.
#[derive(Debug, Parser)]
#[command(
    name = "esignctl",
    version,
    about = "Security officer's tool for esignd: HSM tokens, keys, CA and TSA certificates"
)]
pub struct Cli {
    /// Configuration file (the daemon's); defaults to $ESIGND_CONFIG, then built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tokens: list slots, initialise a token, change or reset the user PIN.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Persistent keys: generate, list, destroy.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// The CA: a self-signed root, or a CSR and the chain signed elsewhere.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// The built-in TSA's key and certificate.
    #[command(subcommand)]
    Tsa(ca::TsaCommand),
    /// Make everything the daemon needs on an initialised token (idempotent).
    Provision(provision::ProvisionArgs),
}

/// Run one command.
///
/// # Errors
/// [`CtlError`], whose message says what to do next and whose [`CtlError::exit_code`] is the
/// process exit status.
pub fn run(cli: Cli) -> Result<(), CtlError> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Token(command) => token::run(&config, command),
        Command::Key(command) => key::run(&config, command),
        Command::Ca(command) => ca::run(&config, command),
        Command::Tsa(command) => ca::run_tsa(&config, command),
        Command::Provision(args) => provision::run(&config, args),
    }
}

/// Log in to the configured token with a one-session pool: what every command that touches
/// keys needs.
fn open_store(config: &Config) -> Result<Pkcs11KeyStore, CtlError> {
    let mut settings = config.hsm.pkcs11_settings()?;
    settings.sessions = 1;
    Ok(Pkcs11KeyStore::open(settings)?)
}

/// SHA-256 of DER bytes, in hex: how certificates are named to humans.
fn fingerprint(der: &[u8]) -> String {
    hex::encode(crate::hsm::HashAlgorithm::Sha256.digest(der))
}
