//! `esignctl audit …`: the audit trail for auditors and security officers (`docs/audit.md`).
//!
//! - `verify [--from SEQ] [--against CHECKPOINT] [--key PEM]` walks the chain in the store and
//!   every checkpoint's signature (audit key) and time-stamp, and names the first bad record, or
//!   says `audit OK: N records, M checkpoints, head <hash>`. `--against` checks the store against
//!   a checkpoint kept from earlier (`GET /v1/audit/checkpoints`, an export): what was cut off
//!   the end shows. The audit key comes from `--key` or from the token (with the PIN).
//! - `export --out DIR [--from SEQ] [--to SEQ]`: records as JSON lines, the checkpoints, the
//!   audit key and the CA chain, for checking without esignd.
//! - `find --subject ID`: the subject hash of a citizen (HMAC in the HSM, with the PIN) and
//!   their records.
//! - `keys [--alg]`: make the audit keys a production token lacks.
//! - `public-key`: the audit key's public key, PEM.
//!
//! The store is read directly (SQLite read-only, or PostgreSQL), while the daemons run or not.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use der::{DecodePem, EncodePem};
use spki::SubjectPublicKeyInfoOwned;

use super::{AlgArg, CtlError, open_token};
use crate::audit::chain::Record;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::trail::{self, TrustedKeys};
use crate::config::{Config, TsaMode};
use crate::hsm::{KeySession, KeyStore};

/// `esignctl audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the chain, every checkpoint, and optionally a checkpoint kept from earlier.
    Verify {
        /// Check only from this record on (it must follow a checkpoint, or be record 1).
        #[arg(long)]
        from: Option<u64>,
        /// A checkpoint (JSON, as /v1/audit/checkpoints or an export gives it) the store must
        /// still contain.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
        /// The audit key's public key (PEM); without it, read from the token.
        #[arg(long, value_name = "PEM")]
        key: Option<PathBuf>,
    },
    /// Write records (JSON lines), checkpoints, the audit key and the CA chain into --out.
    Export {
        /// The folder to write (created).
        #[arg(long)]
        out: PathBuf,
        /// The first record (default: the first stored).
        #[arg(long)]
        from: Option<u64>,
        /// The last record (default: the newest).
        #[arg(long)]
        to: Option<u64>,
    },
    /// The audit's name for a citizen (HMAC of their subject id in the HSM) and their records.
    Find {
        /// The citizen's subject id at the ID provider.
        #[arg(long)]
        subject: String,
    },
    /// Make the audit keys the token lacks (the checkpoint key pair and the subject secret).
    Keys(AlgArg),
    /// Print the audit key's public key (PEM).
    PublicKey,
}

pub(super) fn run(config: &Config, command: AuditCommand) -> Result<(), CtlError> {
    match command {
        AuditCommand::Verify { from, against, key } => verify(config, from, against.as_deref(), key.as_deref()),
        AuditCommand::Export { out, from, to } => export(config, &out, from, to),
        AuditCommand::Find { subject } => find(config, &subject),
        AuditCommand::Keys(alg) => {
            let token = open_token(config)?;
            let session = token.session()?;
            for (label, made) in crate::preflight::make_audit_keys(&session, &config.hsm.keys, alg.alg)? {
                println!("{label}: {}", if made { "created" } else { "present" });
            }
            super::record_change(config, "audit.keys", &config.hsm.keys.audit, None);
            Ok(())
        }
        AuditCommand::PublicKey => {
            let (key, _) = token_keys(config)?;
            print!("{}", key.to_pem(der::pem::LineEnding::LF).map_err(crate::hsm::Error::from)?);
            Ok(())
        }
    }
}

/// The audit key and the CA chain, from the token.
fn token_keys(config: &Config) -> Result<(SubjectPublicKeyInfoOwned, Vec<x509_cert::Certificate>), CtlError> {
    let token = open_token(config)?;
    let session = token.session()?;
    let key = session
        .find_key(&config.hsm.keys.audit, None)?
        .ok_or_else(|| crate::ca::Error::NoAuditKey { label: config.hsm.keys.audit.clone() })?;
    let chain = crate::ca::chain::load(&session, &config.hsm.keys.ca)?.unwrap_or_default();
    Ok((key.public_key().clone(), chain))
}

/// What checkpoints are checked with: `--key` or the token's audit key; the TSA's anchors.
fn trusted_keys(config: &Config, key: Option<&Path>) -> Result<TrustedKeys, CtlError> {
    let (audit_key, chain) = match key {
        Some(path) => {
            let pem =
                std::fs::read_to_string(path).map_err(|source| CtlError::Read { path: path.to_owned(), source })?;
            let key = SubjectPublicKeyInfoOwned::from_pem(pem.as_bytes()).map_err(|e| CtlError::BadFile {
                path: path.to_owned(),
                expected: "a PEM public key (esignctl audit public-key)",
                reason: e.to_string(),
            })?;
            let chain = match token_keys(config) {
                Ok((_, chain)) => chain,
                Err(_) => Vec::new(),
            };
            (key, chain)
        }
        None => token_keys(config)?,
    };
    let tsa_anchors = match &config.tsa.mode {
        TsaMode::Builtin => chain,
        TsaMode::External { trust, .. } => trust.clone(),
    };
    Ok(TrustedKeys { audit_key, tsa_anchors })
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, CtlError> {
    let text = std::fs::read_to_string(path).map_err(|source| CtlError::Read { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|e| CtlError::BadFile {
        path: path.to_owned(),
        expected: "a checkpoint (JSON with seq, head, time, signature, timestampToken)",
        reason: e.to_string(),
    })
}

fn verify(config: &Config, from: Option<u64>, against: Option<&Path>, key: Option<&Path>) -> Result<(), CtlError> {
    let (mut records, checkpoints) = super::store::audit_trail(config)?;
    if let Some(from) = from {
        records.retain(|r| r.seq >= from);
    }
    let against = against.map(read_checkpoint).transpose()?;
    let keys = trusted_keys(config, key)?;
    let summary = trail::verify_trail(&records, &checkpoints, &keys, against.as_ref())?;
    println!("audit OK: {} records, {} checkpoints, head {}", summary.records, summary.checkpoints, summary.head);
    Ok(())
}

fn export(config: &Config, out: &Path, from: Option<u64>, to: Option<u64>) -> Result<(), CtlError> {
    let (from, to) = (from.unwrap_or(0), to.unwrap_or(u64::MAX));
    let (records, checkpoints) = super::store::audit_trail(config)?;
    let records: Vec<Record> = records.into_iter().filter(|r| (from..=to).contains(&r.seq)).collect();
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| CtlError::Write { path, source })
    };
    std::fs::create_dir_all(out).map_err(|source| CtlError::Write { path: out.to_owned(), source })?;
    let lines = |items: Vec<String>| items.into_iter().map(|line| line + "\n").collect::<String>();
    write(
        "records.jsonl",
        lines(records.iter().map(|r| serde_json::to_string(r).expect("records serialise")).collect()),
    )?;
    write(
        "checkpoints.jsonl",
        lines(checkpoints.iter().map(|c| serde_json::to_string(c).expect("checkpoints serialise")).collect()),
    )?;
    let (key, chain) = token_keys(config)?;
    write("audit-key.pem", key.to_pem(der::pem::LineEnding::LF).map_err(crate::hsm::Error::from)?)?;
    let mut pem = String::new();
    for certificate in &chain {
        pem.push_str(&certificate.to_pem(der::pem::LineEnding::LF).map_err(crate::hsm::Error::from)?);
    }
    write("ca-chain.pem", pem)?;
    println!("exported {} records and {} checkpoints to {}", records.len(), checkpoints.len(), out.display());
    Ok(())
}

fn find(config: &Config, subject: &str) -> Result<(), CtlError> {
    let token = open_token(config)?;
    let session = token.session()?;
    let hash = hex::encode(session.hmac_sha256(&session.secret(&config.hsm.keys.audit_subject)?, subject.as_bytes())?);
    let (records, _) = super::store::audit_trail(config)?;
    println!("subject {hash}");
    for record in records.iter().filter(|r| r.fields.get("subject").and_then(|s| s.as_str()) == Some(hash.as_str())) {
        println!("{}", serde_json::to_string(record).expect("records serialise"));
    }
    Ok(())
}
