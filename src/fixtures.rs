//! Test builders shared by the unit tests, the integration tests and the benches: desired sets,
//! aws-auth ConfigMap data and current access entries, each from a few calls instead of a
//! pasted wall of YAML or struct literals.
//!
//! Pure and small, compiled always (integration tests cannot see `#[cfg(test)]` items) but
//! hidden from the docs: nothing in the product calls it. Builders panic on input the product
//! would reject, because a test that builds it is wrong.
//!
//! ```
//! use eks_iam_sync::fixtures::{DesiredBuilder, aws_auth_data, managed_role, role_arn};
//! let desired = DesiredBuilder::new().role(&role_arn("admin"), "admin", &["system:masters"]);
//! let current = aws_auth_data(&managed_role("old", &["viewers"]), "", "");
//! # let _ = (desired, current);
//! ```

use std::collections::BTreeMap;

use crate::core::access_entries::{
    CLUSTER_ADMIN_POLICY_NAME, CurrentEntry, EC2_LINUX, MANAGED_TAG, MANAGED_VALUE,
    PRINCIPAL_ID_TAG, Policy, STANDARD, Scope, policy_arn,
};
use crate::core::aws_auth::{ConfigMapData, SectionName};
use crate::core::desired::{Access, DesiredSet};

/// The account every fixture principal lives in.
pub const ACCOUNT: &str = "111122223333";

/// `arn:aws:iam::111122223333:role/NAME`.
pub fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// `arn:aws:iam::111122223333:user/NAME`.
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

/// Owned strings from string literals (group lists).
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A desired set: `DesiredBuilder::new().user(ALICE, "alice", &["system:masters"]).account(..)`.
/// The set itself is `.0`.
#[derive(Debug, Clone, Default)]
pub struct DesiredBuilder(pub DesiredSet);

impl DesiredBuilder {
    pub fn new() -> DesiredBuilder {
        DesiredBuilder::default()
    }

    /// Adds a role mapping (`configured in roles`).
    pub fn role(mut self, arn: &str, username: &str, groups: &[&str]) -> DesiredBuilder {
        self.0
            .add_role(
                "roles",
                arn,
                username,
                &strings(groups),
                "configured in roles",
            )
            .expect("a valid desired role");
        self
    }

    /// Adds a user mapping (`configured in users`).
    pub fn user(mut self, arn: &str, username: &str, groups: &[&str]) -> DesiredBuilder {
        self.0
            .add_user(
                "users",
                arn,
                username,
                &strings(groups),
                "configured in users",
            )
            .expect("a valid desired user");
        self
    }

    /// Adds a role (`MapRoles`) or user (`MapUsers`) mapping with access policies or an entry
    /// type (`configured in roles` / `users`).
    pub fn with(
        mut self,
        section: SectionName,
        arn: &str,
        (username, groups): (&str, &[&str]),
        access: &Access,
    ) -> DesiredBuilder {
        let (place, reason) = match section {
            SectionName::MapRoles => ("roles", "configured in roles"),
            _ => ("users", "configured in users"),
        };
        let groups = strings(groups);
        self.0
            .add_with(section, place, arn, (username, &groups, access), reason)
            .expect("a valid desired mapping");
        self
    }

    /// Adds role `NAME` of [`ACCOUNT`], with username `NAME`.
    pub fn named_role(self, name: &str, groups: &[&str]) -> DesiredBuilder {
        self.role(&role_arn(name), name, groups)
    }

    /// Adds user `NAME` of [`ACCOUNT`], with username `NAME`.
    pub fn named_user(self, name: &str, groups: &[&str]) -> DesiredBuilder {
        self.user(&user_arn(name), name, groups)
    }

    /// Adds an account to mapAccounts.
    pub fn account(mut self, id: &str) -> DesiredBuilder {
        self.0
            .add_account("accounts", id, "configured in accounts")
            .expect("a valid account id");
        self
    }

    /// Records the IAM unique id of a principal already added.
    pub fn id(mut self, arn: &str, id: &str) -> DesiredBuilder {
        assert!(self.0.set_principal_id(arn, id), "{arn} is not desired");
        self
    }
}

/// aws-auth ConfigMap data with the given section texts (an empty text leaves its key out).
pub fn aws_auth_data(roles: &str, users: &str, accounts: &str) -> ConfigMapData {
    let data = [
        ("mapRoles", roles),
        ("mapUsers", users),
        ("mapAccounts", accounts),
    ]
    .into_iter()
    .filter(|(_, text)| !text.is_empty())
    .map(|(key, text)| (key.to_owned(), text.to_owned()))
    .collect();
    ConfigMapData {
        data,
        annotations: BTreeMap::new(),
    }
}

/// A `mapRoles` entry for role `NAME` (username `NAME`) as eks-iam-sync writes it, marked ours.
pub fn managed_role(name: &str, groups: &[&str]) -> String {
    let groups: String = groups.iter().map(|g| format!("    - {g}\n")).collect();
    format!(
        "- rolearn: {}\n  username: {name}\n  groups:\n{groups}  managedBy: eks-iam-sync\n",
        role_arn(name)
    )
}

/// A current `STANDARD` access entry, unmanaged until [`EntryBuilder::managed`].
pub fn entry(arn: &str, username: &str, groups: &[&str]) -> CurrentEntry {
    CurrentEntry {
        principal_arn: arn.to_owned(),
        entry_type: STANDARD.to_owned(),
        username: Some(username.to_owned()),
        groups: strings(groups),
        ..CurrentEntry::default()
    }
}

/// `AmazonEKSClusterAdminPolicy` at cluster scope.
pub fn admin_policy() -> Policy {
    Policy {
        policy_arn: policy_arn("aws", CLUSTER_ADMIN_POLICY_NAME),
        scope: Scope::Cluster,
    }
}

/// `AmazonEKSViewPolicy` at cluster scope.
pub fn view_policy() -> Policy {
    Policy {
        policy_arn: policy_arn("aws", "AmazonEKSViewPolicy"),
        scope: Scope::Cluster,
    }
}

/// Builder steps for a [`CurrentEntry`]: `entry(ALICE, "alice", &[]).managed().with(admin_policy())`.
pub trait EntryBuilder {
    /// Tagged as ours.
    fn managed(self) -> Self;
    /// With a policy associated.
    fn with(self, policy: Policy) -> Self;
    /// Tagged with the IAM unique id it was created for.
    fn id(self, id: &str) -> Self;
    /// An `EC2_LINUX` node entry (EKS's default username, no groups).
    fn node(self) -> Self;
}

impl EntryBuilder for CurrentEntry {
    fn managed(mut self) -> CurrentEntry {
        self.tags
            .insert(MANAGED_TAG.to_owned(), MANAGED_VALUE.to_owned());
        self
    }

    fn with(mut self, policy: Policy) -> CurrentEntry {
        self.policies.push(policy);
        self
    }

    fn id(mut self, id: &str) -> CurrentEntry {
        self.tags.insert(PRINCIPAL_ID_TAG.to_owned(), id.to_owned());
        self
    }

    fn node(mut self) -> CurrentEntry {
        self.entry_type = EC2_LINUX.to_owned();
        self.username = Some("system:node:{{EC2PrivateDNSName}}".to_owned());
        self.groups.clear();
        self
    }
}
