#!/usr/bin/env bash
# The README's demo: eks-iam-sync's main job end to end on the local stand-ins.
#
# Starts moto (IAM, STS) and eks-sim (EKS + a Kubernetes API for cluster `prod`), seeds IAM,
# lets a "human" write aws-auth first, runs the function under `cargo lambda watch`, invokes
# it with the samples in events/, and shows aws-auth before and after with kubectl.
# A second cluster, `dev`, is in authentication mode API (access entries only, where EKS is
# taking everyone): its group members get access entries with a namespace-scoped policy, shown
# with awscli, and a mass removal there is refused by a guard, then confirmed with the CLI.
# Everything it starts is stopped at the end (pass --keep to leave the stack running).
# State and logs live outside the repository (cargo lambda watch rebuilds when files inside
# the crate change): $EKS_IAM_SYNC_DEMO_DIR, default ~/.cache/eks-iam-sync/demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

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

step "Creating cluster dev in authentication mode API (access entries only), as its creator"
# As on EKS: the creator (the stack's identity, which the function runs as too) gets a
# bootstrap access entry with AmazonEKSClusterAdminPolicy. It is not ours: we never touch it.
echo "\$ aws eks create-cluster --name dev --access-config authenticationMode=API ..."
aws eks create-cluster --name dev --role-arn arn:aws:iam::111122223333:role/eks-cluster \
  --resources-vpc-config subnetIds=subnet-0123456789abcdef0 \
  --access-config authenticationMode=API,bootstrapClusterCreatorAdminPermissions=true \
  --query 'cluster.[name, accessConfig.authenticationMode, status]' --output text

step "Seeding IAM: groups eks-admins (alice), developers (erin, frank, dave), team-a (grace, heidi, ivan, judy); user bob"
iam() { aws iam "$@" >/dev/null; }
team_a=(grace heidi ivan judy)
for group in eks-admins developers team-a; do iam create-group --group-name "$group"; done
for user in alice bob dave erin frank "${team_a[@]}"; do iam create-user --user-name "$user"; done
iam add-user-to-group --group-name eks-admins --user-name alice
for user in erin frank dave; do iam add-user-to-group --group-name developers --user-name "$user"; done
for user in "${team_a[@]}"; do iam add-user-to-group --group-name team-a --user-name "$user"; done

cat >"$demo/config.yaml" <<'EOF'
clusters:
  - name: prod              # CONFIG_MAP: aws-auth
    region: us-east-1
  - name: dev               # API: access entries (backend auto follows the cluster's mode)
    region: us-east-1
groups:
  - iamGroup: eks-admins    # both clusters; on dev: AmazonEKSClusterAdminPolicy, cluster scope
    kubernetesGroups: [system:masters]
  - iamGroup: developers
    kubernetesGroups: [developers]
    usernamePrefix: "dev:"
    clusters: [prod]
  - iamGroup: team-a        # dev only: edit rights in namespace team-a, nowhere else
    usernamePrefix: "team-a:"
    accessPolicies:
      - {policy: AmazonEKSEditPolicy, namespaces: [team-a]}
    clusters: [dev]
roles:
  - arn: arn:aws:iam::111122223333:role/KarpenterNodeRole-prod
    username: "system:node:{{EC2PrivateDNSName}}"
    kubernetesGroups: [system:bootstrappers, system:nodes]
    clusters: [prod]
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
# The CLI (for the operator's override on dev) is the same binary, built as cargo lambda does.
cargo build --quiet --bin eks-iam-sync
cli="$CARGO_TARGET_DIR/debug/eks-iam-sync"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  sed -n 's/^export //p' "$demo/stack.env" | sed "s/^\([A-Z_0-9]*\)='\(.*\)'$/\1=\2/"
  echo "EKS_IAM_SYNC_CONFIG=$demo/config.yaml"
  echo "RUST_LOG=info"
} >"$demo/function.env"
cargo lambda watch --ignore-changes --timeout 300 --invoke-port "$port" --env-file "$demo/function.env" \
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
print(f"  {r['reason']}  (IAM calls: {r['iamCalls']}, EKS calls: {r.get('eksCalls', 0)})")
for c in r["clusters"]:
    mode = f", {c['authenticationMode']}" if c.get("authenticationMode") else ""
    print(f"  {c['cluster']} ({c.get('backend', '?')}{mode}): {c['outcome']}")
    for kind, sign in (("added", "+"), ("changed", "~"), ("removed", "-"), ("skipped", "="), ("rejected", "!")):
        for e in c.get(kind, []):
            # aws-auth entries live in a section (mapUsers, mapRoles); access entries are one store
            where = e["section"] if e.get("store", "aws-auth") == "aws-auth" else e["store"]
            label = f"{kind} " if kind in ("skipped", "rejected") else ""
            print(f"    {sign} {label}{where} {e['key']}  ({e['reason']})")
    for w in c.get("warnings", []):
        print(f"    warning: {w}")
    for refusal in c.get("refusals", []):
        print(f"    {refusal}")
    if c.get("notApplied"):
        print(f"    not applied: {c['notApplied']} planned change(s)")
    if c.get("error"):
        print(f"    error: {c['error']}")
EOF
}

# The access entries of dev, with real awscli against eks-sim's EKS API.
show_dev() {
  echo "\$ aws eks list-access-entries --cluster-name dev"
  aws eks list-access-entries --cluster-name dev --query 'accessEntries[]' --output text | tr '\t' '\n' | sed 's/^/  /'
  local user
  for user in "$@"; do
    echo "\$ aws eks list-associated-access-policies --cluster-name dev --principal-arn arn:aws:iam::111122223333:user/$user"
    # shellcheck disable=SC2016 # backticks are a JMESPath literal, not a command
    aws eks list-associated-access-policies --cluster-name dev \
      --principal-arn "arn:aws:iam::111122223333:user/$user" \
      --query 'associatedAccessPolicies[].[policyArn, accessScope.type, join(`,`, accessScope.namespaces)]' \
      --output text | sed 's/^/  /'
  done
}

step "Scheduled event: full reconcile (prod: aws-auth; dev: access entries)"
invoke events/scheduled_event.json

step "dev's access entries: grace (team-a) may edit only in namespace team-a, alice is cluster admin"
show_dev grace alice
echo "  (user/eks-admin is the creator's bootstrap entry: it has no eks-iam-sync/managed tag, so it is never touched)"

step "bob joins eks-admins; the AddUserToGroup event updates only bob's entry"
iam add-user-to-group --group-name eks-admins --user-name bob
invoke events/add_user_to_group.json

step "dev after bob's event: bob has his own entry, cluster admin at cluster scope"
show_dev bob

step "erin leaves developers (RemoveUserFromGroup)"
iam remove-user-from-group --group-name developers --user-name erin
invoke events/remove_user_from_group.json

step "dave is deleted (DeleteUser)"
iam remove-user-from-group --group-name developers --user-name dave
iam delete-user --user-name dave
invoke events/delete_user.json

step "A failed IAM call changes nothing and costs no cluster call"
invoke events/add_user_to_group_failed.json

step "A mass removal on dev: grace, heidi, ivan and judy leave team-a at once; the next scheduled run sees it"
for user in "${team_a[@]}"; do iam remove-user-from-group --group-name team-a --user-name "$user"; done
invoke events/scheduled_event.json
python3 - "$demo/response.json" <<'EOF' || { echo "expected dev to be refused by mass-removal" >&2; exit 1; }
import json, sys
dev = [c for c in json.load(open(sys.argv[1]))["clusters"] if c["cluster"] == "dev"]
sys.exit(0 if dev and any("`mass-removal`" in r for r in dev[0]["refusals"]) else 1)
EOF
echo "  Why: more than guards.maxRemovalFraction (0.5) of dev's managed entries would go at once, which is"
echo "  what a broken IAM feed looks like: nothing is written on dev, and the Refusals alarm fires until someone decides."
show_dev

step "The removal was intended: an operator confirms it once with the CLI"
echo "\$ eks-iam-sync apply --cluster dev --allow-mass-removal"
"$cli" apply --config "$demo/config.yaml" --cluster dev --allow-mass-removal | sed 's/^/  /'
show_dev

step "erin rejoins developers; a dry run (direct invoke) plans it without writing"
iam add-user-to-group --group-name developers --user-name erin
invoke events/invoke_dry_run.json

step "aws-auth after"
kubectl get configmap aws-auth -n kube-system -o yaml
echo
echo "function logs: $demo/watch.log"
