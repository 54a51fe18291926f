#!/usr/bin/env bash
# Berth's whole test suite, as CI runs it (.ci/run calls this script):
#   1. installs what the tests drive (skopeo, …) with apt if missing,
#   2. checks formatting, the module layering (scripts/import-graph.py) and lints (cargo fmt,
#      clippy with warnings as errors),
#   3. runs unit tests and every black-box test binary: protocol (raw HTTP against the real
#      server), durability (kill -9 mid-push), clients (Docker Engine, skopeo, oci-client).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

echo "==> installing test dependencies"
scripts/install-test-deps.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> import graph: no circles, no upward imports (scripts/import-graph.py)"
python3 scripts/import-graph.py

echo "==> cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

echo "==> cargo test"
cargo test --locked
