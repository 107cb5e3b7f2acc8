//! `esign`'s command line: `pdf prepare`, `pdf embed` and `pdf sign` (prepare, `POST
//! /v1/sign/onetime` with format PAdES, embed). Outputs are written to `OUT.partial` and renamed
//! into place only when complete, so a failure leaves no output file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use hyper::Method;
use hyper::header::{CONTENT_TYPE, HeaderName};
use serde_json::{Value, json};

use super::ClientError;
use super::pdf::{self, Kind, PrepareOptions, Prepared};
use crate::outbound::HttpClient;

/// Command line of `esign`.
#[derive(Debug, Parser)]
#[command(name = "esign", version, about = "The integrator's client for esignd: PDFs in, signed PDFs out")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// PDF signatures (PAdES).
    #[command(subcommand)]
    Pdf(PdfCommand),
    /// Signing sessions: create one for the citizen's browser, wait for its signature.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Webhooks esignd sent.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Check a signed PDF, or a detached signature over a file: one line per check; the exit
    /// status says whether all passed.
    Verify {
        /// The signed PDF, or with --signature the signed file.
        #[arg(required_unless_present = "detached")]
        file: Option<PathBuf>,
        /// The signed file of a detached signature (as FILE with --signature).
        #[arg(long, value_name = "FILE", conflicts_with = "file", requires = "signature")]
        detached: Option<PathBuf>,
        /// A detached CAdES signature (DER, `.p7s`) over FILE.
        #[arg(long, value_name = "P7S")]
        signature: Option<PathBuf>,
        /// PEM certificates to trust (esignd's CA: `GET /v1/ca`).
        #[arg(long, value_name = "PEM")]
        trust: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PdfCommand {
    /// Add a signature field and placeholder; print the digest to sign (base64) and its hashType.
    Prepare {
        /// The PDF to sign.
        input: PathBuf,
        /// Where the prepared PDF goes.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        field: FieldArgs,
    },
    /// Put the CMS of a GovStack SignResponse into a prepared PDF.
    Embed {
        /// The prepared PDF.
        prepared: PathBuf,
        /// The SignResponse (JSON) esignd returned for the prepared digest.
        #[arg(long)]
        response: PathBuf,
        /// Where the signed PDF goes.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        lta: LtaArgs,
    },
    /// Prepare, have esignd sign (POST /v1/sign/onetime, PAdES) and embed, in one go.
    Sign {
        /// The PDF to sign.
        input: PathBuf,
        /// esignd's public URL.
        #[arg(long)]
        server: String,
        /// A file holding the citizen's access token.
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// Where the signed PDF goes.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        field: FieldArgs,
        #[command(flatten)]
        lta: LtaArgs,
    },
}

#[derive(Debug, clap::Args)]
struct LtaArgs {
    /// Make it PAdES B-LTA: the response's validation data in a Document Security Store, then a
    /// document time-stamp over the whole file.
    #[arg(long)]
    lta: bool,
    /// The RFC 3161 TSA of the document time-stamp (`pdf sign`: esignd's `/tsa` by default).
    #[arg(long, value_name = "URL")]
    tsa: Option<String>,
    /// PEM certificates the TSA's must chain to (default: the response's CA chain).
    #[arg(long, value_name = "FILE")]
    tsa_trust: Option<PathBuf>,
}

impl LtaArgs {
    /// `signed` made B-LTA with `response`'s evidence when `--lta`; `signed` as it is otherwise.
    async fn apply(
        &self,
        signed: Vec<u8>,
        response: &Value,
        default_tsa: Option<String>,
    ) -> Result<Vec<u8>, ClientError> {
        if !self.lta {
            return Ok(signed);
        }
        let url = self.tsa.clone().or(default_tsa).ok_or_else(|| ClientError::Tsa("--lta needs --tsa URL".into()))?;
        let evidence = pdf::Evidence::from_response(response)?;
        let anchors = match &self.tsa_trust {
            Some(file) => crate::pki::pem::read_chain(&read(file)?)
                .map_err(|e| ClientError::File { path: file.clone(), reason: e.to_string() })?,
            None => evidence
                .chain
                .iter()
                .map(|der| <x509_cert::Certificate as der::Decode>::from_der(der))
                .collect::<Result<_, _>>()
                .map_err(|e| ClientError::Server(format!("the response's validationData: {e}")))?,
        };
        super::timestamp::make_lta(signed, &evidence, &url, &anchors).await
    }
}

#[derive(Debug, Subcommand)]
enum SessionCommand {
    /// `POST /v1/sessions`; prints the URL to send the citizen's browser to (and, on stderr, the
    /// session's correlationId).
    Create {
        #[command(flatten)]
        eservice: EserviceArgs,
        /// The document digest, base64 (e.g. from `esign pdf prepare`).
        #[arg(long)]
        digest: String,
        /// Its algorithm.
        #[arg(long, default_value = "SHA2-256")]
        hash_type: String,
        /// CAdES or PAdES.
        #[arg(long, default_value = "CAdES")]
        format: String,
        /// What the citizen is shown.
        #[arg(long, default_value = "")]
        display: String,
        /// Where the browser returns (one of the eService's registered URLs); none: the eService
        /// polls (`esign session wait`).
        #[arg(long)]
        callback: Option<String>,
        /// The eService's id for the session (default: a random one).
        #[arg(long)]
        correlation_id: Option<String>,
    },
    /// Poll the session until it ends; write its SignResponse (signed) or fail with its error.
    Wait {
        /// The session's correlationId.
        correlation_id: String,
        #[command(flatten)]
        eservice: EserviceArgs,
        /// Where the SignResponse (JSON) goes.
        #[arg(long)]
        out: PathBuf,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Verify a webhook body (a compact JWS, read from standard input) with esignd's published
    /// keys (`/.well-known/jwks.json`) and check it is for CLIENT_ID; print its claims.
    Verify {
        /// esignd's public URL (the webhook's issuer).
        #[arg(long)]
        server: String,
        /// The eService's client id (the webhook's audience).
        #[arg(long)]
        client_id: String,
    },
}

#[derive(Debug, clap::Args)]
struct EserviceArgs {
    /// esignd's public URL.
    #[arg(long)]
    server: String,
    /// A file holding the eService's API key.
    #[arg(long, value_name = "FILE")]
    apikey_file: PathBuf,
}

impl EserviceArgs {
    /// The eService's side of esignd: its key read and the HTTP client made once, for every
    /// call (`session wait` polls).
    fn connect(&self) -> Result<Eservice, ClientError> {
        let key = String::from_utf8_lossy(&read(&self.apikey_file)?).trim().to_owned();
        Ok(Eservice { server: self.server.trim_end_matches('/').to_owned(), key, http: HttpClient::new() })
    }
}

/// esignd, called with an eService's API key.
struct Eservice {
    server: String,
    key: String,
    http: HttpClient,
}

impl Eservice {
    /// `method` `path` (JSON `body` if any) with the API key; the JSON answer and its status.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), ClientError> {
        let mut headers = vec![(HeaderName::from_static("apikey"), self.key.clone())];
        if body.is_some() {
            headers.push((CONTENT_TYPE, "application/json".to_owned()));
        }
        let url = format!("{}{path}", self.server);
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let response = self
            .http
            .send(method, &url, &headers, bytes, Duration::from_secs(30))
            .await
            .map_err(|e| ClientError::Server(e.to_string()))?;
        Ok((response.status.as_u16(), serde_json::from_slice(&response.body).unwrap_or(Value::Null)))
    }
}

/// The claims of webhook `jws` after checking its signature against `server`'s published keys,
/// its issuer (`server`) and audience (`client_id`).
async fn verify_webhook(server: &str, client_id: &str, jws: &str) -> Result<Value, ClientError> {
    let server = server.trim_end_matches('/');
    let url = format!("{server}/.well-known/jwks.json");
    let response = HttpClient::new()
        .send(Method::GET, &url, &[], Vec::new(), Duration::from_secs(30))
        .await
        .map_err(|e| ClientError::Server(e.to_string()))?;
    let keys: crate::jose::jwk::JwkSet =
        serde_json::from_slice(&response.body).map_err(|e| ClientError::Server(format!("{url} is not a JWKS: {e}")))?;
    let invalid = |e: crate::jose::Error| ClientError::Server(format!("the webhook does not verify: {e}"));
    let payload = crate::jose::jws::decode(jws).and_then(|token| token.verify(&keys)).map_err(invalid)?;
    let claims: Value = serde_json::from_slice(&payload)
        .map_err(|_| ClientError::Server("the webhook's claims are not JSON".into()))?;
    if claims["iss"] != server || claims["aud"] != client_id {
        return Err(ClientError::Server(format!(
            "the webhook is from {} for {}, not from {server} for {client_id}",
            claims["iss"], claims["aud"]
        )));
    }
    Ok(claims)
}

/// The error message of a GovStack error body.
fn message(status: u16, body: &Value) -> ClientError {
    ClientError::Server(format!("{status} {}", body["status"]["message"].as_str().unwrap_or("no message")))
}

#[derive(Debug, clap::Args)]
struct FieldArgs {
    /// The signature field's name (default: the first free Signature<n>).
    #[arg(long)]
    field: Option<String>,
    /// Why the document is signed (`/Reason`).
    #[arg(long)]
    reason: Option<String>,
    /// Where (`/Location`).
    #[arg(long)]
    location: Option<String>,
    /// Bytes reserved for the signature.
    #[arg(long, default_value_t = pdf::DEFAULT_RESERVE)]
    reserve: usize,
}

impl FieldArgs {
    fn options(&self) -> PrepareOptions {
        PrepareOptions {
            field: self.field.clone(),
            kind: Kind::Signature { reason: self.reason.clone(), location: self.location.clone() },
            reserve: self.reserve,
            ..PrepareOptions::default()
        }
    }
}

/// Run `cli`.
///
/// # Errors
/// [`ClientError`].
pub async fn run(cli: Cli) -> Result<(), ClientError> {
    match cli.command {
        Command::Webhook(WebhookCommand::Verify { server, client_id }) => {
            let mut body = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut body)
                .map_err(|e| ClientError::File { path: "standard input".into(), reason: e.to_string() })?;
            let claims = verify_webhook(&server, &client_id, body.trim()).await?;
            println!("{claims}");
            Ok(())
        }
        Command::Session(SessionCommand::Create {
            eservice,
            digest,
            hash_type,
            format,
            display,
            callback,
            correlation_id,
        }) => {
            let eservice = eservice.connect()?;
            let correlation_id = correlation_id.unwrap_or_else(|| crate::ids::random_hex(16));
            let mut body = json!({
                "correlationId": correlation_id, "hash": digest, "hashType": hash_type, "format": format,
                "dataToBeDisplayed": display,
            });
            if let Some(callback) = callback {
                body["callbackUrl"] = callback.into();
            }
            let (status, answer) = eservice.call(Method::POST, "/v1/sessions", Some(&body)).await?;
            if status != 201 {
                return Err(message(status, &answer));
            }
            eprintln!("correlationId: {correlation_id}");
            println!("{}", answer["redirectUrl"].as_str().unwrap_or_default());
            Ok(())
        }
        Command::Session(SessionCommand::Wait { correlation_id, eservice, out, timeout }) => {
            let eservice = eservice.connect()?;
            let deadline = std::time::Instant::now() + Duration::from_secs(timeout);
            let signature_id = loop {
                let (status, session) =
                    eservice.call(Method::GET, &format!("/v1/sessions/{correlation_id}"), None).await?;
                if status != 200 {
                    return Err(message(status, &session));
                }
                match session["status"].as_str() {
                    Some("signed") => break session["signatureId"].as_str().unwrap_or_default().to_owned(),
                    Some("failed") => {
                        let why =
                            session["errorDescription"].as_str().or(session["error"].as_str()).unwrap_or("failed");
                        return Err(ClientError::Server(format!("the session failed: {why}")));
                    }
                    _ if std::time::Instant::now() > deadline => {
                        return Err(ClientError::Server(format!("the session did not end within {timeout} s")));
                    }
                    _ => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            };
            let (status, response) =
                eservice.call(Method::GET, &format!("/v1/sign/response/{signature_id}"), None).await?;
            if status != 200 {
                return Err(message(status, &response));
            }
            let text = serde_json::to_vec_pretty(&response).expect("JSON serialises");
            write_whole(&out, |file| file.write_all(&text))
        }
        Command::Verify { file, detached, signature, trust } => {
            let file = file.or(detached).expect("clap requires one");
            let anchors = crate::pki::pem::read_chain(&read(&trust)?)
                .map_err(|e| ClientError::File { path: trust.clone(), reason: e.to_string() })?;
            let checks = match signature {
                Some(p7s) => super::verify::detached(&read(&file)?, &read(&p7s)?, &anchors),
                None => super::verify::pdf(&read(&file)?, &anchors),
            };
            for check in &checks {
                println!("{check}");
            }
            if super::verify::all_passed(&checks) { Ok(()) } else { Err(ClientError::Invalid) }
        }
        Command::Pdf(PdfCommand::Prepare { input, out, field }) => {
            let prepared = prepare_file(&input, &out, &field.options())?;
            println!("{} {}", STANDARD.encode(&prepared.digest), prepared.hash.name());
            Ok(())
        }
        Command::Pdf(PdfCommand::Embed { prepared, response, out, lta }) => {
            let response: Value = serde_json::from_slice(&read(&response)?)
                .map_err(|e| ClientError::File { path: response.clone(), reason: format!("not JSON: {e}") })?;
            let cms = signature_of(&response)?;
            let mut pdf = read(&prepared)?;
            pdf::embed(&mut pdf, &cms)?;
            let pdf = lta.apply(pdf, &response, None).await?;
            write_whole(&out, |file| file.write_all(&pdf))
        }
        Command::Pdf(PdfCommand::Sign { input, server, token_file, out, field, lta }) => {
            let token = String::from_utf8_lossy(&read(&token_file)?).trim().to_owned();
            let partial = partial(&out);
            let prepared = prepare_file(&input, &partial, &field.options())?;
            let signed = async {
                let response = sign_digest(&server, &token, &prepared).await?;
                let mut pdf = read(&partial)?;
                pdf::embed(&mut pdf, &signature_of(&response)?)?;
                let tsa = format!("{}/tsa", server.trim_end_matches('/'));
                let pdf = lta.apply(pdf, &response, Some(tsa)).await?;
                write_whole(&out, |file| file.write_all(&pdf))
            }
            .await;
            let _ = std::fs::remove_file(&partial);
            signed
        }
    }
}

/// Prepare `input` into `out`.
fn prepare_file(input: &Path, out: &Path, options: &PrepareOptions) -> Result<Prepared, ClientError> {
    let mut original = read(input)?;
    let (mut prepared, mut refused) = (None, None);
    let written = write_whole(out, |file| {
        let mut buffered = std::io::BufWriter::new(file);
        match pdf::prepare(&mut original, options, &mut buffered) {
            Ok(done) => {
                prepared = Some(done);
                buffered.flush()
            }
            Err(e) => {
                refused = Some(e);
                Err(std::io::Error::other("refused"))
            }
        }
    });
    if let Some(e) = refused {
        return Err(e.into());
    }
    written?;
    Ok(prepared.expect("prepared when written"))
}

/// `POST /v1/sign/onetime` for the prepared digest, as PAdES; the SignResponse.
async fn sign_digest(server: &str, token: &str, prepared: &Prepared) -> Result<Value, ClientError> {
    let body = json!({
        "format": "PAdES", "hash": STANDARD.encode(&prepared.digest), "hashType": prepared.hash.name(),
    });
    let headers = [
        (CONTENT_TYPE, "application/json".to_owned()),
        (HeaderName::from_static("x-govstack-authenticationtoken"), token.to_owned()),
    ];
    let url = format!("{}/v1/sign/onetime", server.trim_end_matches('/'));
    let response = HttpClient::new()
        .send(Method::POST, &url, &headers, body.to_string().into_bytes(), Duration::from_secs(60))
        .await
        .map_err(|e| ClientError::Server(e.to_string()))?;
    let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if !response.status.is_success() {
        let message = value["status"]["message"].as_str().unwrap_or("no message");
        return Err(ClientError::Server(format!("{} {message}", response.status.as_u16())));
    }
    Ok(value)
}

/// The CMS (DER) of a SignResponse.
fn signature_of(response: &Value) -> Result<Vec<u8>, ClientError> {
    let signature =
        response["signature"].as_str().ok_or(ClientError::Server("the response has no signature".into()))?;
    STANDARD.decode(signature).map_err(|_| ClientError::Server("the response's signature is not base64".into()))
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::File { path: path.to_owned(), reason: e.to_string() })
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Write `path` whole or not at all: into `path.partial`, renamed when `write` succeeded.
fn write_whole(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<(), ClientError> {
    let partial = partial(path);
    let failed = |e: std::io::Error| ClientError::File { path: path.to_owned(), reason: e.to_string() };
    let written = std::fs::File::create(&partial).and_then(|mut file| {
        write(&mut file)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&partial, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(failed(e))
        }
    }
}
