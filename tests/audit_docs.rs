//! `docs/audit.md`'s independent verifier (Python, standard library only) runs as written
//! against chains made by esignd's audit module: an untouched export verifies with the same head
//! esignd computes, and an edited, deleted or swapped record is named.

use std::path::Path;
use std::process::Command;

use esignd::audit::chain::{Record, next, verify};
use serde_json::json;

/// The tested Python block of docs/audit.md.
fn verifier() -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit.md")).unwrap();
    let after = doc.split("<!-- tested: verify-export -->\n```python\n").nth(1).expect("the tested block");
    after.split("\n```").next().unwrap().to_owned()
}

fn chain() -> Vec<Record> {
    let mut records: Vec<Record> = Vec::new();
    for i in 1..=6u64 {
        let fields = json!({ "correlationId": format!("permit-{i}"), "subject": "hmac:5f3a", "display": "Réservé « B-12 »\n", "n": i });
        let time = format!("2026-12-01T18:00:{i:02}.000Z");
        records.push(next(records.last(), time, "session.created", fields.as_object().unwrap().clone()).unwrap());
    }
    records
}

/// Run the verifier on `records` written as JSON lines; its exit status and what it said.
fn python_verifies(dir: &Path, name: &str, records: &[Record]) -> (bool, String) {
    let export = dir.join(name);
    let lines: Vec<String> = records.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    std::fs::write(&export, lines.join("\n") + "\n").unwrap();
    let out = Command::new("python3").args(["-c", &verifier()]).arg(&export).output().expect("python3 is installed");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn an_auditor_verifies_an_export_with_the_documented_python() {
    let dir = tempfile::tempdir().unwrap();
    let records = chain();
    let head = verify(None, &records).unwrap().head;
    let (ok, said) = python_verifies(dir.path(), "untouched.jsonl", &records);
    assert!(ok, "{said}");
    assert_eq!(said.trim(), format!("audit OK: 6 records, head {head}"));

    let mut edited = records.clone();
    edited[3].fields.insert("correlationId".into(), json!("forged"));
    let (ok, said) = python_verifies(dir.path(), "edited.jsonl", &edited);
    assert!(!ok && said.contains("audit BROKEN at record 4"), "{said}");

    let mut deleted = records.clone();
    deleted.remove(2);
    let (ok, said) = python_verifies(dir.path(), "deleted.jsonl", &deleted);
    assert!(!ok && said.contains("audit BROKEN at record 4"), "{said}");

    let mut swapped = records;
    swapped.swap(4, 5);
    let (ok, said) = python_verifies(dir.path(), "swapped.jsonl", &swapped);
    assert!(!ok && said.contains("audit BROKEN at record 6"), "{said}");
}
