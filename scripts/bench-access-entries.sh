#!/usr/bin/env bash
# Access entries at scale (issue 13): a cluster holding BENCH_ENTRIES (default 1,000)
# access entries, read by `eks-iam-sync plan` (every entry listed and described, the policies
# listed only for the entries a plan needs, at most READ_CONCURRENCY = 8 entries in flight), then `apply` of 10 new users with
# namespace-scoped policies, then the steady-state `plan`. Prints, per step, the wall time and
# the EKS calls eks-sim counted (per operation).
#
#   scripts/bench-access-entries.sh
#   BENCH_ENTRIES=2990 BENCH_EKS_LATENCY_MS=20 BENCH_RUNS=3 scripts/bench-access-entries.sh
#
# BENCH_EKS_LATENCY_MS adds that much latency to every EKS call (eks-sim's fault rules), to
# see what the bounded concurrency buys against a real endpoint's round trip. Starts its own
# stack (moto + eks-sim, cluster `ae-bench` in API mode) in a temporary directory, stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
entries=${BENCH_ENTRIES:-1000}
runs=${BENCH_RUNS:-3}
latency=${BENCH_EKS_LATENCY_MS:-0}
# shellcheck source=scripts/bench-stack.sh
. scripts/bench-stack.sh API ae-bench

admin() { curl -sf -X "$1" "$EKS_SIM_ADMIN_URL$2" -H 'content-type: application/json' ${3:+-d "$3"}; }
# The creator's bootstrap entry is one of them.
admin POST /clusters/ae-bench/access-entries "{\"count\": $((entries - 1)), \"prefix\": \"seed\"}" >/dev/null
users=""
for i in $(seq 0 9); do
  aws iam create-user --user-name "bench-$i" >/dev/null
  users+="  - {arn: \"arn:aws:iam::123456789012:user/bench-$i\", username: bench-$i, accessPolicies: [{policy: AmazonEKSEditPolicy, namespaces: [team-$i]}]}"$'\n'
done
config=$tmp/config.yaml
printf 'clusters:\n  - {name: ae-bench, region: us-east-1, backend: access-entries}\nusers:\n%s' "$users" >"$config"
export EKS_IAM_SYNC_CONFIG=$config
if [ "$latency" != 0 ]; then
  admin POST /faults "{\"spec\": \"eks:*:none:latency=$latency\"}" >/dev/null
fi

step() { # NAME ARGS...: wall time and the EKS calls of one run
  local name=$1
  shift
  admin DELETE /counters >/dev/null
  local start end
  start=$(date +%s.%N)
  "$bin" "$@" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  local calls
  calls=$(admin GET /counters | python -c 'import json,sys; c=json.load(sys.stdin)["eks"]; print(sum(c.values()), json.dumps(c, sort_keys=True))')
  printf '%s: %.2f s, EKS calls %s\n' "$name" "$(echo "$end - $start" | bc)" "$calls"
}
echo "== $entries access entries, ${latency} ms added per EKS call" >&2
for run in $(seq "$runs"); do step "plan (read $entries entries, 10 to create), run $run" plan; done
step "apply (10 creates + 10 associations)" apply
for run in $(seq "$runs"); do step "steady-state plan, run $run" plan; done
