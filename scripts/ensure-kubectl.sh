#!/usr/bin/env bash
# Makes sure kubectl is on PATH (Debian's kubernetes-client package when it is missing).
set -euo pipefail
command -v kubectl >/dev/null 2>&1 && exit 0
echo "installing kubectl (Debian kubernetes-client)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq kubernetes-client >&2
