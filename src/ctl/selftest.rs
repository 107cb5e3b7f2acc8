//! `esignctl selftest --out DIR`: one real one-time transaction against the configured HSM and
//! TSA, with a synthetic identity and a generated document; writes what a relying party would
//! get, checks it again from the files, and prints one line. What an operator runs after a key
//! ceremony or an HSM change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use der::EncodePem;
use der::pem::LineEnding;
use x509_cert::Certificate;

use super::{CtlError, open_token};
use crate::config::{Config, TsaMode};
use crate::hsm::HashAlgorithm;
use crate::identity::Identity;
use crate::pki::{path, pem};
use crate::service::engine::{OneTimeRequest, SigningEngine};
use crate::tsa;
use crate::vocabulary::{Digest, Format};

#[derive(Debug, Args)]
pub(super) struct SelftestArgs {
    /// Folder for document.bin, signature.p7s, leaf.pem, chain.pem and timestamp.tst.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Sign under the PAdES profile (no signing-time) instead of CAdES.
    #[arg(long)]
    pades: bool,
    /// Digest algorithm of the document: SHA2-256, SHA2-384 or SHA2-512.
    #[arg(long, default_value = "SHA2-256")]
    hash: HashAlgorithm,
}

pub(super) fn run(config: &Config, args: SelftestArgs) -> Result<(), CtlError> {
    let store = Arc::new(open_token(config)?);
    let service = Arc::new(SigningEngine::new(store, config)?);
    std::fs::create_dir_all(&args.out).map_err(|source| CtlError::Write { path: args.out.clone(), source })?;

    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).expect("the operating system's random source failed");
    let document = format!("esignd selftest document {}\n", hex::encode(nonce)).into_bytes();
    let identity = Identity::new("esignd selftest", format!("SELFTEST-{}", hex::encode(&nonce[..4])))
        .expect("a well-formed synthetic identity");
    let format = if args.pades { Format::Pades } else { Format::Cades };
    let request = OneTimeRequest { identity, digest: Digest::of(args.hash, &document), format };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CtlError::Write { path: PathBuf::from("(tokio runtime)"), source })?;
    let record = runtime.block_on(service.sign_one_time(request))?;

    let write = |name: &str, bytes: &[u8]| {
        let path = args.out.join(name);
        std::fs::write(&path, bytes).map_err(|source| CtlError::Write { path, source })
    };
    write("document.bin", &document)?;
    write("signature.p7s", &record.cms)?;
    write("leaf.pem", record.leaf.to_pem(LineEnding::LF).map_err(crate::ca::Error::from)?.as_bytes())?;
    write("chain.pem", pem::write_chain(&record.chain).map_err(crate::ca::Error::from)?.as_bytes())?;
    write("timestamp.tst", &record.timestamp_token)?;

    let tsa_anchors = match &config.tsa.mode {
        TsaMode::Builtin => record.chain.clone(),
        TsaMode::External { trust, .. } => trust.clone(),
    };
    let summary = check_files(&args.out, &tsa_anchors, format, args.hash)?;
    println!("selftest OK: {summary}; files in {}", args.out.display());
    Ok(())
}

/// Read the files back and check them as a relying party would.
fn check_files(
    dir: &Path,
    tsa_anchors: &[Certificate],
    format: Format,
    hash: HashAlgorithm,
) -> Result<String, CtlError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| CtlError::Read { path, source })
    };
    let refused = |file: &'static str, problem: String| CtlError::Selftest { file, problem };
    let document = read("document.bin")?;
    let p7s = read("signature.p7s")?;
    let token = read("timestamp.tst")?;
    let chain = pem::read_chain(&read("chain.pem")?).map_err(|e| refused("chain.pem", e.to_string()))?;
    let leaf = pem::read_chain(&read("leaf.pem")?).map_err(|e| refused("leaf.pem", e.to_string()))?.remove(0);

    let verified = crate::cms::verify::verify(&p7s, Some(&hash.digest(&document)), &[])
        .map_err(|e| refused("signature.p7s", format!("does not verify over document.bin: {e}")))?;
    if verified.signer != leaf {
        return Err(refused("signature.p7s", "is not signed by leaf.pem".into()));
    }
    if verified.signing_time.is_some() != (format == Format::Cades) {
        return Err(refused("signature.p7s", format!("signing-time does not follow {format}")));
    }
    let imprint = tsa::builtin::sha256_imprint(verified.signer_info.signature.as_bytes()).map_err(CtlError::Tsa)?;
    let stamped = tsa::verify::verify_token(&token, &imprint, None, tsa_anchors)
        .map_err(|e| refused("timestamp.tst", e.to_string()))?;
    let gen_time = stamped.tst_info.gen_time.to_system_time();
    path::verify_path(&leaf, &chain[1..], &chain[..1], gen_time)
        .or_else(|_| path::verify_path(&leaf, &chain, &chain[chain.len() - 1..], gen_time))
        .map_err(|e| refused("leaf.pem", format!("does not chain to chain.pem at genTime: {e}")))?;
    let validity = leaf.tbs_certificate().validity();
    let (not_before, not_after) = (validity.not_before.to_system_time(), validity.not_after.to_system_time());
    let signing_time = verified.signing_time.unwrap_or(gen_time);
    if !(not_before <= signing_time && signing_time <= gen_time && gen_time <= not_after) {
        return Err(refused("signature.p7s", "notBefore <= signing-time <= genTime <= notAfter does not hold".into()));
    }
    Ok(format!(
        "{format:?} B-T, leaf serial {} valid {}s, stamped {:.3}s after notBefore by '{}'",
        hex::encode(leaf.tbs_certificate().serial_number().as_bytes()),
        not_after.duration_since(not_before).unwrap_or_default().as_secs(),
        gen_time.duration_since(not_before).unwrap_or_default().as_secs_f64(),
        stamped.tsa_certificate.tbs_certificate().subject(),
    ))
}
