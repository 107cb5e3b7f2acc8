//! Independent judges of esignd's signatures: `openssl cms -verify`, `openssl ts -verify`,
//! `openssl x509`, and the `rasn` decoder (a different ASN.1 stack than esignd's `der`).

use std::path::Path;
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{openssl, text};

/// The SignerInfo's signature value, read with rasn-cms.
pub fn signature_value(p7s: &[u8]) -> Vec<u8> {
    let content_info: rasn_cms::ContentInfo = rasn::der::decode(p7s).expect("rasn decodes the ContentInfo");
    let signed_data: rasn_cms::SignedData =
        rasn::der::decode(content_info.content.as_bytes()).expect("rasn decodes the SignedData");
    let signers: Vec<_> = signed_data.signer_infos.to_vec();
    assert_eq!(signers.len(), 1);
    signers[0].signature.to_vec()
}

/// The TSTInfo of a token, read with rasn-cms.
pub fn tst_info(token: &[u8]) -> rasn_cms::tsp::TstInfo {
    let content_info: rasn_cms::ContentInfo = rasn::der::decode(token).expect("rasn decodes the token");
    let signed_data: rasn_cms::SignedData = rasn::der::decode(content_info.content.as_bytes()).unwrap();
    let content = signed_data.encap_content_info.content.expect("an encapsulated TSTInfo");
    rasn::der::decode(&content).expect("rasn decodes the TSTInfo")
}

/// The genTime of a token, read with rasn-cms.
pub fn gen_time(token: &[u8]) -> SystemTime {
    let gen_time = tst_info(token).gen_time;
    UNIX_EPOCH + std::time::Duration::from_millis(gen_time.timestamp_millis() as u64)
}

/// `openssl cms -verify` of a detached DER signature, at `at` (one-time certificates expire
/// within a minute; verify as of the time the signature was made).
pub fn cms_verify(dir: &Path, p7s: &Path, document: &Path, chain: &Path, at: SystemTime) -> Output {
    cms_verify_with(dir, p7s, document, chain, at, &[])
}

/// As [`cms_verify`], with more of openssl's verification options (`-crl_check`).
pub fn cms_verify_with(
    dir: &Path,
    p7s: &Path,
    document: &Path,
    chain: &Path,
    at: SystemTime,
    options: &[&str],
) -> Output {
    let attime = at.duration_since(UNIX_EPOCH).unwrap().as_secs().to_string();
    let mut args = vec!["cms", "-verify", "-binary", "-inform", "DER", "-in", p7s.to_str().unwrap()];
    args.extend(["-content", document.to_str().unwrap(), "-CAfile", chain.to_str().unwrap(), "-purpose", "any"]);
    args.extend_from_slice(options);
    let out = dir.join("verified.out");
    args.extend(["-attime", &attime, "-out", out.to_str().unwrap()]);
    openssl(args)
}

/// The response's `validationData` is all a validator needs once the certificate has expired:
/// `openssl cms -verify` at the time-stamp's genTime trusting only its certificates, with
/// revocation checked against its CRLs (`-crl_check`), accepts the signature.
pub fn validation_data(dir: &Path, response: &serde_json::Value, token: &[u8]) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let data = &response["validationData"];
    let list = |name: &str| -> Vec<Vec<u8>> {
        let items = data[name].as_array().unwrap_or_else(|| panic!("no validationData.{name} in {response}"));
        items.iter().map(|item| STANDARD.decode(item.as_str().unwrap()).unwrap()).collect()
    };
    let (certificates, crls) = (list("certificates"), list("crls"));
    assert!(!certificates.is_empty() && !crls.is_empty(), "validationData carries a chain and a CRL: {data}");
    let pem = |der: &[u8], kind: &str, out: &str| {
        std::fs::write(dir.join("evidence.der"), der).unwrap();
        let file = dir.join(out);
        let out = openssl([kind, "-inform", "DER", "-in", dir.join("evidence.der").to_str().unwrap()]);
        assert_ok(&out, "openssl reads the evidence");
        let mut all = std::fs::read(&file).unwrap_or_default();
        all.extend_from_slice(&out.stdout);
        std::fs::write(file, all).unwrap();
    };
    let _ = std::fs::remove_file(dir.join("evidence-chain.pem"));
    for certificate in &certificates {
        pem(certificate, "x509", "evidence-chain.pem");
    }
    let verify = || {
        let p = |f: &str| dir.join(f);
        let chain = p("evidence-chain.pem");
        cms_verify_with(dir, &p("signature.p7s"), &p("document.bin"), &chain, gen_time(token), &["-crl_check"])
    };
    // Without the CRL the revocation check fails: the CRL is what makes it pass.
    let without = verify();
    assert!(!without.status.success(), "-crl_check passed without a CRL");
    assert!(text(&without.stderr).contains("unable to get certificate CRL"), "{}", text(&without.stderr));
    // `openssl cms` has no -CRLfile: CRLs in the CA file are read as well.
    for crl in &crls {
        pem(crl, "crl", "evidence-chain.pem");
    }
    let out = verify();
    assert_ok(&out, "openssl cms -verify -crl_check with the response's validationData");
}

/// `openssl ts -verify` of a token over `data`, trusting `ca_file`.
pub fn ts_verify(token: &Path, data: &Path, ca_file: &Path) -> Output {
    openssl([
        "ts",
        "-verify",
        "-token_in",
        "-in",
        token.to_str().unwrap(),
        "-data",
        data.to_str().unwrap(),
        "-CAfile",
        ca_file.to_str().unwrap(),
    ])
}

/// `openssl x509 -text` of a PEM file.
pub fn x509_text(pem: &Path) -> String {
    let out = openssl(["x509", "-noout", "-text", "-in", pem.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Assert a command succeeded, showing its output otherwise.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed:\n{}{}", text(&out.stdout), text(&out.stderr));
}

/// Judge a GovStack SignResponse over `document`: write its parts into `dir` (`document.bin`,
/// `signature.p7s`, `leaf.pem`, `timestamp.tst`, `chain.pem` = `chain_pem`), check the CMS with
/// `openssl cms -verify` as of the time-stamp's genTime, and return the signer's subject
/// (`openssl x509 -subject`, RFC 2253).
pub fn sign_response(dir: &Path, response: &serde_json::Value, document: &[u8], chain_pem: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let field = |name: &str| response[name].as_str().unwrap_or_else(|| panic!("no {name} in {response}"));
    std::fs::create_dir_all(dir).unwrap();
    let p = |f: &str| dir.join(f);
    std::fs::write(p("document.bin"), document).unwrap();
    std::fs::write(p("signature.p7s"), STANDARD.decode(field("signature")).unwrap()).unwrap();
    std::fs::write(p("leaf.pem"), field("certificate")).unwrap();
    let token = STANDARD.decode(field("signatureTimestamp")).unwrap();
    std::fs::write(p("timestamp.tst"), &token).unwrap();
    std::fs::write(p("chain.pem"), chain_pem).unwrap();
    assert_ok(
        &cms_verify(dir, &p("signature.p7s"), &p("document.bin"), &p("chain.pem"), gen_time(&token)),
        "openssl cms -verify",
    );
    validation_data(dir, response, &token);
    let subject =
        openssl(["x509", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb", "-in", p("leaf.pem").to_str().unwrap()]);
    text(&subject.stdout).trim().to_owned()
}
