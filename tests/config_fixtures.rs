//! Every configuration in fixtures/configs gets the answer its header promises from
//! `esignd --check-config`, and the annotated example in systemd/ always validates.

mod common;

use std::path::Path;
use std::process::Command;

use common::text;

fn check_config(file: &Path, env: &[(&str, &std::ffi::OsStr)]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_esignd"))
        .arg("--config")
        .arg(file)
        .arg("--check-config")
        .env("ESIGND__HSM__MODULE", common::module())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.code(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

#[test]
fn every_fixture_gets_the_answer_it_expects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        let header = |key: &str| body.lines().find_map(|l| l.strip_prefix(&format!("# {key}: ")).map(str::to_owned));
        let exit: i32 = header("expect-exit").expect("each fixture declares its exit code").parse().unwrap();
        let (code, output) = check_config(&path, &[]);
        assert_eq!(code, Some(exit), "{}: {output}", path.display());
        if let Some(message) = header("expect-message") {
            assert!(output.contains(&message), "{}: expected {message:?} in {output}", path.display());
        }
        assert!(!output.contains("123456"), "a PIN never appears in output: {output}");
        checked += 1;
    }
    assert!(checked >= 10, "found only {checked} fixtures");
}

#[test]
fn the_annotated_example_validates() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/esignd.example.toml");
    let pin = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/dev-pin");
    // The example points hsm.pin_file at the systemd credential; stand in for systemd.
    let (code, output) = check_config(&example, &[("ESIGND__HSM__PIN_FILE", pin.as_os_str())]);
    assert_eq!(code, Some(0), "{output}");
}
