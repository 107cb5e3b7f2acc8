#!/usr/bin/env bash
# The whole esignd test suite, as CI runs it (.ci/run calls this).
#
# On a fresh Debian machine with Rust it first installs what the tests use when it is missing:
# SoftHSM2 (the PKCS#11 token), OpenSC's pkcs11-tool and openssl (the independent judges),
# procps (kill, to send SIGTERM to the daemon under test), Python's venv for certomancer — a
# third-party RFC 3161 TSA from PyPI, installed into target/certomancer-venv — and for pyHanko
# (target/pyhanko-venv), poppler's pdfsig and qpdf, the PDF judges, and Node.js for
# oidc-provider, the real OpenID provider from npm (tests/oidc), and Debian's Chromium, driven
# headless by playwright-core (tests/browser) through the demo page, and wrk, the HTTP load
# generator of benches/load.rs, and Prometheus' promtool (Debian's prometheus package; its server is
# never started), the judge of /metrics, and PostgreSQL (Debian's postgresql package: the tests run
# initdb and postgres in temporary directories on loopback; no system service is used), and HAProxy
# (Debian's haproxy, started in the foreground in front of two daemons by tests/cluster.rs). Then:
# formatting and lint checks when rustfmt/clippy are installed, and every test — unit,
# in-memory key store, SoftHSM, process-level tests of esignd and esignctl, and short runs of
# the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -f /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || missing+=(procps)
command -v python3 >/dev/null || missing+=(python3)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v pdfsig >/dev/null || missing+=(poppler-utils)
command -v qpdf >/dev/null || missing+=(qpdf)
command -v jq >/dev/null || missing+=(jq)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v curl >/dev/null || missing+=(curl)
command -v promtool >/dev/null || missing+=(prometheus)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v haproxy >/dev/null || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "tests/run.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# In-process SoftHSM tests make their tokens here (see .cargo/config.toml); start clean.
rm -rf target/softhsm-test

# oidc-provider, the real OpenID provider of the identity tests (tests/oidc, package-lock pinned).
(cd tests/oidc && npm ci --no-audit --no-fund --silent)
# playwright-core drives /usr/bin/chromium; it downloads no browser of its own.
(cd tests/browser && npm ci --no-audit --no-fund --silent)

# certomancer, the third-party TSA of tests/certomancer.rs; pinned, rebuilt when missing.
venv=target/certomancer-venv
if [ ! -x "$venv/bin/certomancer" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'certomancer[web-api]==0.16.0'
fi

# pyHanko, the PDF signature judge of tests/pdf.rs (and its ETSI AdES validator); pinned.
venv=target/pyhanko-venv
if [ ! -x "$venv/bin/pyhanko" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyhanko-cli==0.6.0' 'pyHanko==0.38.0'
fi

# A clean CI checkout never rebuilds incrementally: the incremental cache would only cost disk.
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL=0
fi

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --locked --all-targets -- -D warnings
fi
cargo test --locked --all-targets
cargo test --locked --doc
