//! The desired set in access-entry terms, by EKS's rules (listed in the parent module):
//! `system:masters` becomes a policy, configured access policies are associated with their
//! scopes, node roles become node entries of their configured type (`EC2_LINUX` by default),
//! what EKS cannot express is skipped with the reason. It compares nothing with EKS: that is [`super::plan()`].

use std::collections::BTreeMap;

use super::model::{
    CLUSTER_ADMIN_POLICY_NAME, DesiredEntry, EC2_LINUX, EntrySkip, Policy,
    RESERVED_USERNAME_PREFIXES, STANDARD, Scope, policy_arn,
};
use crate::core::aws_auth::SectionName;
use crate::core::desired::{DesiredMapping, DesiredSet};
use crate::core::guards::{MASTERS, NODES};
use crate::core::names::{account_of, principal_key, split_arn};
use crate::core::settings::AccessPolicy;

/// The desired set in access-entry terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    /// By lowercase canonical principal ARN.
    pub entries: BTreeMap<String, DesiredEntry>,
    pub skipped: Vec<EntrySkip>,
}

/// Translates a desired set by EKS's rules. `cluster_account` (from the cluster ARN) decides
/// which roles can be node entries.
pub fn translate(desired: &DesiredSet, cluster_account: Option<&str>) -> Translation {
    let mut out = Translation::default();
    for (section, is_role) in [
        (SectionName::MapRoles, true),
        (SectionName::MapUsers, false),
    ] {
        for mapping in desired.mappings(section) {
            match translate_one(mapping, is_role, cluster_account) {
                Ok(entry) => {
                    out.entries.insert(principal_key(&mapping.arn), entry);
                }
                Err(reason) => out.skipped.push(EntrySkip {
                    key: mapping.configured_arn.clone(),
                    reason,
                }),
            }
        }
    }
    for (account, _) in desired.accounts() {
        out.skipped.push(EntrySkip {
            key: account.clone(),
            reason:
                "mapAccounts has no access-entry equivalent (each principal needs its own entry)"
                    .to_owned(),
        });
    }
    out
}

fn translate_one(
    mapping: &DesiredMapping,
    is_role: bool,
    cluster_account: Option<&str>,
) -> Result<DesiredEntry, String> {
    let partition = split_arn(&mapping.arn).map_or("aws", |parts| parts.partition);
    let configured_type = mapping.access.entry_type;
    let node_type = match configured_type {
        Some(t) if t.is_node() => Some(t.as_str()),
        Some(_) => None,
        // A node role mapping (aws-auth style) is EC2_LINUX unless told otherwise.
        None => mapping
            .groups
            .iter()
            .any(|g| g == NODES)
            .then_some(EC2_LINUX),
    };
    if let Some(node_type) = node_type {
        if !is_role {
            return Err(format!(
                "{NODES} needs a node entry ({node_type}), which only an IAM role can have"
            ));
        }
        let account = account_of(&mapping.arn);
        if let (Some(cluster), Some(role)) = (cluster_account, account)
            && cluster != role
        {
            return Err(format!(
                "a node entry ({node_type}) needs a role of the cluster's account {cluster}, not {role}"
            ));
        }
        // Validation allows policies on node types only for EC2 (AmazonEKSAutoNodePolicy).
        let policies = mapping
            .access
            .policies
            .iter()
            .map(|p| policy_of(partition, p))
            .collect();
        return Ok(DesiredEntry {
            principal_arn: mapping.configured_arn.clone(),
            entry_type: node_type.to_owned(),
            username: None,
            groups: Vec::new(),
            policies,
            principal_id: mapping.principal_id.clone(),
            reason: format!("{} (node role: {node_type})", mapping.reason),
        });
    }
    if let Some(prefix) = RESERVED_USERNAME_PREFIXES
        .iter()
        .find(|p| mapping.username.starts_with(**p))
    {
        return Err(format!(
            "username {} starts with {prefix}, which EKS reserves on {STANDARD} entries",
            mapping.username
        ));
    }
    let mut groups = Vec::new();
    let mut policies: Vec<Policy> = Vec::new();
    for group in &mapping.groups {
        if group == MASTERS {
            policies.push(Policy {
                policy_arn: policy_arn(partition, CLUSTER_ADMIN_POLICY_NAME),
                scope: Scope::Cluster,
            });
        } else if group.starts_with("system:") {
            return Err(format!(
                "group {group} cannot be given on a {STANDARD} entry (EKS rejects system: groups; only {MASTERS} has a policy equivalent)"
            ));
        } else if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    for configured in &mapping.access.policies {
        let policy = policy_of(partition, configured);
        // system:masters already gives ClusterAdmin cluster-wide, the widest scope.
        if !policies.iter().any(|p| p.policy_arn == policy.policy_arn) {
            policies.push(policy);
        }
    }
    Ok(DesiredEntry {
        principal_arn: mapping.configured_arn.clone(),
        entry_type: STANDARD.to_owned(),
        username: Some(mapping.username.clone()),
        groups,
        policies,
        principal_id: mapping.principal_id.clone(),
        reason: mapping.reason.clone(),
    })
}

/// A configured policy as EKS associates it.
fn policy_of(partition: &str, policy: &AccessPolicy) -> Policy {
    Policy {
        policy_arn: policy_arn(partition, &policy.name),
        scope: if policy.is_cluster_scope() {
            Scope::Cluster
        } else {
            Scope::Namespaces(policy.namespaces.clone())
        },
    }
}
