//! `esignctl token list|init|pin`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{CtlError, pins};
use crate::config::Config;
use crate::hsm::pkcs11::{context, token};

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
    /// List slots and tokens (label, serial, model, flags); no login needed.
    List,
    /// Initialise a new token in a free slot and set its user PIN.
    Init {
        /// Label of the new token (hsm.token_label in the daemon's configuration).
        #[arg(long)]
        label: String,
        /// File holding the security officer PIN to set (prompted when absent).
        #[arg(long, value_name = "FILE")]
        so_pin_file: Option<PathBuf>,
        /// File holding the user PIN to set (prompted when absent).
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
    /// Change the user PIN, or reset it as the security officer with --reset.
    Pin {
        /// Reset the user PIN with the security officer PIN instead of the old user PIN.
        #[arg(long)]
        reset: bool,
        /// File holding the security officer PIN (with --reset).
        #[arg(long, value_name = "FILE")]
        so_pin_file: Option<PathBuf>,
        /// File holding the current user PIN (without --reset).
        #[arg(long, value_name = "FILE")]
        old_pin_file: Option<PathBuf>,
        /// File holding the new user PIN.
        #[arg(long, value_name = "FILE")]
        new_pin_file: Option<PathBuf>,
    },
}

pub(super) fn run(config: &Config, command: TokenCommand) -> Result<(), CtlError> {
    let ctx = context::load(&config.hsm.module)?;
    match command {
        TokenCommand::List => {
            println!("{:<11} {:<32} {:<18} {:<16} FLAGS", "SLOT", "LABEL", "SERIAL", "MODEL");
            for slot in token::list(&ctx)? {
                match slot.token {
                    Some(t) if t.initialized() => {
                        println!(
                            "{:<11} {:<32} {:<18} {:<16} {}",
                            slot.slot_id,
                            t.label,
                            t.serial,
                            t.model,
                            t.flags.join(",")
                        );
                    }
                    Some(t) => println!(
                        "{:<11} {:<32} {:<18} {:<16} {}",
                        slot.slot_id,
                        "(free)",
                        t.serial,
                        t.model,
                        t.flags.join(",")
                    ),
                    None => println!("{:<11} (no token)", slot.slot_id),
                }
            }
            Ok(())
        }
        TokenCommand::Init { label, so_pin_file, pin_file } => {
            let so_pin = pins::read(so_pin_file.as_deref(), "security officer PIN", "--so-pin-file", true)?;
            let user_pin = pins::read(pin_file.as_deref(), "user PIN", "--pin-file", true)?;
            let made = token::init(&ctx, &label, &so_pin, &user_pin)?;
            println!(
                "initialised token '{}' (serial {}); the daemon finds it with hsm.token_label = \"{}\"",
                made.label, made.serial, made.label
            );
            Ok(())
        }
        TokenCommand::Pin { reset, so_pin_file, old_pin_file, new_pin_file } => {
            if reset {
                let so_pin = pins::read(so_pin_file.as_deref(), "security officer PIN", "--so-pin-file", false)?;
                let new = pins::read(new_pin_file.as_deref(), "new user PIN", "--new-pin-file", true)?;
                token::reset_user_pin(&ctx, &config.hsm.token, &so_pin, &new)?;
            } else {
                let old = pins::read(old_pin_file.as_deref(), "current user PIN", "--old-pin-file", false)?;
                let new = pins::read(new_pin_file.as_deref(), "new user PIN", "--new-pin-file", true)?;
                token::change_user_pin(&ctx, &config.hsm.token, &old, &new)?;
            }
            super::record_change(
                config,
                if reset { "pin.reset" } else { "pin.changed" },
                &config.hsm.token.to_string(),
                None,
            );
            println!("user PIN changed; update hsm.pin_file (or the systemd credential) before restarting esignd");
            Ok(())
        }
    }
}
