//! The access-entry model: entries as EKS holds them ([`CurrentEntry`]) and as the
//! configuration wants them ([`DesiredEntry`]), their policies, the EKS calls that change them
//! ([`Operation`]) and the planned changes ([`EntryChange`]).
//!
//! Values only: translating a desired set is [`super::translate()`], planning [`super::plan()`].

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

pub use crate::core::guards::CLUSTER_ADMIN_POLICY_NAME;

/// The tag that marks an access entry as ours.
pub const MANAGED_TAG: &str = "eks-iam-sync/managed";
/// The value of [`MANAGED_TAG`].
pub const MANAGED_VALUE: &str = "true";
/// The tag recording the IAM unique id the entry was created for.
pub const PRINCIPAL_ID_TAG: &str = "eks-iam-sync/principal-id";
/// EKS's quota of access entries per cluster (not adjustable).
pub const MAX_ACCESS_ENTRIES: usize = 3000;
/// Username prefixes EKS reserves on STANDARD entries.
pub const RESERVED_USERNAME_PREFIXES: &[&str] = &["system:", "eks:", "aws:", "amazon:", "iam:"];
/// The entry type of general principals.
pub const STANDARD: &str = "STANDARD";
/// The entry type of Linux EC2 node roles.
pub const EC2_LINUX: &str = "EC2_LINUX";

/// The ARN of an access policy in a partition.
pub fn policy_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:eks::aws:cluster-access-policy/{name}")
}

/// The name of an access policy ARN (`.../AmazonEKSViewPolicy` → `AmazonEKSViewPolicy`).
pub fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Where an associated policy applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Cluster,
    Namespaces(Vec<String>),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Cluster => f.write_str("cluster"),
            Scope::Namespaces(ns) => write!(f, "namespaces {}", ns.join(",")),
        }
    }
}

/// A policy associated with an entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Policy {
    pub policy_arn: String,
    pub scope: Scope,
}

/// A policy as reports show it: its short name and namespaces (empty for cluster scope).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyGrant {
    pub policy: String,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl PolicyGrant {
    pub fn of(policy: &Policy) -> PolicyGrant {
        PolicyGrant {
            policy: policy_name(&policy.policy_arn).to_owned(),
            namespaces: match &policy.scope {
                Scope::Cluster => Vec::new(),
                Scope::Namespaces(ns) => ns.clone(),
            },
        }
    }
}

/// An access entry as read from EKS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentEntry {
    pub principal_arn: String,
    pub entry_type: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub policies: Vec<Policy>,
    /// The policies were not read (an unmanaged entry of a principal nobody desires: the plan
    /// never touches it). Only the last-cluster-admin guard could need them; a plan refused
    /// by it while some entry is unread is made again with every entry read
    /// ([`crate::core::access_entries::AccessPlan::needs_every_policy`]).
    pub policies_unread: bool,
    /// When EKS created the entry (epoch seconds), when known: an entry older than its role
    /// belongs to an earlier role of the same name (the review's `stale-principal`).
    pub created_at: Option<i64>,
}

impl CurrentEntry {
    pub fn is_managed(&self) -> bool {
        self.tags.get(MANAGED_TAG).map(String::as_str) == Some(MANAGED_VALUE)
    }

    pub fn is_admin(&self) -> bool {
        self.policies.iter().any(is_cluster_admin)
    }
}

/// `AmazonEKSClusterAdminPolicy` at cluster scope: what makes an entry a cluster admin.
pub fn is_cluster_admin(p: &Policy) -> bool {
    policy_name(&p.policy_arn) == CLUSTER_ADMIN_POLICY_NAME && p.scope == Scope::Cluster
}

/// An access entry as the configuration wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredEntry {
    /// The ARN sent to EKS (role path kept).
    pub principal_arn: String,
    pub entry_type: String,
    /// `None` for node entries (EKS's default).
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub policies: Vec<Policy>,
    pub principal_id: Option<String>,
    pub reason: String,
}

impl DesiredEntry {
    /// The tags a new entry is created with.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::from([(MANAGED_TAG.to_owned(), MANAGED_VALUE.to_owned())]);
        if let Some(id) = &self.principal_id {
            tags.insert(PRINCIPAL_ID_TAG.to_owned(), id.clone());
        }
        tags
    }
}

/// A desired entry (or account) that is not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySkip {
    pub key: String,
    pub reason: String,
}

/// One EKS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Create {
        principal_arn: String,
        entry_type: String,
        username: Option<String>,
        groups: Vec<String>,
        tags: BTreeMap<String, String>,
    },
    Update {
        principal_arn: String,
        username: Option<String>,
        groups: Vec<String>,
    },
    Delete {
        principal_arn: String,
    },
    Associate {
        principal_arn: String,
        policy: Policy,
    },
    Disassociate {
        principal_arn: String,
        policy_arn: String,
    },
}

impl Operation {
    /// The EKS API name.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create { .. } => "CreateAccessEntry",
            Operation::Update { .. } => "UpdateAccessEntry",
            Operation::Delete { .. } => "DeleteAccessEntry",
            Operation::Associate { .. } => "AssociateAccessPolicy",
            Operation::Disassociate { .. } => "DisassociateAccessPolicy",
        }
    }

    pub fn principal_arn(&self) -> &str {
        match self {
            Operation::Create { principal_arn, .. }
            | Operation::Update { principal_arn, .. }
            | Operation::Delete { principal_arn }
            | Operation::Associate { principal_arn, .. }
            | Operation::Disassociate { principal_arn, .. } => principal_arn,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryChangeKind {
    Create,
    Update,
    /// Delete + create (type changed, or the principal was recreated).
    Recreate,
    Delete,
}

/// What an entry looks like (for reports and `describe()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryView {
    pub entry_type: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub policies: Vec<Policy>,
}

impl EntryView {
    pub fn of_current(e: &CurrentEntry) -> EntryView {
        EntryView {
            entry_type: e.entry_type.clone(),
            username: e.username.clone(),
            groups: e.groups.clone(),
            policies: e.policies.clone(),
        }
    }

    pub fn of_desired(e: &DesiredEntry) -> EntryView {
        EntryView {
            entry_type: e.entry_type.clone(),
            username: e.username.clone(),
            groups: e.groups.clone(),
            policies: e.policies.clone(),
        }
    }

    /// `type=STANDARD username=alice groups=[devs] policies=[AmazonEKSClusterAdminPolicy (cluster)]`.
    pub fn summary(&self) -> String {
        let mut out = format!("type={}", self.entry_type);
        if let Some(u) = &self.username {
            let _ = write!(out, " username={u}");
        }
        if !self.groups.is_empty() {
            let _ = write!(out, " groups=[{}]", self.groups.join(", "));
        }
        if !self.policies.is_empty() {
            let policies: Vec<String> = self
                .policies
                .iter()
                .map(|p| format!("{} ({})", policy_name(&p.policy_arn), p.scope))
                .collect();
            let _ = write!(out, " policies=[{}]", policies.join(", "));
        }
        out
    }
}

/// One planned change to one managed entry, with the EKS calls that make it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryChange {
    pub kind: EntryChangeKind,
    pub principal_arn: String,
    pub before: Option<EntryView>,
    pub after: Option<EntryView>,
    pub reason: String,
    pub operations: Vec<Operation>,
}
