#!/usr/bin/env bash
# The README's demo: runs the main job end to end on the local stand-ins (moto + eks-sim).
set -euo pipefail
echo "demo: not built yet (needs the simulator and the Lambda handler)" >&2
exit 1
