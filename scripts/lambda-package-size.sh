#!/usr/bin/env bash
# Builds the arm64 Lambda package (release profile, zip) into DIR and prints its sizes:
#   scripts/lambda-package-size.sh DIR
# Used by scripts/bench.sh and scripts/package-size.sh. Needs cargo-lambda in the deploy venv
# (scripts/check-deploy.sh installs it); without it, says so and exits 0.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=$1
deploy_venv=$HOME/.cache/eks-iam-sync/deploy-venv
if [ ! -x "$deploy_venv/bin/cargo-lambda" ]; then
  echo "Lambda package: skipped (cargo-lambda is not installed; scripts/check-deploy.sh installs it)"
  exit 0
fi
PATH="$deploy_venv/bin:$PATH" cargo lambda build --quiet --release --arm64 --bin eks-iam-sync \
  --lambda-dir "$dir" --output-format zip
python3 - "$dir/eks-iam-sync/bootstrap.zip" <<'PY'
import os, sys, zipfile
path = sys.argv[1]
info = zipfile.ZipFile(path).getinfo("bootstrap")
print(f"Lambda package (arm64): bootstrap {info.file_size} bytes, bootstrap.zip {os.path.getsize(path)} bytes")
PY
