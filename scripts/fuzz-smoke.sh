#!/usr/bin/env bash
# A short run of the aws-auth fuzz target (fuzz/, cargo-fuzz, libFuzzer): no panic, output
# always re-reads, unmanaged bytes kept (fuzz/fuzz_targets/aws_auth.rs says what is checked).
#
#   scripts/fuzz-smoke.sh            # 60 s (FUZZ_SECONDS), then prints libFuzzer's figures
#   FUZZ_SECONDS=3600 scripts/fuzz-smoke.sh   # the long run of BENCHMARKS.md
#
# The toolchain is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags
# (-Zsanitizer=address). Installs cargo-fuzz (crates.io) when it is missing. fuzz/ is its
# own workspace with its own target directory (FUZZ_TARGET_DIR, default fuzz/target), so
# the sanitizer build never touches the main one. The corpus grows in fuzz/corpus/aws_auth
# (only the seed-* files are committed); a crash leaves its input in fuzz/artifacts/aws_auth/
# and fails the script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds=${FUZZ_SECONDS:-60}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== cargo install cargo-fuzz" >&2
  cargo install --quiet --locked cargo-fuzz
fi
echo "== cargo fuzz build aws_auth" >&2
cargo fuzz build aws_auth
mkdir -p corpus/aws_auth
echo "== cargo fuzz run aws_auth (${seconds} s)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# -max_len: aws-auth sections are text; 4 KiB is room for several entries of every style.
status=0
cargo fuzz run aws_auth corpus/aws_auth -- -max_total_time="$seconds" -max_len=4096 \
  -print_final_stats=1 2>&1 | tee "$log" | grep -E '^(#[0-9]+ +(DONE|INITED)|==|SUMMARY|stat::|Done)' || true
status=${PIPESTATUS[0]}
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
corpus=$(find corpus/aws_auth -type f | wc -l)
echo "fuzz aws_auth: ${execs:-?} executions in ${seconds} s (${rate:-?}/s), corpus ${corpus} inputs, exit ${status}"
if [ "$status" -ne 0 ]; then
  grep -E 'panicked|SUMMARY|Test unit written' "$log" >&2 || true
  exit 1
fi
