# Sourced by the side-by-side bench scripts (bench-planner.sh, bench-iam-concurrency.sh).
#
# bench_build DIR BENCH OUT: builds the bench target BENCH of the checkout DIR
# (`cargo bench --no-run`, CARGO_TARGET_DIR as set by the caller) and copies its executable
# to OUT, so that builds of two revisions can run side by side.
bench_build() {
  local exe
  exe=$(cd "$1" && cargo bench --quiet --bench "$2" --no-run --message-format=json \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$2")
  [ -n "$exe" ] || { echo "bench_build: no $2 executable built in $1" >&2; return 1; }
  cp "$exe" "$3"
}

# bench_baseline ROOT REV DIR: checks REV out into DIR (`git worktree add`) and gives the
# package there a version of its own. Without it the baseline's library and benches would
# have the same names in the shared target directory as the working tree's, and cargo could
# take one build for the other.
bench_baseline() {
  git -C "$1" worktree add --quiet --detach "$3" "$2"
  sed -i '0,/^version = "\(.*\)"$/s//version = "\1-baseline"/' "$3/Cargo.toml"
}
