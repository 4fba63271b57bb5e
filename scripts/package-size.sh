#!/usr/bin/env bash
# The figures of BENCHMARKS.md "Package size" (issue 15), without the local stack:
#   1. the release binary for the host (`cargo build --release --bin eks-iam-sync`): bytes;
#   2. cold start to the first Runtime API `next` (scripts/cold-start.py --ready-only);
#   3. the arm64 Lambda package (`cargo lambda build --release --arm64 --output-format zip`):
#      bootstrap and bootstrap.zip bytes; skipped with a note when cargo-lambda is missing
#      (scripts/check-deploy.sh installs it into ~/.cache/eks-iam-sync/deploy-venv);
#   4. with PACKAGE_SIZE_BLOAT=1: `cargo bloat --crates` of the release binary built with
#      its symbols (profile `release` with strip = false, in a profile dir of its own so the
#      stripped build stays; needs `cargo install cargo-bloat --locked`).
# Every build uses the lean release profile (Cargo.toml): on 2 cores expect ~10 min per
# architecture from cold (fat LTO runs on every link, so a change to this crate costs minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
bin=$CARGO_TARGET_DIR/release/eks-iam-sync

echo "== release binary ($(uname -m))"
cargo build --quiet --release --bin eks-iam-sync
echo "release binary ($(uname -m)): $(stat -c %s "$bin") bytes"

echo "== cold start (release binary under a fake Lambda Runtime API)"
python3 scripts/cold-start.py --ready-only "$bin"

echo "== Lambda package (arm64)"
scripts/lambda-package-size.sh "$CARGO_TARGET_DIR/package-size"

if [ "${PACKAGE_SIZE_BLOAT:-}" = 1 ]; then
  echo "== cargo bloat --crates (release profile with symbols)"
  CARGO_PROFILE_SYMBOLS_INHERITS=release CARGO_PROFILE_SYMBOLS_STRIP=false \
    cargo bloat --profile symbols --bin eks-iam-sync --crates -n 20
fi
echo "== done"
