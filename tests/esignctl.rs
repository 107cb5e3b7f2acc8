//! esignctl as a security officer runs it, on tokens made by softhsm/make-token, with openssl
//! and pkcs11-tool as the judges.

mod common;

use common::{TokenDir, openssl, openssl_root, text};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Append the TOML `table` to the token's configuration.
fn append_config(token: &TokenDir, table: &str) {
    let config = std::fs::read_to_string(token.config()).unwrap();
    std::fs::write(token.config(), format!("{config}\n{table}\n")).unwrap();
}

/// Start the daemon on the token's configuration, which must refuse to start; what it said.
fn daemon_refuses(token: &TokenDir) -> String {
    let daemon = token.command(env!("CARGO_BIN_EXE_esignd")).arg("--config").arg(token.config()).output().unwrap();
    let said = text(&daemon.stderr) + &text(&daemon.stdout);
    assert!(!daemon.status.success(), "the daemon started: {said}");
    said
}

#[test]
fn provision_dev_makes_a_chain_openssl_accepts_and_a_second_run_changes_nothing() {
    let token = TokenDir::new(); // runs token init + provision --dev
    let chain = ok(&token.esignctl(&["ca", "show"]));
    std::fs::write(token.path("chain.pem"), &chain).unwrap();
    let p = |name: &str| token.path(name).to_str().unwrap().to_owned();

    // The CA certificate verifies as a self-signed root.
    let out = openssl(["verify", "-CAfile", &p("chain.pem"), &p("chain.pem")]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The TSA certificate, read off the token by pkcs11-tool, chains to it with the
    // timestamping purpose, and its EKU is critical and only timeStamping.
    let out = token.pkcs11_tool(&[
        "--read-object",
        "--type",
        "cert",
        "--label",
        "esignd-tsa",
        "--output-file",
        &p("tsa.der"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = openssl(["x509", "-inform", "DER", "-in", &p("tsa.der"), "-out", &p("tsa.pem")]);
    assert!(out.status.success());
    let out = openssl(["verify", "-purpose", "timestampsign", "-CAfile", &p("chain.pem"), &p("tsa.pem")]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let dump = text(&openssl(["x509", "-noout", "-text", "-in", &p("tsa.pem")]).stdout);
    let eku = dump.split("X509v3 Extended Key Usage:").nth(1).expect("an EKU");
    assert!(eku.starts_with(" critical"), "{dump}");
    assert_eq!(eku.lines().nth(1).unwrap().trim(), "Time Stamping", "{dump}");

    // Second run: nothing created, same CA.
    let again = ok(&token.esignctl(&["provision", "--dev"]));
    assert!(!again.contains("created"), "{again}");
    assert_eq!(again.matches("present").count(), 5, "{again}");

    // The audit subject key is a secret key pkcs11-tool sees as such: sensitive, never
    // extractable, HMAC only; key list names it without a fingerprint.
    let objects = text(&token.pkcs11_tool(&["--list-objects", "--type", "secrkey"]).stdout);
    let secret = objects.split("Secret Key Object").find(|o| o.contains("esignd-audit-subject")).expect("listed");
    assert!(secret.contains("sensitive") && secret.contains("never extractable"), "{objects}");
    assert!(!secret.contains("encrypt") && !secret.contains("decrypt"), "{objects}");
    let list = ok(&token.esignctl(&["key", "list"]));
    assert!(list.lines().any(|l| l.starts_with("esignd-audit-subject") && l.contains("hmac")), "{list}");
    assert!(list.lines().any(|l| l.starts_with("esignd-audit ")), "{list}");
    assert_eq!(ok(&token.esignctl(&["ca", "show"])), chain, "the CA is unchanged");
}

#[test]
fn create_root_on_a_token_with_a_ca_is_refused() {
    let token = TokenDir::new();
    let before = ok(&token.esignctl(&["ca", "show"]));
    let out = token.esignctl(&["ca", "create-root", "--subject", "CN=Usurper,O=Nobody,C=EE", "--days", "30"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already exists") && text(&out.stderr).contains("esignd-ca"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(ok(&token.esignctl(&["ca", "show"])), before);
}

#[test]
fn keys_are_generated_listed_and_destroyed_by_label() {
    let token = TokenDir::new();
    let made = ok(&token.esignctl(&["key", "generate", "--label", "audit-checkpoints", "--alg", "p384"]));
    assert!(made.contains("p384") && made.contains("audit-checkpoints"), "{made}");
    let list = ok(&token.esignctl(&["key", "list"]));
    let line = list.lines().find(|l| l.starts_with("audit-checkpoints")).expect("listed");
    let fingerprint = line.split_whitespace().last().unwrap();
    assert_eq!(fingerprint.len(), 64, "{line}");
    assert!(made.contains(fingerprint), "generate and list agree on the key: {made} / {line}");
    assert!(!list.contains(&token.pin()), "no secret in the listing");

    let again = token.esignctl(&["key", "generate", "--label", "audit-checkpoints"]);
    assert!(!again.status.success() && text(&again.stderr).contains("already exists"));

    let unconfirmed = token.esignctl(&["key", "destroy", "--label", "audit-checkpoints"]);
    assert_eq!(unconfirmed.status.code(), Some(64));
    assert!(text(&unconfirmed.stderr).contains("--yes"));
    ok(&token.esignctl(&["key", "destroy", "--label", "audit-checkpoints", "--yes"]));
    let list = ok(&token.esignctl(&["key", "list"]));
    assert!(!list.contains("audit-checkpoints"), "{list}");
    let objects = text(&token.pkcs11_tool(&["--list-objects"]).stdout);
    assert!(!objects.contains("audit-checkpoints"), "pkcs11-tool agrees: {objects}");
}

#[test]
fn token_list_needs_no_pin() {
    let token = TokenDir::new();
    std::fs::remove_file(token.path("pin")).unwrap();
    let list = ok(&token.esignctl(&["token", "list"]));
    assert!(list.lines().any(|l| l.split_whitespace().nth(1) == Some("esignd")), "{list}");
    assert!(list.contains("initialized"), "{list}");
}

#[test]
fn a_ca_certified_elsewhere_is_imported_after_its_chain_is_checked() {
    let token = TokenDir::new();
    // A token whose CA is to be certified by an outside root: use another CA label.
    append_config(&token, "[hsm.keys]\nca = \"issuing-ca\"\ntsa = \"issuing-tsa\"");
    let csr = token.path("ca.csr");
    ok(&token.esignctl(&[
        "ca",
        "csr",
        "--subject",
        "CN=Issuing CA,O=Example Agency,C=EE",
        "--out",
        csr.to_str().unwrap(),
    ]));
    let out = openssl(["req", "-verify", "-noout", "-in", csr.to_str().unwrap()]);
    assert!(out.status.success(), "openssl accepts the CSR's signature: {}", text(&out.stderr));

    // The outside root, made by openssl, signs the CSR as a CA.
    let p = |name: &str| token.path(name).to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        let out = openssl(args);
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    };
    openssl_root(token.dir.path(), "root", "/C=EE/O=Example Root/CN=Example Root CA", 30);
    std::fs::write(token.path("ext.cnf"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n").unwrap();
    // The root certifies the CSR's key as a CA with the extensions in `extensions`, into `out`.
    let certify = |extensions: &str, out: &str| {
        let args = ["x509", "-req", "-in", &p("ca.csr"), "-CA", &p("root.pem"), "-CAkey", &p("root.key")];
        run(&[&args[..], &["-CAcreateserial", "-days", "20", "-extfile", &p(extensions), "-out", &p(out)]].concat());
    };
    certify("ext.cnf", "issuing.pem");

    // A chain without the certificate for our key is refused and nothing is stored.
    let wrong = token.esignctl(&["ca", "import", "--chain", &p("root.pem")]);
    assert!(
        !wrong.status.success() && text(&wrong.stderr).contains("no certificate in the chain certifies"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!token.esignctl(&["ca", "show"]).status.success());

    // A CA certificate that may not sign CRLs is refused (device certificates name our CRL).
    std::fs::write(
        token.path("nocrl.cnf"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n",
    )
    .unwrap();
    certify("nocrl.cnf", "nocrl.pem");
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(p("root.pem")).unwrap(),
        std::fs::read_to_string(p("nocrl.pem")).unwrap()
    );
    std::fs::write(p("nocrl-bundle.pem"), bundle).unwrap();
    let no_crl = token.esignctl(&["ca", "import", "--chain", &p("nocrl-bundle.pem")]);
    assert!(!no_crl.status.success() && text(&no_crl.stderr).contains("cRLSign"), "{}", text(&no_crl.stderr));
    assert!(!token.esignctl(&["ca", "show"]).status.success(), "nothing was stored");

    // The right chain (in any order) is accepted; the stored chain verifies with openssl.
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(p("root.pem")).unwrap(),
        std::fs::read_to_string(p("issuing.pem")).unwrap()
    );
    std::fs::write(p("bundle.pem"), bundle).unwrap();
    ok(&token.esignctl(&["ca", "import", "--chain", &p("bundle.pem")]));
    let shown = ok(&token.esignctl(&["ca", "show"]));
    std::fs::write(p("shown.pem"), &shown).unwrap();
    run(&["verify", "-CAfile", &p("root.pem"), &p("shown.pem")]);
    assert!(shown.find("BEGIN").unwrap() < shown.rfind("BEGIN").unwrap(), "CA certificate and root both stored");

    // Importing again is refused; the issuing CA can now certify a TSA.
    assert!(!token.esignctl(&["ca", "import", "--chain", &p("bundle.pem")]).status.success());
    // The TSA certificate names the CA's CRL at the public URL, so that its status can be
    // checked once the signatures it stamped are old.
    let provisioned = token
        .command(env!("CARGO_BIN_EXE_esignctl"))
        .env("ESIGND__SERVER__PUBLIC_URL", "https://sign.example.gov")
        .arg("--config")
        .arg(token.config())
        .args(["tsa", "provision", "--subject", "CN=Agency TSA,O=Example Agency,C=EE", "--days", "10"])
        .output()
        .unwrap();
    ok(&provisioned);
    let tsa_der = p("tsa.der");
    let out =
        token.pkcs11_tool(&["--read-object", "--type", "cert", "--label", "issuing-tsa", "--output-file", &tsa_der]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run(&["x509", "-inform", "DER", "-in", &tsa_der, "-out", &p("tsa.pem")]);
    run(&[
        "verify",
        "-purpose",
        "timestampsign",
        "-CAfile",
        &p("root.pem"),
        "-untrusted",
        &p("issuing.pem"),
        &p("tsa.pem"),
    ]);
    let dump = text(&openssl(["x509", "-noout", "-text", "-in", &p("tsa.pem")]).stdout);
    let points = dump.split("X509v3 CRL Distribution Points:").nth(1).expect("a CRL distribution point");
    assert!(points.contains("URI:https://sign.example.gov/v1/crl"), "{dump}");
}

#[test]
fn the_user_pin_is_changed_and_reset_from_files() {
    let token = TokenDir::new();
    let p = |name: &str| token.path(name).to_str().unwrap().to_owned();
    std::fs::write(p("new-pin"), "changed-pin-5678\n").unwrap();
    ok(&token.esignctl(&["token", "pin", "--old-pin-file", &p("pin"), "--new-pin-file", &p("new-pin")]));
    let stale = token.esignctl(&["key", "list"]);
    assert!(text(&stale.stderr).contains("CKR_PIN_INCORRECT"), "the old PIN no longer opens the token");
    std::fs::copy(p("new-pin"), p("pin")).unwrap();
    ok(&token.esignctl(&["key", "list"]));

    // A wrong old PIN is refused with the usual message.
    let refused = token.esignctl(&["token", "pin", "--old-pin-file", &p("so-pin"), "--new-pin-file", &p("new-pin")]);
    assert!(text(&refused.stderr).contains("rejected the user PIN"), "{}", text(&refused.stderr));

    // The security officer resets a forgotten PIN.
    std::fs::write(p("reset-pin"), "reset-pin-0001\n").unwrap();
    ok(&token.esignctl(&["token", "pin", "--reset", "--so-pin-file", &p("so-pin"), "--new-pin-file", &p("reset-pin")]));
    std::fs::copy(p("reset-pin"), p("pin")).unwrap();
    ok(&token.esignctl(&["key", "list"]));
}

#[test]
fn a_key_that_was_ever_outside_the_hsm_is_refused() {
    let token = TokenDir::new();
    // A service key made by openssl and written onto the token, as an operator might "import" one.
    let p = |name: &str| token.path(name).to_str().unwrap().to_owned();
    for args in [
        vec!["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &p("outside.pem")],
        vec!["pkey", "-in", &p("outside.pem"), "-outform", "DER", "-out", &p("outside.der")],
        vec!["pkey", "-in", &p("outside.pem"), "-pubout", "-outform", "DER", "-out", &p("outside-pub.der")],
    ] {
        let out = openssl(&args);
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    }
    for (file, kind) in [("outside.der", "privkey"), ("outside-pub.der", "pubkey")] {
        let out = token.pkcs11_tool(&[
            "--write-object",
            &p(file),
            "--type",
            kind,
            "--label",
            "outside-service",
            "--id",
            "0a0b0c",
            "--usage-sign",
        ]);
        assert!(out.status.success(), "pkcs11-tool {kind}: {}", text(&out.stderr));
    }
    append_config(&token, "[hsm.keys]\nservice = \"outside-service\"");

    // esignctl's check and the daemon both refuse it, naming the key and what is wrong.
    let checked = token.esignctl(&["provision", "--dev"]);
    let said = text(&checked.stderr);
    assert!(!checked.status.success(), "{said}");
    assert!(said.contains("'outside-service' is not protected by the HSM"), "{said}");
    assert!(said.contains("CKA_NEVER_EXTRACTABLE") || said.contains("CKA_ALWAYS_SENSITIVE"), "{said}");
    let said = daemon_refuses(&token);
    assert!(said.contains("'outside-service' is not protected by the HSM"), "{said}");
}

#[test]
fn the_demo_profile_signs_only_under_a_development_ca() {
    let token = TokenDir::new();
    // A production-style CA and TSA beside the development ones, made by the ceremony commands.
    append_config(&token, "[hsm.keys]\nca = \"agency-ca\"\ntsa = \"agency-tsa\"");
    ok(&token.esignctl(&["ca", "create-root", "--subject", "CN=Agency Root CA,O=Example Agency,C=EE", "--days", "30"]));
    ok(&token.esignctl(&["tsa", "provision", "--subject", "CN=Agency TSA,O=Example Agency,C=EE", "--days", "10"]));
    append_config(&token, "[identity]\nmode = \"mock\"");

    // The daemon refuses the demo profile on it (and says how to get a development token).
    let said = daemon_refuses(&token);
    assert!(said.contains("signs only under a development CA"), "{said}");
    assert!(said.contains("'agency-ca'"), "{said}");
}
