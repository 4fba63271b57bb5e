#!/usr/bin/env bash
# Creates (once) the project's Python venv with moto, awscli and boto3, and prints its
# bin directory. Usage: PATH="$(scripts/python-env.sh):$PATH"
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${EKS_IAM_SYNC_VENV:-$HOME/.cache/eks-iam-sync/venv}
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin"
