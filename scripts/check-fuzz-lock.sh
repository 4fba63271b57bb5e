#!/usr/bin/env bash
# The fuzzer tests what ships (issue 24): every crate that fuzz/Cargo.lock shares with the
# product's Cargo.lock (serde-saphyr, granit-parser and everything else both resolve) is
# locked at a version the product's lock has too. Only the fuzzer's own crates (libfuzzer-sys,
# arbitrary) may be extra. Fails with the crates that differ, and how to realign:
#   cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo metadata --format-version 1 >/dev/null)
# (cargo keeps the copied versions and adds only what the fuzz crate needs on top).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 - Cargo.lock fuzz/Cargo.lock <<'EOF_PY'
import sys, tomllib

def packages(path):
    with open(path, "rb") as f:
        return {(p["name"], p["version"]) for p in tomllib.load(f)["package"]}

product, fuzz = packages(sys.argv[1]), packages(sys.argv[2])
product_names = {name for name, _ in product}
differ = sorted((name, version) for name, version in fuzz
                if name in product_names and (name, version) not in product)
if differ:
    for name, version in differ:
        locked = sorted(v for n, v in product if n == name)
        print(f"fuzz/Cargo.lock: {name} {version}, Cargo.lock: {', '.join(locked)}")
    sys.exit("the fuzz crate's lock differs from the product's; realign it: "
             "cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo metadata --format-version 1 >/dev/null)")
shared = sum(1 for name, _ in fuzz if name in product_names)
print(f"   fuzz/Cargo.lock: {shared} crates shared with Cargo.lock, all at the product's versions")
EOF_PY
