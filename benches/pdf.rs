//! `esign pdf prepare` and `esign pdf embed` against the size of the PDF, beside `sha256sum`
//! on the same file: both must be linear in the bytes hashed, and neither may hold more than
//! one copy of the file in memory (peak RSS from `/usr/bin/time`).
//!
//! The PDF is one page whose content stream is N pseudo-random bytes (as an embedded file or
//! an image would be): what makes real PDFs large. The signature embedded is made by openssl over the prepared
//! ranges, so no daemon is needed.
//!
//!     cargo bench --bench pdf              # 1, 10 and 100 MB, best of 3 each
//!     cargo bench --bench pdf -- --quick   # 1 and 10 MB, once
//!
//! Under `cargo test` (no `--bench` argument) it makes one 1 MB run, so CI keeps it working.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[path = "../tests/common/pdf.rs"]
#[allow(dead_code)] // minimal_pdf serves the tests
mod test_pdf;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = std::env::args().any(|a| a == "--quick");
    let (sizes, rounds): (&[usize], usize) = match (benching, quick) {
        (false, _) => (&[1], 1),
        (true, true) => (&[1, 10], 1),
        (true, false) => (&[1, 10, 100], 3),
    };
    let dir = tempfile::tempdir().unwrap();
    let (key, certificate) = signer(dir.path());
    println!("esign pdf prepare / embed vs sha256sum on the same file (best of {rounds}; MB = 10^6 bytes)");
    println!(
        "{:>7}  {:>14}  {:>14}  {:>12}  {:>14}  {:>12}",
        "size", "sha256sum MB/s", "prepare MB/s", "prepare RSS", "embed MB/s", "embed RSS"
    );
    for &megabytes in sizes {
        let input = dir.path().join(format!("in-{megabytes}.pdf"));
        std::fs::write(&input, pdf_of(megabytes * 1_000_000)).unwrap();
        let bytes = std::fs::metadata(&input).unwrap().len() as f64;
        let mut best = [f64::MAX; 3];
        let mut rss = [0u64; 2];
        for _ in 0..rounds {
            let (hash_secs, _) = timed(Command::new("sha256sum").arg(&input));
            let prepared = dir.path().join("prepared.pdf");
            let (prepare_secs, prepare_rss) = timed(
                Command::new(env!("CARGO_BIN_EXE_esign"))
                    .args(["pdf", "prepare"])
                    .arg(&input)
                    .arg("--out")
                    .arg(&prepared),
            );
            let response = sign_ranges(dir.path(), &prepared, &key, &certificate);
            let signed = dir.path().join("signed.pdf");
            let (embed_secs, embed_rss) = timed(
                Command::new(env!("CARGO_BIN_EXE_esign"))
                    .args(["pdf", "embed"])
                    .arg(&prepared)
                    .arg("--response")
                    .arg(&response)
                    .arg("--out")
                    .arg(&signed),
            );
            for (slot, secs) in best.iter_mut().zip([hash_secs, prepare_secs, embed_secs]) {
                *slot = slot.min(secs);
            }
            rss = [rss[0].max(prepare_rss), rss[1].max(embed_rss)];
        }
        let rate = |secs: f64| bytes / 1e6 / secs.max(1e-6);
        println!(
            "{:>5}MB  {:>14.0}  {:>14.0}  {:>9.1} MB  {:>14.0}  {:>9.1} MB",
            megabytes,
            rate(best[0]),
            rate(best[1]),
            rss[0] as f64 / 1000.0,
            rate(best[2]),
            rss[1] as f64 / 1000.0
        );
    }
}

/// Run `command` under `/usr/bin/time`: wall seconds and peak RSS in kB.
fn timed(command: &mut Command) -> (f64, u64) {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let started = Instant::now();
    let out = Command::new("/usr/bin/time").arg("-f").arg("%M").arg(program).args(args).output().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    (secs, rss)
}

/// A one-page PDF whose content stream is `size` pseudo-random bytes.
fn pdf_of(size: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    test_pdf::one_page(&data)
}

/// An openssl signing key and certificate in `dir`.
fn signer(dir: &Path) -> (String, String) {
    let (key, certificate) = (dir.join("key.pem"), dir.join("cert.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=bench"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .unwrap();
    assert!(out.status.success());
    (key.to_str().unwrap().to_owned(), certificate.to_str().unwrap().to_owned())
}

/// A SignResponse whose CMS openssl made over `prepared`'s signed ranges.
fn sign_ranges(dir: &Path, prepared: &Path, key: &str, certificate: &str) -> std::path::PathBuf {
    use base64::Engine as _;
    let bytes = std::fs::read(prepared).unwrap();
    let range = esignd::client::pdf::placeholder(&bytes).unwrap();
    let ranges = dir.join("ranges.bin");
    std::fs::write(&ranges, [&bytes[..range[1]], &bytes[range[2]..]].concat()).unwrap();
    drop(bytes);
    let p7s = dir.join("ranges.p7s");
    let out = Command::new("openssl")
        .args(["cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER", "-signer", certificate, "-inkey", key])
        .arg("-in")
        .arg(&ranges)
        .arg("-out")
        .arg(&p7s)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let response = dir.join("response.json");
    let signature = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&p7s).unwrap());
    std::fs::write(&response, serde_json::json!({ "signature": signature }).to_string()).unwrap();
    response
}
