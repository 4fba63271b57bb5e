#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md on the local stack (moto + eks-sim):
#   1. the planner (cargo bench --bench planner, pure, no stack);
#   2. API calls per event and per full reconcile at two organisation sizes, and the
#      handler's warm latency (cargo bench --bench stack: one reconciler, handler called
#      repeatedly, as in a warm Lambda instance);
#   3. cold start of the release binary: from exec until the Lambda runtime's first
#      `GET …/invocation/next` to a tiny fake Runtime API, and until its first response;
#   4. peak RSS of a full reconcile (/usr/bin/time -v, release binary, `invoke`);
#   5. release binary and Lambda package sizes (cargo lambda build --release --arm64 zip;
#      skipped with a note when cargo-lambda is not installed: scripts/check-deploy.sh
#      installs it).
# Usage: scripts/bench.sh            (BENCH_SIZES="10 1000" by default)
# Takes about 3–5 minutes warm. Starts its own stack in a temporary directory and stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
PATH="$(scripts/python-env.sh):$PATH"
export PATH
scripts/ensure-kubectl.sh
sizes=${BENCH_SIZES:-10 1000}

echo "== machine"
echo "$(nproc) cores $(uname -m), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), $(rustc --version), $(date -u +%F)"
grep -m1 'model name' /proc/cpuinfo || true

echo "== planner: cargo bench --bench planner"
cargo bench --quiet --bench planner

echo "== release builds"
cargo build --quiet --release --bin eks-iam-sync
cargo build --quiet --profile ci -p eks-sim  # a test tool: the fast profile (Cargo.toml)
bin=$CARGO_TARGET_DIR/release/eks-iam-sync
export EKS_SIM_BIN=$CARGO_TARGET_DIR/ci/eks-sim

dir=$(mktemp -d)
export EKS_IAM_SYNC_STACK_DIR=$dir
cleanup() { scripts/local-stack.sh stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
eval "$(STACK_AUTH_MODE=CONFIG_MAP STACK_CLUSTER=bench-base scripts/local-stack.sh start)"

echo "== IAM organisation and clusters (sizes: $sizes)"
clusters=""
config=$dir/bench.yaml
{
  echo "clusters:"
  for n in $sizes rss; do echo "  - {name: bench-$n, region: us-east-1, backend: aws-auth}"; done
  echo "groups:"
  big=$(echo "$sizes" | tr ' ' '\n' | sort -n | tail -1)
  for n in $sizes; do
    also=""
    if [ "$n" = "$big" ]; then also=", bench-rss"; fi
    echo "  - {iamGroup: g$n, kubernetesGroups: [viewers], clusters: [bench-$n$also]}"
  done
} >"$config"
for n in $sizes; do clusters="$clusters bench-$n:g$n"; done
python - $sizes <<'PY'
import os, sys, boto3
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
eks = boto3.client("eks", endpoint_url=os.environ["AWS_ENDPOINT_URL_EKS"])
for n in sys.argv[1:] + ["rss"]:
    eks.create_cluster(
        name=f"bench-{n}", roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0"]},
        accessConfig={"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True})
    if n == "rss":
        continue
    group = f"g{n}"
    iam.create_group(GroupName=group)
    for i in range(int(n)):
        user = f"{group}-u{i:04d}"
        iam.create_user(UserName=user)
        iam.add_user_to_group(GroupName=group, UserName=user)
PY
export EKS_IAM_SYNC_CONFIG=$config

echo "== peak RSS of a full reconcile (release binary, invoke, group of $big members)"
rss() { # rss LABEL: a direct invoke of bench-rss under /usr/bin/time -v
  echo '{"action": "reconcile", "dryRun": false, "clusters": ["bench-rss"]}' >"$dir/rss.json"
  if ! /usr/bin/time -v "$bin" invoke --event "$dir/rss.json" >"$dir/rss.out" 2>"$dir/rss.err"; then
    cat "$dir/rss.out" "$dir/rss.err" >&2
    exit 1
  fi
  python - "$1" "$dir/rss.out" "$dir/rss.err" <<'PY'
import json, re, sys
label, out, err = sys.argv[1:]
summary = json.load(open(out))
c = summary["clusters"][0]
text = open(err).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text).group(1)
print(f"{label}: outcome {c['outcome']}, {len(c['added'])} added, peak RSS {rss / 1024:.1f} MiB, wall {wall}")
PY
}
rss "first full reconcile (writes $big entries)"
rss "steady-state full reconcile"

echo "== API calls and warm latency: cargo bench --bench stack"
# (The handler's metric lines go to stderr; only the tables matter here.)
BENCH_CLUSTERS="${clusters# }" cargo bench --quiet --bench stack 2> >(grep -v '^{"_aws"' >&2)

echo "== cold start (release binary under a fake Lambda Runtime API)"
python scripts/cold-start.py "$bin"

echo "== sizes"
echo "release binary ($(uname -m)): $(stat -c %s "$bin") bytes"
scripts/lambda-package-size.sh "$dir/lambda"
echo "== done"
