//! `esignctl key generate|list|destroy`: persistent token keys, shown by label, `CKA_ID`, type
//! and the SHA-256 of the public key. Nothing secret is ever printed.

use clap::Subcommand;

use super::{AlgArg, CtlError, open_token};
use crate::config::Config;
use crate::hsm::encoding::spki_fingerprint;
use crate::hsm::{KeySession, KeyStore, ObjectClass};

#[derive(Debug, Subcommand)]
pub(super) enum KeyCommand {
    /// Generate a persistent key pair on the token (sensitive, non-extractable, sign-only).
    Generate {
        /// Label of the new key; refused if any object already carries it.
        #[arg(long)]
        label: String,
        #[command(flatten)]
        alg: AlgArg,
    },
    /// List persistent keys.
    List,
    /// Destroy a persistent key pair.
    Destroy {
        /// Label of the key.
        #[arg(long)]
        label: String,
        /// Hex CKA_ID, when several keys share the label.
        #[arg(long)]
        id: Option<String>,
        /// Confirm: the key cannot be recovered.
        #[arg(long)]
        yes: bool,
    },
}

pub(super) fn run(config: &Config, command: KeyCommand) -> Result<(), CtlError> {
    let store = open_token(config)?;
    let session = store.session()?;
    match command {
        KeyCommand::Generate { label, alg } => {
            let key = session.generate_persistent(alg.alg, &label)?;
            super::record_change(config, "key.generated", &label, Some(&spki_fingerprint(key.public_key())?));
            println!(
                "generated {} key '{}' id {} sha256:{}",
                key.algorithm(),
                key.label(),
                hex::encode(key.id()),
                spki_fingerprint(key.public_key())?
            );
        }
        KeyCommand::List => {
            let objects = session.objects()?;
            println!("{:<28} {:<34} {:<8} {:<5} PUBLIC KEY SHA-256", "LABEL", "ID", "TYPE", "CERT");
            for object in objects.iter().filter(|o| o.class == ObjectClass::PrivateKey && o.on_token) {
                let key = session.key(&object.label, Some(&object.id))?;
                let has_cert = objects.iter().any(|o| o.class == ObjectClass::Certificate && o.label == object.label);
                println!(
                    "{:<28} {:<34} {:<8} {:<5} {}",
                    key.label(),
                    hex::encode(key.id()),
                    key.algorithm(),
                    if has_cert { "yes" } else { "no" },
                    spki_fingerprint(key.public_key())?
                );
            }
            for object in objects.iter().filter(|o| o.class == ObjectClass::SecretKey && o.on_token) {
                println!(
                    "{:<28} {:<34} {:<8} {:<5} (secret: never leaves the token)",
                    object.label,
                    hex::encode(&object.id),
                    "hmac",
                    "no"
                );
            }
        }
        KeyCommand::Destroy { label, id, yes } => {
            let id = id.map(hex::decode).transpose().map_err(|_| CtlError::Refused("--id must be hex"))?;
            let key = session.key(&label, id.as_deref())?;
            if !yes {
                return Err(CtlError::Refused("destroying a key cannot be undone; add --yes to confirm"));
            }
            session.destroy_key(&key)?;
            super::record_change(config, "key.destroyed", &label, Some(&spki_fingerprint(key.public_key())?));
            println!("destroyed key '{}' id {}", key.label(), hex::encode(key.id()));
        }
    }
    Ok(())
}
