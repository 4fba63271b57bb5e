#!/usr/bin/env bash
# Fleet benchmark (BENCHMARKS.md "Fleet"): in place vs fanned out to W workers over N
# simulated clusters, on moto + eks-sim. Usage: scripts/bench-fleet.sh [N ...] (default 10 500);
# BENCH_WORKERS="1 2 4 8" picks the worker counts. Builds the release binaries first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
cargo build --quiet --release --bin eks-iam-sync -p eks-iam-sync
cargo build --quiet --profile ci -p eks-sim
venv=$(scripts/python-env.sh)
export PATH="$venv:$PATH"
export EKS_SIM_BIN=$CARGO_TARGET_DIR/ci/eks-sim
export EKS_IAM_SYNC_BIN=$CARGO_TARGET_DIR/release/eks-iam-sync
exec "$venv/python" scripts/bench-fleet.py "$@"
