//! `esign-device`'s command line: `keygen`, `enroll`, `bind`, `serve`. The device's state (its
//! pseudonym and certificate) lives in a small JSON file (`--state`); its key in a PIN-encrypted
//! PKCS#8 file (`--key-file`) or on a PKCS#11 token (`--pkcs11-module`, `--token`,
//! `--key-label`). The PIN comes from `--pin-file` (tests) or a prompt, for every signature.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::DeviceClientError;
use super::api::{Certified, Server};
use super::key::{KeySource, UnlockedKey};
use super::request_check::{checked_digest, fingerprint};
use crate::hsm::{HashAlgorithm, KeyAlgorithm};
use crate::service::devices::binding::Possession;

/// Command line of `esign-device`.
#[derive(Debug, Parser)]
#[command(
    name = "esign-device",
    version,
    about = "Reference signing device for esignd (a citizen's wallet, in a terminal)"
)]
pub struct Cli {
    /// esignd's public URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Connect to this one daemon (HOST:PORT) instead of the host --server names, keeping
    /// --server as the URL the device's tokens name (one daemon behind a load balancer).
    #[arg(long, value_name = "HOST:PORT")]
    connect_to: Option<String>,
    /// The key: a PKCS#8 PEM file encrypted with the PIN.
    #[arg(long, value_name = "FILE", conflicts_with = "pkcs11_module")]
    key_file: Option<PathBuf>,
    /// The key: on a PKCS#11 token (with --token and --key-label).
    #[arg(long, value_name = "PATH", requires_all = ["token", "key_label"])]
    pkcs11_module: Option<PathBuf>,
    /// The token's label.
    #[arg(long)]
    token: Option<String>,
    /// The key's label on the token.
    #[arg(long)]
    key_label: Option<String>,
    /// Read the PIN from this file instead of asking (for tests and scripts).
    #[arg(long, value_name = "FILE")]
    pin_file: Option<PathBuf>,
    /// The device's state: its pseudonym and certificate.
    #[arg(long, value_name = "FILE", default_value = "esign-device.json")]
    state: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new key protected by the PIN.
    Keygen {
        /// p256 or p384.
        #[arg(long, default_value = "p256")]
        curve: String,
    },
    /// Certify the key with esignd (`POST /v1/cert/create`).
    Enroll {
        /// A file holding the user's access token from the ID provider.
        #[arg(long, value_name = "FILE")]
        id_token_file: PathBuf,
        /// The pseudonym to ask for (esignd makes one up when absent).
        #[arg(long)]
        pseudonym: Option<String>,
        /// GovStack SCDType.
        #[arg(long, default_value = "REMOTE_SCD_APP_ANDROID")]
        scd_type: String,
    },
    /// Bind the key as a wallet (`POST /binding/wallet-binding`, e-Signet semantics).
    Bind {
        /// A file holding the user's access token from the ID provider.
        #[arg(long, value_name = "FILE")]
        id_token_file: PathBuf,
        /// The user's id (UIN/VID) as the ID provider knows it.
        #[arg(long)]
        individual_id: String,
        /// The binding partner (registered in esignd's [[devices.binding_partners]]).
        #[arg(long)]
        partner_id: String,
        /// A file holding the partner's API key.
        #[arg(long, value_name = "FILE")]
        partner_api_key_file: PathBuf,
    },
    /// Change the certificate's state (`PATCH /v1/cert/{id}`): SUSPEND (a lost device: any
    /// token of the owner will do), ACTIVATE or REVOKE (a fresh login, or this key's own word:
    /// the request carries a proof signed by it).
    Status {
        /// ACTIVATE, SUSPEND or REVOKE.
        code: String,
        /// A file holding the user's access token from the ID provider.
        #[arg(long, value_name = "FILE")]
        id_token_file: PathBuf,
        /// Do not sign a proof with the key (rely on a fresh login alone).
        #[arg(long)]
        no_proof: bool,
    },
    /// Answer signing requests: show each, ask for the PIN, sign (or refuse).
    Serve {
        /// Stop after this many requests.
        #[arg(long)]
        count: Option<usize>,
        /// Refuse instead of signing (the user says no).
        #[arg(long)]
        refuse: bool,
        /// Seconds each poll waits for a request (0–30).
        #[arg(long, default_value_t = 25)]
        wait: u64,
    },
}

/// What the device remembers.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    server: String,
    pseudonym: String,
    certificate: String,
}

impl Cli {
    fn source(&self) -> Result<KeySource, DeviceClientError> {
        match (&self.key_file, &self.pkcs11_module) {
            (Some(path), None) => Ok(KeySource::File(path.clone())),
            (None, Some(module)) => Ok(KeySource::Pkcs11 {
                module: module.clone(),
                token: self.token.clone().unwrap_or_default(),
                label: self.key_label.clone().unwrap_or_default(),
            }),
            _ => Err(DeviceClientError::Key("give --key-file, or --pkcs11-module with --token and --key-label".into())),
        }
    }

    fn pin(&self) -> Result<SecretString, DeviceClientError> {
        let text = match &self.pin_file {
            Some(path) => zeroize::Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| DeviceClientError::File(format!("{}: {e}", path.display())))?,
            ),
            None => zeroize::Zeroizing::new(
                rpassword::prompt_password("PIN: ").map_err(|e| DeviceClientError::File(e.to_string()))?,
            ),
        };
        let pin = text.trim_end_matches(['\n', '\r']);
        if pin.is_empty() {
            return Err(DeviceClientError::Pin);
        }
        Ok(SecretString::from(pin.to_owned()))
    }

    fn save(&self, server: &Server, certified: &Certified) -> Result<(), DeviceClientError> {
        let state = State {
            server: server.url().to_owned(),
            pseudonym: certified.pseudonym.clone(),
            certificate: certified.certificate_pem.clone(),
        };
        let json = serde_json::to_string_pretty(&state).map_err(|e| DeviceClientError::File(e.to_string()))?;
        std::fs::write(&self.state, json).map_err(|e| DeviceClientError::File(format!("{}: {e}", self.state.display())))
    }

    fn load(&self) -> Result<State, DeviceClientError> {
        let text = std::fs::read_to_string(&self.state)
            .map_err(|e| DeviceClientError::File(format!("{}: {e}; enroll or bind first", self.state.display())))?;
        serde_json::from_str(&text).map_err(|e| DeviceClientError::File(format!("{}: {e}", self.state.display())))
    }
}

/// A token or key kept in a file (surrounding white space ignored).
fn read_token(path: &PathBuf) -> Result<String, DeviceClientError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| DeviceClientError::File(format!("{}: {e}", path.display())))?;
    Ok(text.trim().to_owned())
}

/// Run the command line.
///
/// # Errors
/// Whatever failed, said for the user.
pub async fn run(cli: Cli) -> Result<(), DeviceClientError> {
    let source = cli.source()?;
    let server = match &cli.connect_to {
        Some(daemon) => Server::new(&cli.server).connecting_to(daemon),
        None => Server::new(&cli.server),
    };
    match &cli.command {
        Command::Keygen { curve } => {
            let algorithm = match curve.as_str() {
                "p256" => KeyAlgorithm::P256,
                "p384" => KeyAlgorithm::P384,
                other => return Err(DeviceClientError::Key(format!("curve {other:?}: use p256 or p384"))),
            };
            source.generate(algorithm, &cli.pin()?)?;
            println!("key made");
        }
        Command::Enroll { id_token_file, pseudonym, scd_type } => {
            let key = source.unlock(&cli.pin()?)?;
            let csr = super::csr::make(&key)?;
            let certified = server.enroll(&read_token(id_token_file)?, &csr, scd_type, pseudonym.as_deref()).await?;
            cli.save(&server, &certified)?;
            println!("enrolled: pseudonym={}", certified.pseudonym);
        }
        Command::Bind { id_token_file, individual_id, partner_id, partner_api_key_file } => {
            let key = source.unlock(&cli.pin()?)?;
            let (alg, _) = key.jws();
            let jwk = crate::jose::jwk::Jwk::from_spki(&key.public_key()?, alg)
                .map_err(|e| DeviceClientError::Key(e.to_string()))?;
            let jwk = serde_json::to_value(jwk).map_err(|e| DeviceClientError::Key(e.to_string()))?;
            let partner_key = read_token(partner_api_key_file)?;
            let proof = |possession: &Possession<'_>| super::jwt::key_proof(&key, possession);
            let certified =
                server.bind(&read_token(id_token_file)?, individual_id, (partner_id, &partner_key), jwk, proof).await?;
            cli.save(&server, &certified)?;
            println!("bound: walletUserId={}", certified.pseudonym);
        }
        Command::Status { code, id_token_file, no_proof } => {
            let state = cli.load()?;
            let certificate = pem_der(&state.certificate)?;
            let proof = match no_proof {
                true => None,
                false => {
                    let key = source.unlock(&cli.pin()?)?;
                    Some(super::jwt::change_proof(&key, &certificate, &state.pseudonym, server.url(), code)?)
                }
            };
            let id = hex::encode(crate::hsm::HashAlgorithm::Sha256.digest(&certificate));
            let now = server.change(&read_token(id_token_file)?, &id, code, proof.as_deref()).await?;
            println!("certificate {id}: {now}");
        }
        Command::Serve { count, refuse, wait } => serve(&cli, &source, &server, *count, *refuse, *wait).await?,
    }
    Ok(())
}

/// `serve`: answer the requests that come for this device (up to `count`), polling `wait`
/// seconds at a time; the key is unlocked once to authenticate polls and again for every
/// signature.
async fn serve(
    cli: &Cli,
    source: &KeySource,
    server: &Server,
    count: Option<usize>,
    refuse: bool,
    wait: u64,
) -> Result<(), DeviceClientError> {
    let state = cli.load()?;
    let certificate = pem_der(&state.certificate)?;
    // Unlocked once to authenticate polls; every signature asks for the PIN again.
    let session_key = source.unlock(&cli.pin()?)?;
    let mut handled = 0usize;
    while count.is_none_or(|n| handled < n) {
        let jwt = super::jwt::make(&session_key, &certificate, &state.pseudonym, server.url())?;
        let requests = match server.poll(&jwt, Duration::from_secs(wait.min(30))).await {
            Ok(requests) => requests,
            // esignd restarting or the network gone: try again; a refusal ends serving.
            Err(DeviceClientError::Http(e)) => {
                eprintln!("esign-device: {e}; polling again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        for request in requests {
            println!(
                "request {}: {:?} ({}, {})",
                request.request_id, request.data_to_be_displayed, request.hash_type, request.signature_algorithm
            );
            let checked = checked_digest(&request);
            match &checked {
                Ok(digest) => {
                    println!("request {}: document {} {}", request.request_id, request.hash_type, fingerprint(digest))
                }
                Err(e) => eprintln!("esign-device: request {}: {e}", request.request_id),
            }
            let jwt = super::jwt::make(&session_key, &certificate, &state.pseudonym, server.url())?;
            let outcome = if refuse || checked.is_err() {
                server.answer(&jwt, &request.request_id, None).await?
            } else {
                let key = source.unlock(&cli.pin()?)?;
                let signature = sign_request(&key, &request.hash_type, &request.signed_attributes)?;
                server.answer(&jwt, &request.request_id, Some(&signature)).await?
            };
            println!("request {}: {outcome}", request.request_id);
            handled += 1;
            if count.is_some_and(|n| handled >= n) {
                break;
            }
        }
    }
    Ok(())
}

/// Sign the base64 DER signed attributes with the request's hash.
fn sign_request(key: &UnlockedKey, hash_type: &str, signed_attributes: &str) -> Result<Vec<u8>, DeviceClientError> {
    let hash = HashAlgorithm::from_str(hash_type).map_err(|e| DeviceClientError::Key(e.to_string()))?;
    let attributes = STANDARD
        .decode(signed_attributes)
        .map_err(|_| DeviceClientError::Key("the signed attributes are not base64".into()))?;
    key.sign_der(hash, &attributes)
}

fn pem_der(pem: &str) -> Result<Vec<u8>, DeviceClientError> {
    let certificate = <x509_cert::Certificate as der::DecodePem>::from_pem(pem)
        .map_err(|e| DeviceClientError::File(format!("the stored certificate: {e}")))?;
    der::Encode::to_der(&certificate).map_err(|e| DeviceClientError::File(e.to_string()))
}
