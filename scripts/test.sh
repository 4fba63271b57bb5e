#!/usr/bin/env bash
# The project's one test command (README "Quick start"; .ci/run calls exactly this).
# Installs what the tests need on a fresh machine (a Python venv with moto/awscli,
# kubectl, headless Chromium), then runs formatting, lints, every test of the workspace and
# the deployment checks (scripts/check-deploy.sh installs its own tools).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
PATH="$(scripts/python-env.sh):$PATH"
export PATH
scripts/ensure-kubectl.sh
scripts/ensure-chromium.sh

echo "== fuzz/Cargo.lock at the product's versions"
scripts/check-fuzz-lock.sh
echo "== cargo deny (licenses, bans, sources; advisories when the database is on disk)"
# cargo-deny from crates.io, installed once into ~/.cargo/bin (pinned; ~8 min to build on 2
# cores the first time). The dependency graph is fetched from crates.io first, so cargo-deny's
# own `cargo metadata` runs offline. Advisories need the RustSec database (a git clone from
# GitHub): EKS_IAM_SYNC_DENY_ADVISORIES=fetch (CI) fetches it; otherwise they are checked only
# when a fetched copy is already on disk, and the line says when they are not.
cargo_deny_version=0.20.2
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $cargo_deny_version" ]; then
  cargo install --quiet --locked --version "$cargo_deny_version" cargo-deny
fi
cargo fetch --locked --quiet
deny_checks=(licenses bans sources)
if [ "${EKS_IAM_SYNC_DENY_ADVISORIES:-}" = fetch ]; then
  cargo deny fetch db
fi
if [ -d "${CARGO_HOME:-$HOME/.cargo}/advisory-dbs" ]; then
  deny_checks+=(advisories)
else
  echo "-- advisories: not checked (no advisory database on disk; EKS_IAM_SYNC_DENY_ADVISORIES=fetch fetches it)"
fi
cargo deny --offline check "${deny_checks[@]}"
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo doc (no broken intra-doc links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== deployment checks (templates, Terraform, Lambda package)"
scripts/check-deploy.sh
echo "== cargo build (eks-sim, profile ci: integration tests start it)"
# The ci profile (Cargo.toml): optimised without the release profile's fat LTO, quick to build.
cargo build --quiet --profile ci -p eks-sim
export EKS_SIM_BIN="$CARGO_TARGET_DIR/ci/eks-sim"
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Libraries, binaries and integration tests (no doc tests: the crates have none).
cargo test --workspace --lib --bins --tests --quiet 2>&1 | tee "$log"
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
