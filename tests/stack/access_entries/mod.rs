//! The access-entries backend end to end against eks-sim's access-entry API (EKS's
//! validation and error shapes) and moto's IAM: managed entries created, updated and deleted,
//! unmanaged ones untouched, EKS validation errors reported per entry, guards, dry run, steady
//! state from the simulator's counters, `backend: auto` per authentication mode, `migrate`,
//! and an entry recreated after its principal was deleted and recreated.
//!
//! Every cluster here is upgraded from CONFIG_MAP, so its creator (the stack's identity, the
//! identity eks-iam-sync runs as) holds the bootstrap cluster-admin entry, unmanaged.
//!
//! Split by topic: `writes` (what a run creates, updates, deletes, refuses or only plans),
//! `policies` (access policies, namespace scopes, entry types; issue 13),
//! `modes` (`backend: auto`, the wrong mode, `migrate`) and `principals` (a recreated
//! principal, the tool's own identity, a user event). The helpers are here.

mod effective;
mod failures;
mod modes;
mod policies;
mod principals;
mod writes;

use serde_json::Value;

use crate::support::{Stack, TestCluster};

pub(crate) const ACCOUNT: &str = "123456789012";
/// A trust policy for test roles.
pub(crate) const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub(crate) fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// Associates the EKS access policy `policy` (its short name) with `principal`'s entry.
pub(crate) fn associate(t: &TestCluster, principal: &str, policy: &str, scope: &str) {
    t.on().aws(&[
        "eks",
        "associate-access-policy",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        principal,
        "--policy-arn",
        &format!("arn:aws:eks::aws:cluster-access-policy/{policy}"),
        "--access-scope",
        scope,
    ]);
}

/// Puts IAM user `user` into `group` on `on`, or takes them out.
pub(crate) fn set_member(on: &Stack, group: &str, user: &str, member: bool) {
    let action = if member {
        "add-user-to-group"
    } else {
        "remove-user-from-group"
    };
    on.aws(&["iam", action, "--group-name", group, "--user-name", user]);
}

/// Principal ARNs of the cluster's access entries.
fn entries(t: &TestCluster) -> Vec<String> {
    let listed = t
        .on()
        .aws(&["eks", "list-access-entries", "--cluster-name", &t.name]);
    listed["accessEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn describe(t: &TestCluster, principal: &str) -> Value {
    t.on().aws(&[
        "eks",
        "describe-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        principal,
    ])["accessEntry"]
        .clone()
}

/// The policies associated with an entry, as ListAssociatedAccessPolicies gives them.
fn associated(t: &TestCluster, principal: &str) -> Vec<Value> {
    let listed = t.on().aws(&[
        "eks",
        "list-associated-access-policies",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        principal,
    ]);
    listed["associatedAccessPolicies"]
        .as_array()
        .unwrap()
        .clone()
}

/// The short name of an associated policy.
fn policy_name(p: &Value) -> &str {
    p["policyArn"].as_str().unwrap().rsplit('/').next().unwrap()
}

/// Names of the policies associated with an entry, with their scope type.
fn policies(t: &TestCluster, principal: &str) -> Vec<String> {
    associated(t, principal)
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                policy_name(p),
                p["accessScope"]["type"].as_str().unwrap()
            )
        })
        .collect()
}

/// Admins (system:masters) and developers (`developers`) from two IAM groups.
fn groups_config(t: &TestCluster, dev_groups: &str) -> String {
    format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n  - iamGroup: {}\n    kubernetesGroups: {dev_groups}\n",
        t.iam("admins"),
        t.iam("devs")
    )
}

fn keys(report: &Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect()
}
