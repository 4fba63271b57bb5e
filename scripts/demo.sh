#!/usr/bin/env bash
# The README's demo: eks-iam-sync's main job end to end on the local stand-ins.
#
# Starts moto (IAM, STS) and eks-sim (EKS + a Kubernetes API for cluster `prod`), seeds IAM,
# lets a "human" write aws-auth first, runs the function under `cargo lambda watch`, invokes
# it with the samples in events/, and shows aws-auth before and after with kubectl.
# Everything it starts is stopped at the end (pass --keep to leave the stack running).
# State and logs live outside the repository (cargo lambda watch rebuilds when files inside
# the crate change): $EKS_IAM_SYNC_DEMO_DIR, default ~/.cache/eks-iam-sync/demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

keep=false
[ "${1:-}" = "--keep" ] && keep=true

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/eks-iam-sync/target}
venv_bin=$(scripts/python-env.sh)
PATH="$venv_bin:$PATH"
export PATH
scripts/ensure-kubectl.sh
if ! cargo-lambda lambda --version >/dev/null 2>&1; then
  echo "installing cargo-lambda (PyPI) into $venv_bin" >&2
  "$venv_bin/pip" install --quiet --disable-pip-version-check cargo-lambda==1.9.2 >&2
fi

demo=${EKS_IAM_SYNC_DEMO_DIR:-$HOME/.cache/eks-iam-sync/demo}
mkdir -p "$demo"
export EKS_IAM_SYNC_STACK_DIR="$demo/stack"
scripts/local-stack.sh stop >/dev/null 2>&1 || true

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting moto and eks-sim (cluster prod, authentication mode CONFIG_MAP)"
# The events/ samples come from account 111122223333: moto and eks-sim use it too.
MOTO_ACCOUNT_ID=111122223333 STACK_CLUSTER=prod STACK_AUTH_MODE=CONFIG_MAP \
  scripts/local-stack.sh start >"$demo/stack.env"
# shellcheck disable=SC1091
source "$demo/stack.env"

watch_pid=""
cleanup() {
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  if $keep; then
    echo "stack left running: source $demo/stack.env; stop it with EKS_IAM_SYNC_STACK_DIR=$EKS_IAM_SYNC_STACK_DIR scripts/local-stack.sh stop"
  else
    scripts/local-stack.sh stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "Seeding IAM: groups eks-admins (alice) and developers (erin, frank, dave); user bob"
iam() { aws iam "$@" >/dev/null; }
iam create-group --group-name eks-admins
iam create-group --group-name developers
for user in alice bob dave erin frank; do iam create-user --user-name "$user"; done
iam add-user-to-group --group-name eks-admins --user-name alice
for user in erin frank dave; do iam add-user-to-group --group-name developers --user-name "$user"; done

cat >"$demo/config.yaml" <<'EOF'
clusters:
  - name: prod
    region: us-east-1
groups:
  - iamGroup: eks-admins
    kubernetesGroups: [system:masters]
  - iamGroup: developers
    kubernetesGroups: [developers]
    usernamePrefix: "dev:"
roles:
  - arn: arn:aws:iam::111122223333:role/KarpenterNodeRole-prod
    username: "system:node:{{EC2PrivateDNSName}}"
    kubernetesGroups: [system:bootstrappers, system:nodes]
EOF

step "A human writes aws-auth first (these entries are not ours and must survive byte for byte)"
kubectl create -f - >/dev/null <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    # Node group role, written by eksctl. Do not touch.
    - rolearn: arn:aws:iam::111122223333:role/eksctl-prod-nodegroup
      username: system:node:{{EC2PrivateDNSName}}
      groups: [system:bootstrappers, system:nodes]
    - rolearn: arn:aws:iam::111122223333:role/break-glass   # emergency access
      username: break-glass
      groups:
        - system:masters
EOF

step "aws-auth before"
kubectl get configmap aws-auth -n kube-system -o yaml

step "Starting the function under cargo lambda watch (first build takes a while)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  sed -n 's/^export //p' "$demo/stack.env" | sed "s/^\([A-Z_0-9]*\)='\(.*\)'$/\1=\2/"
  echo "EKS_IAM_SYNC_CONFIG=$demo/config.yaml"
  echo "RUST_LOG=info"
} >"$demo/function.env"
cargo lambda watch --ignore-changes --invoke-port "$port" --env-file "$demo/function.env" \
  >"$demo/watch.log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 600); do
  (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  kill -0 "$watch_pid" 2>/dev/null || { cat "$demo/watch.log" >&2; exit 1; }
  sleep 1
done

invoke() {
  echo "\$ cargo lambda invoke eks-iam-sync --data-file $1"
  cargo lambda invoke eks-iam-sync --invoke-port "$port" --data-file "$1" >"$demo/response.json" || {
    cat "$demo/response.json"; tail -n 30 "$demo/watch.log" >&2; return 1
  }
  python3 - "$demo/response.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("acknowledged"):
    print(f"  acknowledged: {r['reason']}")
    sys.exit()
print(f"  {r['reason']}  (IAM calls: {r['iamCalls']})")
for c in r["clusters"]:
    print(f"  {c['cluster']}: {c['outcome']}")
    for kind, sign in (("added", "+"), ("changed", "~"), ("removed", "-")):
        for e in c[kind]:
            print(f"    {sign} {e['section']} {e['key']}  ({e['reason']})")
    for w in c["warnings"]:
        print(f"    warning: {w}")
EOF
}

step "Scheduled event: full reconcile"
invoke events/scheduled_event.json

step "bob joins eks-admins; the AddUserToGroup event updates only bob's entry"
iam add-user-to-group --group-name eks-admins --user-name bob
invoke events/add_user_to_group.json

step "erin leaves developers (RemoveUserFromGroup)"
iam remove-user-from-group --group-name developers --user-name erin
invoke events/remove_user_from_group.json

step "dave is deleted (DeleteUser)"
iam remove-user-from-group --group-name developers --user-name dave
iam delete-user --user-name dave
invoke events/delete_user.json

step "A failed IAM call changes nothing and costs no cluster call"
invoke events/add_user_to_group_failed.json

step "erin rejoins developers; a dry run (direct invoke) plans it without writing"
iam add-user-to-group --group-name developers --user-name erin
invoke events/invoke_dry_run.json

step "aws-auth after"
kubectl get configmap aws-auth -n kube-system -o yaml
echo
echo "function logs: $demo/watch.log"
