//! The README's recipes run as written: every ```sh block after a `<!-- tested: NAME -->` line,
//! in order, with bash (`-euo pipefail`), in one directory, against esignd as an operator starts
//! it (SoftHSM, the demo profile's mock provider for the citizen's token, eservice-a registered
//! with a webhook). Between the blocks the test plays the citizen (`tests/oidc/sign.mjs`,
//! through the mock provider) and hands over the webhook esignd POSTed.

mod common;

use std::path::Path;
use std::process::Command;

use common::daemon::Daemon;
use common::eservices::{CALLBACK, Webhooks, clients_toml};
use common::{TokenDir, http_get, text};

/// The tested blocks of the README: (name, script).
fn recipes() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut recipes = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("<!-- tested: ").and_then(|rest| rest.strip_suffix(" -->")) else {
            continue;
        };
        assert_eq!(lines.next(), Some("```sh"), "a tested block ({name}) is a ```sh block right after its mark");
        let script: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        recipes.push((name.to_owned(), script.join("\n")));
    }
    recipes
}

#[test]
fn the_readmes_recipes_work_as_written() {
    let recipes = recipes();
    let names: Vec<&str> = recipes.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["onetime", "session-create", "session-redeem", "webhook", "pdf"]);

    let hooks = Webhooks::start(0);
    let token = TokenDir::new();
    let config = std::fs::read_to_string(token.config()).unwrap()
        + "\n[identity]\nmode = \"mock\"\n"
        + &clients_toml(hooks.url());
    std::fs::write(token.config(), config).unwrap();
    let mut daemon = Daemon::start(&token);
    let addr = daemon.listening_on();
    let (status, citizen) = http_get(addr, "/demo/id-token?name=Jane+Doe&sub=jane&for=signing");
    assert_eq!(status, 200);
    let work = token.path("integrator");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("permit.pdf"), common::pdf::minimal_pdf()).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_esign")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let run = |name: &str, script: &str| {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(&work)
            .env("ESIGND", format!("http://{addr}"))
            .env("CITIZEN_TOKEN", citizen.trim())
            .env("APIKEY", "key-a")
            .env("CLIENT_ID", "eservice-a")
            .env("CALLBACK", CALLBACK)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(out.status.success(), "README recipe {name}:\n{}\n{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };

    for (name, script) in &recipes {
        let said = run(name, script);
        match name.as_str() {
            "onetime" | "session-redeem" => assert!(said.contains("ok    signature: chain"), "{name}: {said}"),
            "session-create" => {
                // The citizen signs at the page the recipe printed.
                let page = said.trim();
                assert!(page.starts_with(&format!("http://{addr}/sign/interactive?token=")), "{page}");
                let walked = common::node("tests/oidc", &["sign.mjs", page, CALLBACK, "Jane Doe", "start"]);
                let landed =
                    serde_json::from_str::<serde_json::Value>(&walked).unwrap()["url"].as_str().unwrap().to_owned();
                assert!(landed.contains("signatureId="), "{landed}");
                let delivered = hooks.wait_for(1);
                std::fs::write(work.join("webhook.jws"), &delivered[0]).unwrap();
            }
            "webhook" => assert_eq!(said.trim(), "true", "{said}"),
            "pdf" => assert!(said.contains("document time-stamp") && !said.contains("FAIL"), "{said}"),
            _ => unreachable!(),
        }
    }
    drop(daemon);
}
