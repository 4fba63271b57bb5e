#!/usr/bin/env bash
# The call budget of IAM events on access-entries clusters (issue 21), measured on the local
# stack as a new user would: the CLI (`eks-iam-sync invoke`, one process per payload, i.e. a
# cold instance) against moto + eks-sim, EKS calls from eks-sim's own counters, IAM calls from
# the run's summary (`iamCalls`).
#
# Clusters, one row group each (backend auto):
#   api-small    API                 2 groups, 10 members
#   api-large    API                20 groups, 300 members
#   api-3000     API                20 groups, 300 members, 3,000 entries in all
#   both-small   API_AND_CONFIG_MAP  2 groups, 10 members
#   both-large   API_AND_CONFIG_MAP 20 groups, 300 members
#   both-3000    API_AND_CONFIG_MAP 20 groups, 300 members, 3,000 entries in all
# Members get AmazonEKSViewPolicy on namespace `team` (a non-admin entry). Steps per cluster:
# the first full run (writes every entry), a steady full run (cold: every entry described),
# AddUserToGroup of a new user, RemoveUserFromGroup of that user, DeleteUser of a member.
#
#   scripts/bench-event-budget.sh          (about 2 minutes once built)
#
# Starts its own stack in a temporary directory and stops it. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-stack.sh
. scripts/bench-stack.sh API budget-base

# name:mode:groups:members per group:entries in all (0: only ours and the creator's)
clusters="api-small:API:2:5:0 api-large:API:20:15:0 api-3000:API:20:15:3000
both-small:API_AND_CONFIG_MAP:2:5:0 both-large:API_AND_CONFIG_MAP:20:15:0 both-3000:API_AND_CONFIG_MAP:20:15:3000"
config=$tmp/config.yaml
echo "== IAM groups and clusters" >&2
python - "$config" $clusters <<'PY'
import os, sys, boto3, json, urllib.request
config, specs = sys.argv[1], sys.argv[2:]
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
eks = boto3.client("eks", endpoint_url=os.environ["AWS_ENDPOINT_URL_EKS"])
admin = os.environ["EKS_SIM_ADMIN_URL"]
lines = ["clusters:"]
groups = ["groups:"]
for spec in specs:
    name, mode, ngroups, per_group, total = spec.split(":")
    ngroups, per_group, total = int(ngroups), int(per_group), int(total)
    eks.create_cluster(
        name=name, roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-0123456789abcdef0"]},
        accessConfig={"authenticationMode": mode, "bootstrapClusterCreatorAdminPermissions": True})
    lines.append(f"  - {{name: {name}, region: us-east-1, backend: auto}}")
    for g in range(ngroups):
        group = f"{name}-g{g:02d}"
        iam.create_group(GroupName=group)
        groups.append(f"  - {{iamGroup: {group}, clusters: [{name}], accessPolicies: [{{policy: AmazonEKSViewPolicy, namespaces: [team]}}]}}")
        for u in range(per_group):
            user = f"{group}-u{u:02d}"
            iam.create_user(UserName=user)
            iam.add_user_to_group(GroupName=group, UserName=user)
    # Entries that are not ours up to the total once the event's newcomer has one (ours:
    # the members; the creator's; room for the newcomer under EKS's 3,000).
    seed = total - ngroups * per_group - 2 if total else 0
    if seed > 0:
        req = urllib.request.Request(f"{admin}/clusters/{name}/access-entries",
            data=json.dumps({"count": seed, "prefix": f"{name}-other"}).encode(),
            headers={"content-type": "application/json"}, method="POST")
        urllib.request.urlopen(req).read()
open(config, "w").write("\n".join(lines + groups) + "\n")
PY
export EKS_IAM_SYNC_CONFIG=$config

admin() { curl -sf -X "$1" "$EKS_SIM_ADMIN_URL$2" -H 'content-type: application/json' ${3:+-d "$3"}; }
event() { # EVENT_NAME PARAMS_JSON: a CloudTrail event through EventBridge, moto's account
  python - "$1" "$2" <<'PY'
import json, sys
name, params = sys.argv[1], json.loads(sys.argv[2])
print(json.dumps({"version": "0", "id": f"bench-{name}", "detail-type": "AWS API Call via CloudTrail",
  "source": "aws.iam", "account": "123456789012", "time": "2026-12-08T00:00:00Z", "region": "us-east-1",
  "resources": [], "detail": {"eventVersion": "1.09", "eventSource": "iam.amazonaws.com",
  "eventName": name, "awsRegion": "us-east-1", "eventID": f"bench-{name}",
  "eventTime": "2026-12-08T00:00:00Z", "userIdentity": {"arn": "arn:aws:iam::123456789012:user/bench"},
  "requestParameters": params, "responseElements": None, "recipientAccountId": "123456789012"}}))
PY
}
step() { # CLUSTER STEP PAYLOAD_FILE: one row
  admin DELETE /counters >/dev/null
  "$bin" invoke --event "$3" >"$tmp/out.json" 2>/dev/null || true
  admin GET /counters >"$tmp/counters.json"
  python - "$1" "$2" "$tmp/out.json" "$tmp/counters.json" <<'PY'
import json, sys
cluster, step, out, counters = sys.argv[1:]
summary, counters = json.load(open(out)), json.load(open(counters))
eks = counters.get("eks", {})
writes = sum(n for op, n in eks.items() if op.startswith(("Create", "Delete", "Update", "Associate", "Disassociate")))
reports = summary.get("clusters", [])
report = next((c for c in reports if c["cluster"] == cluster), {})
read = report.get("entriesRead") or report.get("entryReads") or {}
# Per cluster, from the summary: its entry calls and its DescribeCluster.
def own(c):
    calls = c.get("apiCalls", {})
    return calls.get("eks_read", 0) + calls.get("eks_write", 0) + 1
others = [own(c) for c in reports if c["cluster"] != cluster]
elsewhere = f"{sum(others)} on {len(others)} other clusters" if others else "none"
print(f"| {cluster} | {step} | {summary.get('iamCalls')} | {sum(eks.values())} | {own(report) if report else 0} | {writes} | {elsewhere} | {counters.get('kube', {}).get(cluster, {}).get('get', 0)} | {report.get('outcome')} | {json.dumps(read, sort_keys=True)} |")
PY
}

echo "| cluster | step | IAM calls (summary) | EKS calls (eks-sim, all clusters) | of them this cluster's | writes | other clusters' (DeleteUser concerns every cluster) | aws-auth GETs | outcome | entries read |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for spec in $clusters; do
  name=${spec%%:*}
  echo "{\"action\": \"reconcile\", \"clusters\": [\"$name\"]}" >"$tmp/full.json"
  step "$name" "full run, first (writes every entry)" "$tmp/full.json"
  step "$name" "full run, steady (cold process)" "$tmp/full.json"
  group="$name-g00"
  newcomer="$name-newcomer"
  aws iam create-user --user-name "$newcomer" >/dev/null
  aws iam add-user-to-group --group-name "$group" --user-name "$newcomer"
  event AddUserToGroup "{\"groupName\": \"$group\", \"userName\": \"$newcomer\"}" >"$tmp/event.json"
  step "$name" "AddUserToGroup (new user)" "$tmp/event.json"
  aws iam remove-user-from-group --group-name "$group" --user-name "$newcomer"
  event RemoveUserFromGroup "{\"groupName\": \"$group\", \"userName\": \"$newcomer\"}" >"$tmp/event.json"
  step "$name" "RemoveUserFromGroup" "$tmp/event.json"
  member="$group-u00"
  aws iam remove-user-from-group --group-name "$group" --user-name "$member"
  aws iam delete-user --user-name "$member"
  event DeleteUser "{\"userName\": \"$member\"}" >"$tmp/event.json"
  step "$name" "DeleteUser (a member)" "$tmp/event.json"
done
