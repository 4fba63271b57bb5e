#!/usr/bin/env bash
# Makes sure a headless Chromium is on PATH (Debian's chromium package when it is missing):
# the review stack test opens the HTML report in it and takes a screenshot.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
echo "installing chromium (Debian chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
