#!/usr/bin/env bash
# The local stand-ins for AWS and EKS: moto (IAM, STS, ...) and eks-sim (the EKS API and
# one simulated cluster's Kubernetes API), on free loopback ports.
#
#   scripts/local-stack.sh start      start both, print the environment as `export K=V` lines
#   scripts/local-stack.sh stop       stop what `start` started (by PID)
#   scripts/local-stack.sh status     say what runs
#   scripts/local-stack.sh env        print the `export` lines of the running stack again
#   scripts/local-stack.sh register AKID SECRET ARN [SESSION_TOKEN]
#                                     teach eks-sim another identity (e.g. an AssumeRole result)
#
# Usage: eval "$(scripts/local-stack.sh start)"
#
# `start` installs what it needs (the Python venv with moto/awscli via scripts/python-env.sh,
# kubectl via scripts/ensure-kubectl.sh, an eks-sim build (profile ci) unless EKS_SIM_BIN
# names one), creates in moto an IAM user with an access key, and makes that user the
# creator (an admin) of the simulated cluster, so moto and eks-sim know the same identity.
# eks-sim asks moto's STS who holds temporary credentials it was not given (AssumeRole
# results, e.g. a cluster's assumeRoleArn in another account: eks-sim serves clusters per
# account).
# Progress goes to stderr; stdout carries only the export lines.
#
# Logs: moto_server.log and eks-sim.log in the state directory.
#
# Settings (environment):
#   EKS_IAM_SYNC_STACK_DIR   state, logs, kubeconfig, CA (default ~/.cache/eks-iam-sync/stack;
#                            outside the repository, so `cargo lambda watch` does not rebuild)
#   EKS_SIM_BIN              an eks-sim binary to use instead of building one
#   CARGO_TARGET_DIR         build directory (default ~/.cache/eks-iam-sync/target)
#   STACK_CLUSTER            cluster name (default demo)
#   STACK_AUTH_MODE          CONFIG_MAP, API_AND_CONFIG_MAP (default) or API
#   STACK_REGION             region (default us-east-1)
#   STACK_ADMIN_USER         the IAM user created in moto (default eks-admin)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dir=${EKS_IAM_SYNC_STACK_DIR:-$HOME/.cache/eks-iam-sync/stack}
cluster=${STACK_CLUSTER:-demo}
mode=${STACK_AUTH_MODE:-API_AND_CONFIG_MAP}
region=${STACK_REGION:-us-east-1}
admin_user=${STACK_ADMIN_USER:-eks-admin}

log() { echo "local-stack: $*" >&2; }
die() { log "error: $*"; exit 1; }

# alive PID NAME: whether PID runs and its command line mentions NAME (no recycled PIDs).
alive() {
  [ -n "${1:-}" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

stop_one() { # stop_one NAME
  local pidfile="$dir/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if alive "$pid" "$1"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$pid" "$1" || break; sleep 0.1; done
    if alive "$pid" "$1"; then kill -9 "$pid" 2>/dev/null || true; fi
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$pidfile"
}

free_port() {
  "$venv/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # wait_for NAME SECONDS COMMAND...: until COMMAND succeeds; NAME's process must live
  try_wait_for "$@" && return 0
  tail -n 20 "$dir/$1.log" >&2 || true
  die "$1 did not start (log: $dir/$1.log)"
}

try_wait_for() { # like wait_for, but returns 1 instead of dying
  local what=$1 secs=$2 pid; shift 2
  pid=$(cat "$dir/$what.pid")
  for _ in $(seq $((secs * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    # Does our child still exist? (Not `alive`: until it has exec'd, its command line is
    # still this script's; PID reuse is no concern for a child we have not reaped.)
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

json_get() { # json_get FILE KEY...: prints a value of a JSON file
  "$venv/python" - "$@" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[k]
print(v)
PY
}

cmd_start() {
  mkdir -p "$dir"
  if alive "$(cat "$dir/moto_server.pid" 2>/dev/null)" moto_server \
    || alive "$(cat "$dir/eks-sim.pid" 2>/dev/null)" eks-sim; then
    die "a stack already runs from $dir (scripts/local-stack.sh stop, or set EKS_IAM_SYNC_STACK_DIR)"
  fi
  venv=$("$root/scripts/python-env.sh")
  "$root/scripts/ensure-kubectl.sh"
  local sim=${EKS_SIM_BIN:-}
  if [ -z "$sim" ]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
    log "building eks-sim (profile ci)"
    (cd "$root" && cargo build --quiet --profile ci -p eks-sim >&2)
    sim="$CARGO_TARGET_DIR/ci/eks-sim"
  fi
  [ -x "$sim" ] || die "eks-sim binary $sim is missing or not executable"

  # From here on, a failed start stops whatever it had started.
  trap 'if [ "${started:-}" != 1 ]; then log "start failed; stopping what it started"; cmd_stop; fi' EXIT
  # moto needs its port up front: a free port can be taken by someone else before moto binds
  # it (parallel stacks), so a moto that dies while starting is retried on another port.
  local moto_port moto attempt
  for attempt in 1 2 3; do
    moto_port=$(free_port)
    moto="http://127.0.0.1:$moto_port"
    log "starting moto on $moto"
    setsid "$venv/moto_server" -H 127.0.0.1 -p "$moto_port" </dev/null >"$dir/moto_server.log" 2>&1 &
    echo $! >"$dir/moto_server.pid"
    if try_wait_for moto_server 60 "$venv/python" -c "import urllib.request; urllib.request.urlopen('$moto/moto-api/data.json')"; then
      break
    fi
    kill "$(cat "$dir/moto_server.pid")" 2>/dev/null || true
    [ "$attempt" = 3 ] && { tail -n 20 "$dir/moto_server.log" >&2; die "moto did not start (log: $dir/moto_server.log)"; }
    log "moto did not start on port $moto_port; trying another port"
  done

  # The cluster creator: an IAM user with an access key, made in moto.
  local key_json="$dir/admin-key.json"
  AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap AWS_DEFAULT_REGION=$region \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$venv/aws" --endpoint-url "$moto" iam create-user --user-name "$admin_user" >/dev/null
  AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap AWS_DEFAULT_REGION=$region \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$venv/aws" --endpoint-url "$moto" iam create-access-key --user-name "$admin_user" >"$key_json"
  local ak sk arn
  ak=$(json_get "$key_json" AccessKey AccessKeyId)
  sk=$(json_get "$key_json" AccessKey SecretAccessKey)
  arn=$(AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=$region \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$venv/aws" --endpoint-url "$moto" sts get-caller-identity --query Arn --output text)
  local account=${arn#arn:aws:iam::}; account=${account%%:*}
  log "cluster creator: $arn"

  log "starting eks-sim"
  rm -f "$dir/eks-sim.json"
  setsid "$sim" --cluster "$cluster:$mode" --cluster-creator "$arn" \
    --credential "$ak:$sk:$arn" --region "$region" --account-id "$account" \
    --sts-endpoint "$moto" --ca-out "$dir/ca.pem" --ready-file "$dir/eks-sim.json" \
    </dev/null >"$dir/eks-sim.out" 2>"$dir/eks-sim.log" &
  echo $! >"$dir/eks-sim.pid"
  wait_for eks-sim 30 test -s "$dir/eks-sim.json"
  local eks endpoint
  eks=$(json_get "$dir/eks-sim.json" eks_endpoint)
  endpoint=$(json_get "$dir/eks-sim.json" clusters "$cluster")

  cat >"$dir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: $cluster
  cluster:
    server: $endpoint
    certificate-authority: $dir/ca.pem
users:
- name: $admin_user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: $venv/aws
      args: [eks, get-token, --cluster-name, $cluster, --region, $region]
      interactiveMode: Never
      env:
      - {name: AWS_ACCESS_KEY_ID, value: "$ak"}
      - {name: AWS_SECRET_ACCESS_KEY, value: "$sk"}
      - {name: AWS_SESSION_TOKEN, value: ""}
      - {name: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, value: "true"}
contexts:
- name: $cluster
  context: {cluster: $cluster, user: $admin_user}
current-context: $cluster
YAML

  {
    printf 'export %s=%q\n' \
      AWS_ENDPOINT_URL "$moto" \
      AWS_ENDPOINT_URL_EKS "$eks" \
      AWS_ACCESS_KEY_ID "$ak" \
      AWS_SECRET_ACCESS_KEY "$sk" \
      AWS_REGION "$region" \
      AWS_DEFAULT_REGION "$region" \
      AWS_EC2_METADATA_DISABLED true \
      KUBECONFIG "$dir/kubeconfig" \
      EKS_SIM_ADMIN_URL "$eks/_sim" \
      EKS_SIM_CLUSTER "$cluster" \
      EKS_SIM_CLUSTER_ENDPOINT "$endpoint" \
      EKS_SIM_CA_FILE "$dir/ca.pem" \
      EKS_SIM_ADMIN_ARN "$arn" \
      EKS_IAM_SYNC_STACK_DIR "$dir"
  } >"$dir/env"
  started=1
  log "ready: moto $moto, eks-sim $eks, cluster $cluster at $endpoint ($mode)"
  cat "$dir/env"
}

cmd_stop() {
  stop_one eks-sim
  stop_one moto_server
  rm -f "$dir/env" "$dir/eks-sim.json"
}

cmd_status() {
  local up=0
  for p in moto_server eks-sim; do
    local pid; pid=$(cat "$dir/$p.pid" 2>/dev/null || true)
    if alive "$pid" "$p"; then log "$p runs (pid $pid)"; up=$((up + 1)); else log "$p is not running"; fi
  done
  [ "$up" -eq 2 ]
}

cmd_env() {
  [ -f "$dir/env" ] || die "no running stack in $dir (scripts/local-stack.sh start)"
  cat "$dir/env"
}

cmd_register() {
  [ $# -ge 3 ] || die "usage: register ACCESS_KEY_ID SECRET_ACCESS_KEY PRINCIPAL_ARN [SESSION_TOKEN]"
  [ -f "$dir/eks-sim.json" ] || die "no running stack in $dir"
  venv=$("$root/scripts/python-env.sh")
  local url; url="$(json_get "$dir/eks-sim.json" admin_endpoint)/credentials"
  "$venv/python" - "$url" "$@" <<'PY'
import json, sys, urllib.request
url, ak, sk, arn = sys.argv[1:5]
body = {"access_key_id": ak, "secret_access_key": sk, "arn": arn}
if len(sys.argv) > 5:
    body["session_token"] = sys.argv[5]
req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                             headers={"content-type": "application/json"})
urllib.request.urlopen(req)
PY
  log "registered $1 as $3"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  register) shift; cmd_register "$@" ;;
  *) echo "usage: $0 start|stop|status|env|register AKID SECRET ARN [SESSION_TOKEN]" >&2; exit 2 ;;
esac
