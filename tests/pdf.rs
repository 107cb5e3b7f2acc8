//! `esign pdf`: PDFs from independent producers (qpdf with a cross-reference table, qpdf with
//! object and cross-reference streams, pyHanko's writer, and one pyHanko signed first) are
//! prepared, signed by esignd (`POST /v1/sign/onetime`, PAdES, the daemon on SoftHSM) and
//! embedded, once and twice; poppler's `pdfsig`, `qpdf --check` and pyHanko judge every
//! result, and a byte changed inside a signed range is caught. Bad input leaves no output file.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::daemon::Daemon;
use common::{TokenDir, http_get, openssl, text};
use serde_json::json;

struct Setup {
    token: TokenDir,
    _daemon: Daemon,
    addr: SocketAddr,
    server_url: String,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.token.path(name)
    }

    fn server(&self) -> String {
        self.server_url.clone()
    }
}

/// The daemon in the demo profile (its mock provider mints the citizen's token).
fn setup() -> Setup {
    setup_with("")
}

/// As [`setup`], with `extra` configuration.
fn setup_with(extra: &str) -> Setup {
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap() + "\n[identity]\nmode = \"mock\"\n" + extra;
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    let (status, signing_token) = http_get(addr, "/demo/id-token?name=Jane+Doe&sub=jane&for=signing");
    assert_eq!(status, 200, "{signing_token}");
    std::fs::write(token.path("token"), signing_token.trim()).unwrap();
    let (status, chain) = http_get(addr, "/v1/ca");
    assert_eq!(status, 200);
    std::fs::write(token.path("ca.pem"), chain).unwrap();
    Setup { token, _daemon: daemon, addr, server_url: format!("http://{addr}") }
}

fn esign(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esign")).args(args).output().unwrap()
}

fn pyhanko() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyhanko-venv/bin/pyhanko")
}

fn tool(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    Command::new(program).args(args).output().expect("the judges are installed (tests/run.sh)")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `esign pdf sign` of `input` into `output`.
fn sign(setup: &Setup, input: &Path, output: &Path) {
    sign_with(setup, input, output, &[]);
}

/// `esign pdf sign` of `input` into `output` with `options`.
fn sign_with(setup: &Setup, input: &Path, output: &Path, options: &[&str]) {
    let token = setup.path("token");
    let mut args = vec!["pdf", "sign", s(input), "--server", &setup.server_url, "--token-file", s(&token)];
    args.extend_from_slice(options);
    args.extend(["--out", s(output)]);
    let out = esign(&args);
    assert!(out.status.success(), "esign pdf sign {}: {}", input.display(), text(&out.stderr));
}

/// The PDFs of the independent producers, in `dir`.
fn producers(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let hand = dir.join("hand.pdf");
    std::fs::write(&hand, common::pdf::minimal_pdf()).unwrap();
    let table = dir.join("qpdf-table.pdf");
    let streams = dir.join("qpdf-streams.pdf");
    assert!(tool("qpdf", &[s(&hand), s(&table)]).status.success());
    assert!(tool("qpdf", &["--object-streams=generate", s(&hand), s(&streams)]).status.success());
    let written = dir.join("pyhanko-writer.pdf");
    let script = format!(
        "from pyhanko.pdf_utils.writer import PdfFileWriter\n\
         from pyhanko.pdf_utils import generic as g\n\
         w = PdfFileWriter()\n\
         w.insert_page(g.DictionaryObject({{g.NameObject('/Type'): g.NameObject('/Page'), \
         g.NameObject('/MediaBox'): g.ArrayObject([g.NumberObject(n) for n in (0, 0, 595, 842)]), \
         g.NameObject('/Resources'): g.DictionaryObject()}}))\n\
         w.write(open({:?}, 'wb'))\n",
        s(&written)
    );
    let python = pyhanko().with_file_name("python");
    let out = tool(&python, &["-c", &script]);
    assert!(out.status.success(), "pyHanko's writer: {}", text(&out.stderr));
    // Signed before by pyHanko, with a key of someone else.
    let (key, certificate) = (dir.join("earlier.key"), dir.join("earlier.pem"));
    let made = openssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=Earlier Signer",
        "-days",
        "2",
        "-keyout",
        s(&key),
        "-out",
        s(&certificate),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let presigned = dir.join("pyhanko-signed.pdf");
    let out = tool(
        pyhanko(),
        &[
            "sign",
            "addsig",
            "--field",
            "Earlier",
            "pemder",
            "--key",
            s(&key),
            "--cert",
            s(&certificate),
            "--no-pass",
            s(&table),
            s(&presigned),
        ],
    );
    assert!(out.status.success(), "pyHanko signing first: {}", text(&out.stderr));
    vec![
        ("qpdf, cross-reference table", table),
        ("qpdf, object streams", streams),
        ("pyHanko's writer", written),
        ("signed by pyHanko first", presigned),
    ]
}

/// pdfsig's verdicts: how many signatures it found valid, and its whole output.
fn pdfsig(pdf: &Path) -> (usize, String) {
    let out = tool("pdfsig", &[s(pdf)]);
    let said = text(&out.stdout) + &text(&out.stderr);
    (said.matches("Signature Validation: Signature is Valid.").count(), said)
}

fn qpdf_check(pdf: &Path) -> Output {
    tool("qpdf", &["--check", s(pdf)])
}

/// `pyhanko sign validate` of every signature field of `pdf`, trusting `ca`.
fn pyhanko_validate(pdf: &Path, ca: &Path) -> (bool, String) {
    let out = tool(pyhanko(), &["sign", "validate", "--pretty-print", "--trust-replace", "--trust", s(ca), s(pdf)]);
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

#[test]
fn pdfs_of_independent_producers_signed_once_and_twice_pass_pdfsig_qpdf_and_pyhanko() {
    let setup = setup();
    let inputs = producers(setup.token.dir.path());
    // Trusted: esignd's CA, and the earlier signer of the pre-signed PDF.
    let trust = setup.path("trust.pem");
    let anchors = [setup.path("ca.pem"), setup.path("earlier.pem")].map(|p| std::fs::read_to_string(p).unwrap());
    std::fs::write(&trust, anchors.concat()).unwrap();
    for (producer, input) in inputs {
        let (before, _) = pdfsig(&input);
        let once = input.with_extension("once.pdf");
        sign(&setup, &input, &once);
        let (valid, said) = pdfsig(&once);
        assert_eq!(valid, before + 1, "{producer}: {said}");
        assert!(said.contains("Total document signed"), "{producer}: {said}");
        assert!(qpdf_check(&once).status.success(), "{producer}: {}", text(&qpdf_check(&once).stdout));
        let (ok, said) = pyhanko_validate(&once, &trust);
        assert!(ok && said.matches("The signature is judged VALID").count() == before + 1, "{producer}: {said}");
        assert!(said.contains("The signature covers the entire file"), "{producer}: {said}");
        // The original bytes are the start of the signed file.
        let original = std::fs::read(&input).unwrap();
        assert!(std::fs::read(&once).unwrap().starts_with(&original), "{producer}: the original is untouched");

        // Signed again: both signatures stay valid.
        let twice = input.with_extension("twice.pdf");
        sign(&setup, &once, &twice);
        let (valid, said) = pdfsig(&twice);
        assert_eq!(valid, before + 2, "{producer}: {said}");
        assert!(qpdf_check(&twice).status.success(), "{producer}");
        let (ok, said) = pyhanko_validate(&twice, &trust);
        assert!(ok && said.matches("The signature is judged VALID").count() == before + 2, "{producer}: {said}");

        // A byte changed inside the first signature's range: both judges of signatures see it.
        let mut tampered = std::fs::read(&once).unwrap();
        let at = tampered.windows(8).position(|w| w == b"Building").unwrap_or(200);
        tampered[at] ^= 0x01;
        let bad = input.with_extension("tampered.pdf");
        std::fs::write(&bad, tampered).unwrap();
        let (valid, said) = pdfsig(&bad);
        assert!(valid < before + 1, "{producer}: pdfsig missed the change: {said}");
        let verified = esign(&["verify", s(&bad), "--trust", s(&trust)]);
        assert!(!verified.status.success(), "{producer}: esign verify missed the change");
        assert!(
            text(&verified.stdout).contains("integrity: the message-digest"),
            "{producer}: {}",
            text(&verified.stdout)
        );
        let (ok, said) = pyhanko_validate(&bad, &trust);
        assert!(!ok, "{producer}: pyHanko missed the change: {said}");
    }
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_no_output() {
    let setup = setup();
    let dir = setup.token.dir.path();
    let (_, pdf) = producers(dir).remove(0);
    let refused = |args: &[&str], out: &Path, words: &str| {
        let result = esign(args);
        let said = text(&result.stderr);
        assert!(!result.status.success(), "{args:?} succeeded");
        assert!(said.contains(words), "{args:?}: {said}");
        assert!(!out.exists(), "{args:?} left {}", out.display());
        assert!(!out.with_extension("pdf.partial").exists(), "{args:?} left a partial file");
    };
    let out = dir.join("out.pdf");

    let not_pdf = dir.join("not.pdf");
    std::fs::write(&not_pdf, "just text").unwrap();
    refused(&["pdf", "prepare", s(&not_pdf), "--out", s(&out)], &out, "not a PDF");

    let encrypted = dir.join("encrypted.pdf");
    assert!(tool("qpdf", &["--encrypt", "user", "owner", "256", "--", s(&pdf), s(&encrypted)]).status.success());
    refused(&["pdf", "prepare", s(&encrypted), "--out", s(&out)], &out, "encrypted");

    // A response for another digest is not embedded.
    let prepared = dir.join("prepared.pdf");
    let printed = esign(&["pdf", "prepare", s(&pdf), "--out", s(&prepared)]);
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let other = esignd::hsm::HashAlgorithm::Sha256.digest(b"another document");
    let body = json!({ "format": "PAdES", "hash": STANDARD.encode(other), "hashType": "SHA2-256" }).to_string();
    let token = std::fs::read_to_string(setup.path("token")).unwrap();
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", token.as_str())];
    let (status, response) = common::http_with(setup.addr, "POST", "/v1/sign/onetime", &headers, body.as_bytes());
    assert_eq!(status, 200);
    let response_file = dir.join("other.json");
    std::fs::write(&response_file, response).unwrap();
    refused(
        &["pdf", "embed", s(&prepared), "--response", s(&response_file), "--out", s(&out)],
        &out,
        "for another document",
    );

    // A signature larger than the placeholder.
    refused(
        &[
            "pdf",
            "sign",
            s(&pdf),
            "--server",
            &setup.server(),
            "--token-file",
            s(&setup.path("token")),
            "--reserve",
            "64",
            "--out",
            s(&out),
        ],
        &out,
        "larger --reserve",
    );
    // The digest printed is the prepared ranges' digest, which openssl computes the same way.
    let line = text(&printed.stdout);
    let (digest, hash) = line.trim().split_once(' ').unwrap();
    assert_eq!(hash, "SHA2-256");
    let range = esignd::client::pdf::placeholder(&std::fs::read(&prepared).unwrap()).unwrap();
    let bytes = std::fs::read(&prepared).unwrap();
    let signed = [&bytes[..range[1]], &bytes[range[2]..]].concat();
    std::fs::write(dir.join("ranges.bin"), signed).unwrap();
    let out = openssl(["dgst", "-sha256", "-binary", dir.join("ranges.bin").to_str().unwrap()]);
    assert_eq!(STANDARD.encode(out.stdout), digest);
}

/// Seconds a one-time certificate lives in the long-term test (waited out before judging).
const SHORT_LIFE_SECS: u64 = 5;

#[test]
fn lta_pdfs_stay_valid_after_the_certificate_expired() {
    let setup = setup_with(&format!("\n[ca]\none_time_validity_secs = {SHORT_LIFE_SECS}\nclock_skew_secs = 1\n"));
    let dir = setup.token.dir.path();
    let inputs = producers(dir);
    let ca = setup.path("ca.pem");
    let mut judged = Vec::new();
    for (producer, input) in &inputs[..2] {
        let lta = input.with_extension("lta.pdf");
        sign_with(&setup, input, &lta, &["--lta"]);
        let twice = input.with_extension("lta-twice.pdf");
        sign_with(&setup, &lta, &twice, &["--lta"]);
        let bt = input.with_extension("bt.pdf");
        sign(&setup, input, &bt);
        judged.push((*producer, lta, twice, bt));
    }
    // A detached CAdES signature over a file, from the API.
    let document = dir.join("minutes.txt");
    std::fs::write(&document, b"Minutes of the council, 1 December 2026\n").unwrap();
    let digest = esignd::hsm::HashAlgorithm::Sha256.digest(&std::fs::read(&document).unwrap());
    let body = json!({ "format": "CAdES", "hash": STANDARD.encode(digest), "hashType": "SHA2-256" }).to_string();
    let token = std::fs::read_to_string(setup.path("token")).unwrap();
    let headers = [("Content-Type", "application/json"), ("X-GovStack-AuthenticationToken", token.as_str())];
    let (status, response) = common::http_with(setup.addr, "POST", "/v1/sign/onetime", &headers, body.as_bytes());
    assert_eq!(status, 200);
    let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
    let p7s = dir.join("minutes.p7s");
    std::fs::write(&p7s, STANDARD.decode(response["signature"].as_str().unwrap()).unwrap()).unwrap();

    // Past every one-time certificate's notAfter.
    std::thread::sleep(std::time::Duration::from_secs(SHORT_LIFE_SECS + 3));

    // The detached signature: esign verify, and openssl at genTime with the response's evidence.
    let verified = esign(&["verify", "--detached", s(&document), "--signature", s(&p7s), "--trust", s(&ca)]);
    let said = text(&verified.stdout);
    assert!(verified.status.success(), "{said}{}", text(&verified.stderr));
    for what in ["integrity", "time-stamp", "chain", "times"] {
        assert!(said.contains(&format!("ok    signature: {what}")), "{what}: {said}");
    }
    let evidence = dir.join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    std::fs::copy(&document, evidence.join("document.bin")).unwrap();
    std::fs::copy(&p7s, evidence.join("signature.p7s")).unwrap();
    let token = STANDARD.decode(response["signatureTimestamp"].as_str().unwrap()).unwrap();
    common::oracle::validation_data(&evidence, &response, &token);
    // Another file under the same signature fails integrity, and says so.
    let other = dir.join("other.txt");
    std::fs::write(&other, b"Minutes of another meeting\n").unwrap();
    let refused = esign(&["verify", s(&other), "--signature", s(&p7s), "--trust", s(&ca)]);
    assert!(!refused.status.success());
    assert!(text(&refused.stdout).contains("FAIL  signature: integrity"), "{}", text(&refused.stdout));
    let adesverify = |pdf: &Path| {
        let out =
            tool(pyhanko(), &["sign", "adesverify", "--pretty-print", "--trust-replace", "--trust", s(&ca), s(pdf)]);
        (out.status.success(), text(&out.stdout) + &text(&out.stderr))
    };
    for (producer, lta, twice, bt) in &judged {
        for (pdf, signatures) in [(lta, 1), (twice, 2)] {
            // pyHanko's ETSI EN 319 102-1 validator (AdES time slide) and its plain validation.
            let (ok, said) = adesverify(pdf);
            assert!(ok && said.matches("The signature is judged VALID").count() == signatures, "{producer}: {said}");
            assert!(!said.contains("INVALID"), "{producer}: {said}");
            let (ok, said) = pyhanko_validate(pdf, &ca);
            assert!(ok && said.matches("The signature is judged VALID").count() == signatures, "{producer}: {said}");
            let (valid, said) = pdfsig(pdf);
            assert!(valid >= signatures, "{producer}: {said}");
            assert!(qpdf_check(pdf).status.success(), "{producer}");
            // esign's own checks: each signature and each document time-stamp.
            let verified = esign(&["verify", s(pdf), "--trust", s(&ca)]);
            let said = text(&verified.stdout);
            assert!(verified.status.success(), "{producer}: {said}");
            assert_eq!(said.matches(": chain: trusted at genTime").count(), signatures, "{producer}: {said}");
            assert_eq!(said.matches("time-stamp: covers the byte ranges").count(), signatures, "{producer}: {said}");
        }
        // Without the evidence and the document time-stamp, the same validator gives up once the
        // certificate has expired (what the issue measured).
        let (ok, said) = adesverify(bt);
        assert!(!ok && said.contains("The signature is judged INVALID"), "{producer}: B-T after expiry: {said}");
    }
}

#[test]
fn a_large_stream_is_never_copied_and_the_bytes_are_put_back() {
    use esignd::client::pdf::{PrepareOptions, load_structure_in_place, prepare, range_digest};
    let mut pdf = common::pdf::one_page(&vec![b'x'; 200_000]);
    let before = pdf.clone();
    let document = load_structure_in_place(&mut pdf).unwrap();
    assert_eq!(pdf, before, "every byte is as it was");
    let content = document.get_object((4, 0)).unwrap().as_stream().unwrap();
    assert!(content.content.len() <= 1, "the stream body was not kept");
    assert_eq!(document.get_pages().len(), 1);
    // A small stream is parsed as usual, and prepare works on both.
    let mut out = Vec::new();
    prepare(&mut common::pdf::minimal_pdf(), &PrepareOptions::default(), &mut out).unwrap();
    let mut out = Vec::new();
    let prepared = prepare(&mut pdf, &PrepareOptions::default(), &mut out).unwrap();
    assert!(out.starts_with(&before));
    assert_eq!(range_digest(&out, prepared.byte_range, prepared.hash), prepared.digest);
}

#[test]
fn byte_ranges_from_a_hostile_file_are_refused_not_trusted() {
    use esignd::client::pdf::{PdfError, placeholder};
    let max = usize::MAX;
    for range in [format!("[0 {max} {max} 5]"), format!("[0 10 {max} 2]"), "[0 5 3 1]".into(), "[0 1 2]".into()] {
        let pdf = format!("%PDF-1.7\n/ByteRange {range} /Contents <0000>\n");
        assert_eq!(placeholder(pdf.as_bytes()), Err(PdfError::NoPlaceholder), "{range}");
    }
    let mut signed = common::pdf::minimal_pdf();
    signed.extend_from_slice(
        format!("9 0 obj\n<</Type /Sig /ByteRange [0 {max} {max} 7] /Contents <3000>>>\nendobj\n").as_bytes(),
    );
    let checks = esignd::client::verify::pdf(&signed, &[]);
    assert!(!esignd::client::verify::all_passed(&checks), "{checks:?}");
}
