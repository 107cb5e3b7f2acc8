#!/usr/bin/env bash
# The whole esignd test suite, as CI runs it (.ci/run calls this).
#
# On a fresh Debian machine with Rust it first installs what the tests use when it is missing:
# SoftHSM2 (the PKCS#11 token), OpenSC's pkcs11-tool and openssl (the independent judges), and
# procps (kill, to send SIGTERM to the daemon under test). Then: formatting and lint checks
# when rustfmt/clippy are installed, and every test — unit, in-memory key store, SoftHSM,
# process-level tests of esignd and esignctl, and a short run of the HSM benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -f /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || missing+=(procps)
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

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --locked --all-targets -- -D warnings
fi
cargo test --locked --all-targets
cargo test --locked --doc
