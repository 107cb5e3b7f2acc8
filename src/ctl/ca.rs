//! `esignctl ca create-root|csr|import|show` and `esignctl tsa provision`.

use std::path::PathBuf;

use clap::Subcommand;
use der::pem::LineEnding;
use der::{Encode, EncodePem};

use super::{AlgArg, CtlError, fingerprint, open_token};
use crate::ca::{chain, csr, root, tsa};
use crate::config::Config;
use crate::hsm::KeyStore;
use crate::pki::pem::write_chain;

#[derive(Debug, Subcommand)]
pub(super) enum CaCommand {
    /// Generate the CA key in the HSM and self-sign a CA certificate; refuses to overwrite.
    CreateRoot {
        /// RFC 4514 subject, e.g. "CN=Example Root CA,O=Example Agency,C=EE".
        #[arg(long)]
        subject: String,
        /// Days the certificate is valid.
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        alg: AlgArg,
    },
    /// Make a CSR for the CA key (generated if missing) to be signed by another CA.
    Csr {
        /// RFC 4514 subject.
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        alg: AlgArg,
        /// Write the PEM CSR here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import the CA certificate and its issuers (PEM) for the CA key; refuses to overwrite.
    Import {
        /// PEM file with the CA certificate and the certificates above it.
        #[arg(long, value_name = "FILE")]
        chain: PathBuf,
    },
    /// Print the CA chain as PEM, CA certificate first.
    Show,
}

#[derive(Debug, Subcommand)]
pub(super) enum TsaCommand {
    /// Issue the built-in TSA's certificate from the CA (TSA key generated if missing).
    Provision {
        /// RFC 4514 subject of the TSA.
        #[arg(long)]
        subject: String,
        /// Days the certificate is valid (never beyond the CA certificate).
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        alg: AlgArg,
    },
}

pub(super) fn run(config: &Config, command: CaCommand) -> Result<(), CtlError> {
    let store = open_token(config)?;
    let session = store.session()?;
    let label = &config.hsm.keys.ca;
    match command {
        CaCommand::CreateRoot { subject, days, alg } => {
            let cert = root::create_root(&session, label, alg.alg, &subject, days, false)?;
            let der = cert.to_der().map_err(crate::ca::Error::from)?;
            super::record_change(config, "ca.created", label, Some(&fingerprint(&der)));
            let tbs = cert.tbs_certificate();
            println!(
                "created CA '{}' serial {} valid until {} sha256:{}",
                tbs.subject(),
                tbs.serial_number(),
                tbs.validity().not_after,
                fingerprint(&cert.to_der().map_err(crate::ca::Error::from)?)
            );
        }
        CaCommand::Csr { subject, alg, out } => {
            let request = csr::ca_csr(&session, label, alg.alg, &subject)?;
            let pem = request.to_pem(LineEnding::LF).map_err(crate::ca::Error::from)?;
            match out {
                Some(path) => std::fs::write(&path, pem).map_err(|source| CtlError::Write { path, source })?,
                None => print!("{pem}"),
            }
        }
        CaCommand::Import { chain: path } => {
            let pem = std::fs::read(&path).map_err(|source| CtlError::Read { path, source })?;
            let imported = chain::import(&session, label, &pem)?;
            let first = imported.first().map(|c| c.to_der()).transpose().map_err(crate::ca::Error::from)?;
            super::record_change(config, "ca.imported", label, first.as_deref().map(fingerprint).as_deref());
            for cert in &imported {
                println!("stored '{}'", cert.tbs_certificate().subject());
            }
        }
        CaCommand::Show => {
            let certificates = chain::load(&session, label)?
                .ok_or_else(|| crate::ca::Error::NoCaCertificate { label: label.clone() })?;
            print!("{}", write_chain(&certificates).map_err(crate::ca::Error::from)?);
        }
    }
    Ok(())
}

pub(super) fn run_tsa(config: &Config, command: TsaCommand) -> Result<(), CtlError> {
    let store = open_token(config)?;
    let session = store.session()?;
    let TsaCommand::Provision { subject, days, alg } = command;
    let keys = &config.hsm.keys;
    let crl_url = super::crl_url(config);
    let cert = tsa::issue_tsa_certificate(&session, &keys.ca, &keys.tsa, alg.alg, &subject, days, crl_url.as_deref())?;
    let der = cert.to_der().map_err(crate::ca::Error::from)?;
    super::record_change(config, "tsa.provisioned", &keys.tsa, Some(&fingerprint(&der)));
    println!(
        "issued TSA certificate '{}' valid until {}",
        cert.tbs_certificate().subject(),
        cert.tbs_certificate().validity().not_after
    );
    Ok(())
}
