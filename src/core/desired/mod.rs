//! The desired managed set: what eks-iam-sync wants aws-auth to hold on its behalf.
//!
//! Built either from IAM (by the reconciler) or from a file in aws-auth's own shape (by
//! `render`). Construction canonicalizes ARNs (role paths dropped, assumed-role sessions
//! turned into roles, each with a warning) and rejects contradictions, so the planner only
//! ever sees one clean entry per principal. Each mapping also keeps the ARN as configured
//! (role path kept) and, when IAM was read for it, the principal's unique id: the
//! access-entries backend needs both, aws-auth neither. Each mapping also carries its
//! [`Access`] (issue 13: access policies with their scopes, a role's entry type): the
//! access-entries translation uses it whole; aws-auth gets what it can express of it
//! ([`DesiredSet::for_aws_auth`], in [`aws_auth_view`]).
//!
//! Where a desired set comes from: [`from_iam`] (a full reconcile: configuration + IAM),
//! [`user_event`] (one user's IAM event), [`DesiredSet::from_aws_auth_shape`] (`render`).

pub mod aws_auth_view;
pub mod from_iam;
pub mod user_event;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::core::aws_auth::{ItemValue, SectionName};
use crate::core::names::{ArnError, canonical_role_arn, canonical_user_arn, is_account_id};
use crate::core::settings::{AccessPolicy, EntryType};

pub use aws_auth_view::AwsAuthView;

/// What a mapping grants beyond aws-auth's username and groups (issue 13): access policies,
/// and for roles the access-entry type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Sorted by name, one per name.
    pub policies: Vec<AccessPolicy>,
    pub entry_type: Option<EntryType>,
}

impl Access {
    /// `policies` (merged per name: namespaces united, cluster scope wins) and no type.
    pub fn policies(policies: &[AccessPolicy]) -> Access {
        let mut access = Access::default();
        access.merge(policies);
        access
    }

    /// Adds `policies` to these: a policy given twice keeps the union of its namespaces, or
    /// cluster scope when either is cluster-wide.
    pub fn merge(&mut self, policies: &[AccessPolicy]) {
        for policy in policies {
            match self.policies.iter_mut().find(|p| p.name == policy.name) {
                None => self.policies.push(policy.clone()),
                Some(have) if have.is_cluster_scope() => {}
                Some(have) if policy.is_cluster_scope() => have.namespaces.clear(),
                Some(have) => {
                    have.namespaces.extend(policy.namespaces.iter().cloned());
                    have.namespaces.sort();
                    have.namespaces.dedup();
                }
            }
        }
        self.policies.sort();
    }

    /// A node type: no username needed.
    pub fn is_node(&self) -> bool {
        self.entry_type.is_some_and(EntryType::is_node)
    }
}

/// One desired role or user mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredMapping {
    /// Canonical ARN (what aws-auth is written with).
    pub arn: String,
    /// The ARN as configured or read from IAM, role path kept (what access entries are
    /// created with; EKS accepts role ARNs with their path there). Equal to `arn` for users.
    pub configured_arn: String,
    /// The principal's IAM unique id (`AIDA…`/`AROA…`) when IAM was read for it; access
    /// entries are recreated when it changes (a deleted and recreated principal).
    pub principal_id: Option<String>,
    /// Empty only for a node entry type.
    pub username: String,
    pub groups: Vec<String>,
    /// Access policies and entry type (access entries; aws-auth expresses what it can).
    pub access: Access,
    /// Why it is desired ("member of IAM group eks-admins"), for the plan.
    pub reason: String,
}

/// The complete managed set for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredSet {
    roles: BTreeMap<String, DesiredMapping>,
    users: BTreeMap<String, DesiredMapping>,
    accounts: BTreeMap<String, String>,
    warnings: Vec<String>,
}

/// A desired entry that cannot be accepted; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    #[error("{place}: {source}")]
    Arn {
        place: String,
        #[source]
        source: ArnError,
    },
    #[error("{place}: account id `{value}` must be exactly 12 digits, written as a quoted string")]
    Account { place: String, value: String },
    #[error("{place}: {field} must not be empty")]
    Empty { place: String, field: &'static str },
    #[error(
        "{place}: {arn} is already desired ({first}) with a different username, groups, access policies or entry type"
    )]
    Conflict {
        place: String,
        arn: String,
        first: String,
    },
    #[error("{0}")]
    Syntax(String),
}

fn arn_error(place: &str) -> impl FnOnce(ArnError) -> DesiredError + '_ {
    move |source| DesiredError::Arn {
        place: place.to_owned(),
        source,
    }
}

impl DesiredSet {
    /// Adds a role mapping (`place` names it in messages, e.g. `mapRoles[2]`).
    pub fn add_role(
        &mut self,
        place: &str,
        arn: &str,
        username: &str,
        groups: &[String],
        reason: &str,
    ) -> Result<(), DesiredError> {
        let mapping = (username, groups, &Access::default());
        self.add_with(SectionName::MapRoles, place, arn, mapping, reason)
    }

    /// Adds a user mapping; user ARNs keep their path.
    pub fn add_user(
        &mut self,
        place: &str,
        arn: &str,
        username: &str,
        groups: &[String],
        reason: &str,
    ) -> Result<(), DesiredError> {
        let mapping = (username, groups, &Access::default());
        self.add_with(SectionName::MapUsers, place, arn, mapping, reason)
    }

    /// Adds a role (`MapRoles`) or user (`MapUsers`) mapping with its access policies and, for
    /// a role, its entry type.
    pub fn add_with(
        &mut self,
        section: SectionName,
        place: &str,
        arn: &str,
        mapping: (&str, &[String], &Access),
        reason: &str,
    ) -> Result<(), DesiredError> {
        let arns = if section == SectionName::MapRoles {
            let canonical = canonical_role_arn(arn).map_err(arn_error(place))?;
            if let Some(original) = &canonical.rewritten_from {
                self.warnings.push(format!(
                    "{place}: role ARN {original} written as {} (EKS matches roles without their path or session)",
                    canonical.arn
                ));
            }
            // An STS session ARN is never a principal: its role ARN is all we know.
            let configured = if arn.contains(":sts:") {
                canonical.arn.clone()
            } else {
                arn.to_owned()
            };
            (canonical.arn, configured)
        } else {
            let canonical = canonical_user_arn(arn).map_err(arn_error(place))?;
            (canonical.arn.clone(), canonical.arn)
        };
        self.add(section, place, arns, mapping, reason)
    }

    /// Adds an account to mapAccounts.
    pub fn add_account(
        &mut self,
        place: &str,
        account: &str,
        reason: &str,
    ) -> Result<(), DesiredError> {
        if !is_account_id(account) {
            return Err(DesiredError::Account {
                place: place.to_owned(),
                value: account.to_owned(),
            });
        }
        self.accounts
            .entry(account.to_owned())
            .or_insert_with(|| reason.to_owned());
        Ok(())
    }

    /// Adds an aws-auth entry as it stands: an account, or a role or user mapping by its
    /// section (`place` and `reason` name it in messages and in the plan).
    pub fn add_aws_auth_entry(
        &mut self,
        section: SectionName,
        place: &str,
        value: &ItemValue,
        reason: &str,
    ) -> Result<(), DesiredError> {
        match value {
            ItemValue::Account(id) => self.add_account(place, id, reason),
            ItemValue::Mapping(m) => {
                let username = m.username.clone().unwrap_or_default();
                if section == SectionName::MapRoles {
                    self.add_role(place, &m.arn, &username, &m.groups, reason)
                } else {
                    self.add_user(place, &m.arn, &username, &m.groups, reason)
                }
            }
        }
    }

    fn add(
        &mut self,
        section: SectionName,
        place: &str,
        (arn, configured_arn): (String, String),
        (username, groups, access): (&str, &[String], &Access),
        reason: &str,
    ) -> Result<(), DesiredError> {
        if username.trim().is_empty() && !access.is_node() {
            return Err(DesiredError::Empty {
                place: place.to_owned(),
                field: "username",
            });
        }
        let mut groups = groups.to_vec();
        groups.dedup();
        let entry = DesiredMapping {
            arn: arn.clone(),
            configured_arn,
            principal_id: None,
            username: username.to_owned(),
            groups,
            access: access.clone(),
            reason: reason.to_owned(),
        };
        let map = if section == SectionName::MapRoles {
            &mut self.roles
        } else {
            &mut self.users
        };
        match map.get(&arn.to_ascii_lowercase()) {
            Some(existing)
                if existing.username == entry.username
                    && existing.groups == entry.groups
                    && existing.access == entry.access =>
            {
                Ok(())
            }
            Some(existing) => Err(DesiredError::Conflict {
                place: place.to_owned(),
                arn,
                first: existing.reason.clone(),
            }),
            None => {
                map.insert(arn.to_ascii_lowercase(), entry);
                Ok(())
            }
        }
    }

    /// Desired mappings of a section, sorted by lowercase ARN (the order they are written in);
    /// empty for mapAccounts.
    pub fn mappings(&self, section: SectionName) -> Vec<&DesiredMapping> {
        match section {
            SectionName::MapRoles => self.roles.values().collect(),
            SectionName::MapUsers => self.users.values().collect(),
            SectionName::MapAccounts => Vec::new(),
        }
    }

    /// Records the IAM unique id of a desired principal (matched by canonical ARN, any case).
    /// Returns false when no role or user mapping has that ARN.
    pub fn set_principal_id(&mut self, canonical_arn: &str, id: &str) -> bool {
        let key = canonical_arn.to_ascii_lowercase();
        match self.roles.get_mut(&key).or(self.users.get_mut(&key)) {
            Some(mapping) => {
                mapping.principal_id = Some(id.to_owned());
                true
            }
            None => false,
        }
    }

    /// Desired accounts with their reasons, sorted.
    pub fn accounts(&self) -> impl Iterator<Item = (&String, &String)> {
        self.accounts.iter()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn len(&self) -> usize {
        self.roles.len() + self.users.len() + self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads a desired set in aws-auth's own shape (`render --desired`): `mapRoles: [{rolearn,
    /// username, groups}]`, `mapUsers: [{userarn, username, groups}]`, `mapAccounts: ["..."]`,
    /// each key optional. YAML or JSON.
    pub fn from_aws_auth_shape(text: &str) -> Result<DesiredSet, DesiredError> {
        let file: DesiredFile = if text.trim().is_empty() {
            DesiredFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| DesiredError::Syntax(e.to_string()))?
        };
        let mut set = DesiredSet::default();
        for (i, role) in file.map_roles.iter().enumerate() {
            let reason = format!("listed in the desired file (mapRoles[{i}])");
            set.add_role(
                &format!("mapRoles[{i}]"),
                &role.rolearn,
                &role.username,
                &role.groups,
                &reason,
            )?;
        }
        for (i, user) in file.map_users.iter().enumerate() {
            let reason = format!("listed in the desired file (mapUsers[{i}])");
            set.add_user(
                &format!("mapUsers[{i}]"),
                &user.userarn,
                &user.username,
                &user.groups,
                &reason,
            )?;
        }
        for (i, account) in file.map_accounts.iter().enumerate() {
            set.add_account(
                &format!("mapAccounts[{i}]"),
                account,
                "listed in the desired file",
            )?;
        }
        Ok(set)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DesiredFile {
    #[serde(default)]
    map_roles: Vec<DesiredRoleIn>,
    #[serde(default)]
    map_users: Vec<DesiredUserIn>,
    #[serde(default)]
    map_accounts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesiredRoleIn {
    rolearn: String,
    username: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesiredUserIn {
    userarn: String,
    username: String,
    #[serde(default)]
    groups: Vec<String>,
}
