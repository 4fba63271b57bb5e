#!/usr/bin/env bash
# The IAM gather of a full reconcile, sequential against concurrent, in one run: 20 IAM groups
# (5 members each) mapped to one CONFIG_MAP cluster on the local stack (moto + eks-sim), every
# IAM request slowed down by a latency forwarder in front of moto (benches/iam_gather.rs).
#
#   scripts/bench-iam-concurrency.sh            # baseline 170240e (groups read one by one)
#   scripts/bench-iam-concurrency.sh REV        # another baseline
#   BENCH_IAM_LATENCY_MS=100 BENCH_GROUPS=40 scripts/bench-iam-concurrency.sh
#
# The working tree's benches/iam_gather.rs is built twice: against the baseline revision's
# library (checked out with `git worktree add` into a temporary directory) and against the
# working tree's. Both run, alternately (BENCH_ROUNDS, default 2), on the same stack and the
# same IAM organisation. Starts its own stack in a temporary directory and stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
. scripts/bench-build.sh
base=${1:-170240e}
rounds=${BENCH_ROUNDS:-2}
groups=${BENCH_GROUPS:-20}
export BENCH_IAM_LATENCY_MS=${BENCH_IAM_LATENCY_MS:-50}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
export CARGO_TERM_COLOR=never
PATH="$(scripts/python-env.sh):$PATH"
export PATH

tmp=$(mktemp -d)
cleanup() {
  EKS_IAM_SYNC_STACK_DIR=$tmp/stack scripts/local-stack.sh stop >/dev/null 2>&1 || true
  git -C "$root" worktree remove --force "$tmp/baseline" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bench_baseline "$root" "$base" "$tmp/baseline"
cp benches/iam_gather.rs "$tmp/baseline/benches/"
# Before the redesign of issue #11 the reconciler was built by `lambda`, not `app`.
if [ ! -f "$tmp/baseline/src/app.rs" ]; then
  sed -i 's/eks_iam_sync::app::reconciler_from_env/eks_iam_sync::lambda::reconciler_from_env/' \
    "$tmp/baseline/benches/iam_gather.rs"
fi
if ! grep -q 'name = "iam_gather"' "$tmp/baseline/Cargo.toml"; then
  printf '\n[[bench]]\nname = "iam_gather"\nharness = false\n' >>"$tmp/baseline/Cargo.toml"
fi
base_commit=$(git -C "$tmp/baseline" rev-parse --short HEAD)
head_commit=$(git -C "$root" rev-parse --short HEAD)
echo "== building the bench against $base_commit (baseline) and the working tree ($head_commit)" >&2
bench_build "$tmp/baseline" iam_gather "$tmp/base"
bench_build "$root" iam_gather "$tmp/new"
cargo build --quiet --profile ci -p eks-sim
export EKS_SIM_BIN=$CARGO_TARGET_DIR/ci/eks-sim

echo "== stack, $groups IAM groups, config" >&2
export EKS_IAM_SYNC_STACK_DIR=$tmp/stack
eval "$(STACK_AUTH_MODE=CONFIG_MAP STACK_CLUSTER=iam-bench scripts/local-stack.sh start)"
python - "$groups" <<'PY'
import os, sys, boto3
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for g in range(int(sys.argv[1])):
    group = f"team-{g:02d}"
    iam.create_group(GroupName=group)
    for u in range(5):
        user = f"{group}-u{u}"
        iam.create_user(UserName=user)
        iam.add_user_to_group(GroupName=group, UserName=user)
PY
config=$tmp/iam-bench.yaml
{
  echo "clusters:"
  echo "  - {name: iam-bench, region: us-east-1, backend: aws-auth}"
  echo "groups:"
  for g in $(seq 0 $((groups - 1))); do
    printf '  - {iamGroup: team-%02d, kubernetesGroups: [viewers], clusters: [iam-bench]}\n' "$g"
  done
} >"$config"
export EKS_IAM_SYNC_CONFIG=$config
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BENCH_IAM_PROXY=127.0.0.1:$port
export AWS_ENDPOINT_URL_IAM=http://127.0.0.1:$port

echo "== running, $rounds rounds, alternating (${BENCH_IAM_LATENCY_MS} ms per IAM request)" >&2
for round in $(seq "$rounds"); do
  for which in base new; do
    label=$([ "$which" = base ] && echo "$base_commit (baseline)" || echo "$head_commit")
    # (The handler's metric lines go to stderr; only the figures matter here.)
    "$tmp/$which" 2> >(grep -v '^{"_aws"' >&2) | sed "s/^/$label, round $round: /"
  done
done
