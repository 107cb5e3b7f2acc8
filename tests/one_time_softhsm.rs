//! Oracle tests of one-time signatures made on SoftHSM by `esignctl selftest` and of the
//! built-in TSA served by `esignd`: openssl is the judge.

mod common;

use std::path::Path;

use common::{TokenDir, oracle, text};

/// Run `esignctl selftest` into `out`, with extra environment.
fn selftest(token: &TokenDir, out: &Path, env: &[(&str, &str)], extra: &[&str]) -> String {
    let mut args = vec!["selftest", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = token
        .command(env!("CARGO_BIN_EXE_esignctl"))
        .arg("--config")
        .arg(token.config())
        .args(&args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(output.status.success(), "selftest failed:\n{}{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

#[test]
fn selftest_signatures_pass_openssl() {
    let token = TokenDir::new();
    let out = token.path("selftest");
    let summary = selftest(&token, &out, &[], &[]);
    assert!(summary.starts_with("selftest OK: Cades B-T"), "{summary}");
    let p = |name: &str| out.join(name);
    let tst = std::fs::read(p("timestamp.tst")).unwrap();
    let at = oracle::gen_time(&tst);

    // The CMS verifies over the document with the chain, and not over a changed document.
    oracle::assert_ok(
        &oracle::cms_verify(&out, &p("signature.p7s"), &p("document.bin"), &p("chain.pem"), at),
        "openssl cms -verify",
    );
    let mut document = std::fs::read(p("document.bin")).unwrap();
    document[0] ^= 1;
    std::fs::write(p("changed.bin"), document).unwrap();
    let refused = oracle::cms_verify(&out, &p("signature.p7s"), &p("changed.bin"), &p("chain.pem"), at);
    assert!(!refused.status.success(), "a changed byte must break the signature");

    // The token in the file is the one in the signature, over the signature value, and
    // openssl ts -verify accepts it with the chain.
    let p7s = std::fs::read(p("signature.p7s")).unwrap();
    std::fs::write(p("signature-value.bin"), oracle::signature_value(&p7s)).unwrap();
    oracle::assert_ok(
        &oracle::ts_verify(&p("timestamp.tst"), &p("signature-value.bin"), &p("chain.pem")),
        "openssl ts -verify",
    );
    let printed = text(
        &common::openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", p("signature.p7s").to_str().unwrap()])
            .stdout,
    );
    for attribute in [
        "contentType",
        "messageDigest",
        "signingTime",
        "id-smime-aa-signingCertificateV2",
        "id-smime-aa-timeStampToken",
    ] {
        assert!(printed.contains(attribute), "{attribute} missing from the CMS:\n{printed}");
    }

    // The leaf has the one-time profile.
    let leaf = oracle::x509_text(&p("leaf.pem"));
    for expected in [
        "X509v3 Key Usage: critical",
        "Digital Signature, Non Repudiation",
        "X509v3 Basic Constraints: critical",
        "CA:FALSE",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "CA Issuers - URI:http://127.0.0.1:0/v1/ca",
        "0.4.0.194121.2.1",
        "X509v3 No Revocation Available",
        "serialNumber = SELFTEST-",
    ] {
        assert!(leaf.contains(expected), "{expected} missing from the leaf:\n{leaf}");
    }
    assert!(!leaf.contains("OCSP No Check"), "{leaf}");
    let dates = text(
        &common::openssl(["x509", "-noout", "-startdate", "-enddate", "-in", p("leaf.pem").to_str().unwrap()]).stdout,
    );
    let parse = |key: &str| {
        let line = dates.lines().find_map(|l| l.strip_prefix(key)).unwrap().to_owned();
        let out = std::process::Command::new("date").args(["-u", "-d", &line, "+%s"]).output().unwrap();
        text(&out.stdout).trim().parse::<i64>().unwrap()
    };
    assert_eq!(parse("notAfter=") - parse("notBefore="), 65, "60 s validity plus 5 s skew:\n{dates}");
}

#[test]
fn pades_signatures_have_no_signing_time_and_verify() {
    let token = TokenDir::new();
    let out = token.path("pades");
    let summary = selftest(&token, &out, &[], &["--pades"]);
    assert!(summary.starts_with("selftest OK: Pades B-T"), "{summary}");
    let p = |name: &str| out.join(name);
    let at = oracle::gen_time(&std::fs::read(p("timestamp.tst")).unwrap());
    oracle::assert_ok(
        &oracle::cms_verify(&out, &p("signature.p7s"), &p("document.bin"), &p("chain.pem"), at),
        "openssl cms -verify",
    );
    let printed = text(
        &common::openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", p("signature.p7s").to_str().unwrap()])
            .stdout,
    );
    assert!(!printed.contains("signingTime") && printed.contains("messageDigest"), "{printed}");
}

#[test]
fn every_ephemeral_key_algorithm_makes_verifiable_signatures() {
    let token = TokenDir::new();
    for algorithm in ["p384", "rsa2048", "rsa3072"] {
        let out = token.path(algorithm);
        selftest(&token, &out, &[("ESIGND__HSM__EPHEMERAL_KEY", algorithm)], &[]);
        let p = |name: &str| out.join(name);
        let at = oracle::gen_time(&std::fs::read(p("timestamp.tst")).unwrap());
        oracle::assert_ok(
            &oracle::cms_verify(&out, &p("signature.p7s"), &p("document.bin"), &p("chain.pem"), at),
            algorithm,
        );
        let leaf = oracle::x509_text(&p("leaf.pem"));
        let expected =
            if algorithm == "p384" { "NIST CURVE: P-384" } else { &format!("Public-Key: ({} bit)", &algorithm[3..]) };
        assert!(leaf.contains(expected), "{algorithm}: {leaf}");
    }
}

#[test]
fn sha384_and_sha512_documents_verify_and_unknown_hashes_are_refused() {
    let token = TokenDir::new();
    for hash in ["SHA2-384", "SHA2-512"] {
        let out = token.path(hash);
        selftest(&token, &out, &[], &["--hash", hash]);
        let p = |name: &str| out.join(name);
        let at = oracle::gen_time(&std::fs::read(p("timestamp.tst")).unwrap());
        oracle::assert_ok(
            &oracle::cms_verify(&out, &p("signature.p7s"), &p("document.bin"), &p("chain.pem"), at),
            hash,
        );
    }
    let refused = token.esignctl(&["selftest", "--out", token.path("sha3").to_str().unwrap(), "--hash", "SHA3-256"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("unsupported hash algorithm 'SHA3-256'"), "{}", text(&refused.stderr));
    assert!(!token.path("sha3").exists(), "refused before anything was made");
}

#[test]
fn a_selftest_with_an_unreachable_tsa_fails_clearly() {
    let token = TokenDir::new();
    std::fs::write(token.path("trust.pem"), text(&token.esignctl(&["ca", "show"]).stdout)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/tsa");
    let output = token
        .command(env!("CARGO_BIN_EXE_esignctl"))
        .arg("--config")
        .arg(token.config())
        .args(["selftest", "--out", token.path("nothing").to_str().unwrap()])
        .envs([
            ("ESIGND__TSA__MODE", "external"),
            ("ESIGND__TSA__URLS", url.as_str()),
            ("ESIGND__TSA__TRUST", token.path("trust.pem").to_str().unwrap()),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = text(&output.stderr);
    assert!(err.contains("no TSA gave a valid time-stamp") && err.contains(&url), "{err}");
    assert!(!token.path("nothing").join("signature.p7s").exists(), "no signature is written");
    let objects = text(&token.pkcs11_tool(&["--list-objects"]).stdout);
    assert_eq!(objects.matches(" Object;").count(), 11, "no key left behind:\n{objects}");
}
