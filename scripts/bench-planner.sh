#!/usr/bin/env bash
# The planner benchmark (benches/planner.rs) of two builds side by side in one run: a
# baseline git revision and the working tree, on the same machine, at the same time.
#
#   scripts/bench-planner.sh              # baseline 170240e (main before issue #15)
#   scripts/bench-planner.sh REV          # another baseline
#   BENCH_ROUNDS=5 scripts/bench-planner.sh
#
# The baseline is checked out with `git worktree add` into a temporary directory (removed at
# the end) and built with its own benches/planner.rs; both benches build the same input
# (a 3,000-entry aws-auth against 5,000 desired users). The two bench binaries then run in
# alternation, BENCH_ROUNDS times each (default 3), so that load from other processes hits
# both alike; each run prints medians of its own repetitions, and the table shows, per
# step, the median over the rounds. Uses CARGO_TARGET_DIR (default
# ~/.cache/eks-iam-sync/target) for both builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
. scripts/bench-build.sh
base=${1:-170240e}
rounds=${BENCH_ROUNDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
export CARGO_TERM_COLOR=never

tmp=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$tmp/baseline" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bench_baseline "$root" "$base" "$tmp/baseline"
base_commit=$(git -C "$tmp/baseline" rev-parse --short HEAD)
head_commit=$(git -C "$root" rev-parse --short HEAD)
dirty=$(git -C "$root" status --porcelain --untracked-files=no | grep -q . && echo " + uncommitted changes" || true)
echo "== building the baseline ($base_commit) and the working tree ($head_commit$dirty)" >&2
bench_build "$tmp/baseline" planner "$tmp/base"
bench_build "$root" planner "$tmp/new"

echo "== running, $rounds rounds, alternating" >&2
for round in $(seq "$rounds"); do
  for which in base new; do
    "$tmp/$which" >"$tmp/$which.$round.out"
    sed "s/^/  $which round $round: /" "$tmp/$which.$round.out" >&2
  done
done

python3 - "$tmp" "$rounds" "$base_commit" "$head_commit$dirty" <<'PY'
import re, statistics, sys
tmp, rounds, base, head = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
steps = [
    ("read aws-auth", r"^read aws-auth"),
    ("plan + write + re-read (5,000 changes)", r"^plan \+ write \+ re-read"),
    ("steady-state plan (no change, no write)", r"^steady-state plan"),
]
unit = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}

def first_duration(line):
    # The first duration after the label (the median; later ones are min, p90, ...).
    m = re.search(r":\s+([0-9.]+)(ns|µs|us|ms|s)\b", line)
    return float(m.group(1)) * unit[m.group(2)]

def figures(which):
    out = {}
    for r in range(1, rounds + 1):
        lines = open(f"{tmp}/{which}.{r}.out").read().splitlines()
        for name, pattern in steps:
            line = next(l for l in lines if re.search(pattern, l))
            out.setdefault(name, []).append(first_duration(line))
    return {k: statistics.median(v) for k, v in out.items()}

b, n = figures("base"), figures("new")
print(f"\n| step (median of {rounds} rounds, each a median of its repetitions) | {base} (baseline) | {head} | change |")
print("|---|---|---|---|")
for name, _ in steps:
    print(f"| {name} | {b[name]:.1f} ms | {n[name]:.1f} ms | {n[name] / b[name]:.2f}x |")
PY
