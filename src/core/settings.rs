//! The validated configuration: what the rest of the program (and the pure core) uses.
//!
//! These types are produced only by `crate::config` (raw schema → validation → here), which
//! guarantees what the field docs say; this module holds no rule of its own and reads nothing.

use std::time::Duration;

use serde::Deserialize;

use crate::core::names::IamArn;

/// The default for `guards.maxRemovalFraction`.
pub const DEFAULT_MAX_REMOVAL_FRACTION: f64 = 0.5;
/// The default for `driftRepairInterval`: how long a hand edit of one of our access entries
/// may stand before a full run re-reads (and repairs) it.
pub const DEFAULT_DRIFT_REPAIR_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// The default for `review.prefix`.
pub const DEFAULT_REVIEW_PREFIX: &str = "eks-iam-sync/reviews/";
/// The default for `review.schedule`.
pub const DEFAULT_REVIEW_SCHEDULE: &str = "rate(1 day)";
/// The default for `history.prefix`.
pub const DEFAULT_HISTORY_PREFIX: &str = "eks-iam-sync/";

/// How a cluster's access is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Decided per cluster at run time from its authentication mode.
    #[default]
    Auto,
    /// The `kube-system/aws-auth` ConfigMap.
    AwsAuth,
    /// EKS access entries.
    AccessEntries,
}

/// The validated configuration. Every cluster reference resolves, every ARN parses, every
/// default is filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub clusters: Vec<Cluster>,
    pub groups: Vec<GroupMapping>,
    pub users: Vec<PrincipalMapping>,
    pub roles: Vec<PrincipalMapping>,
    pub sso_permission_sets: Vec<SsoPermissionSetMapping>,
    /// 12-digit account ids for `mapAccounts`.
    pub accounts: Vec<String>,
    pub guards: Guards,
    /// `iam.assumeRoleArn`: IAM users and groups are read through this role (the synced
    /// account); `None`, with the function's own credentials.
    pub iam_assume_role_arn: Option<IamArn>,
    /// `driftRepairInterval`: every access entry is described again at least this often by
    /// full runs (between, a run describes what it changes and a rotating share).
    pub drift_repair_interval: Duration,
    /// `review`: where the Lambda writes its access review, when configured.
    pub review: Option<ReviewSettings>,
    /// `history`: where every access change is recorded, when configured.
    pub history: Option<HistorySettings>,
}

/// `review`: the S3 location of the Lambda's access reports (issue 22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSettings {
    /// A valid S3 bucket name.
    pub bucket: String,
    /// Empty or ending in `/`, no leading `/`.
    pub prefix: String,
    /// `rate(...)` or `cron(...)`: what the templates schedule the review with.
    pub schedule: String,
}

/// `history`: the S3 location of the change records, and the bus they are also put on
/// (issue 23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    /// A valid S3 bucket name.
    pub bucket: String,
    /// Empty or ending in `/`, no leading `/`.
    pub prefix: String,
    /// An EventBridge bus name or ARN.
    pub event_bus: Option<String>,
}

impl Settings {
    /// The cluster with this exact name.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// Every cluster name, in configuration order.
    pub fn cluster_names(&self) -> Vec<String> {
        self.clusters.iter().map(|c| c.name.clone()).collect()
    }
}

/// One EKS cluster to keep in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub region: String,
    /// Role to assume for this cluster's EKS/Kubernetes calls (cross-account).
    pub assume_role_arn: Option<IamArn>,
    pub backend: Backend,
}

/// An access policy a mapping grants on access-entries clusters (`accessPolicies[]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccessPolicy {
    /// The policy's short name (`AmazonEKSEditPolicy`), validated against
    /// [`ACCESS_POLICY_NAMES`] (a full ARN in the configuration is reduced to its name).
    pub name: String,
    /// Sorted, deduplicated namespaces (`team-a`, `team-a-*`); empty: cluster scope.
    pub namespaces: Vec<String>,
}

impl AccessPolicy {
    /// A policy at cluster scope.
    pub fn cluster(name: &str) -> Self {
        AccessPolicy {
            name: name.to_owned(),
            namespaces: Vec::new(),
        }
    }

    /// A policy scoped to `namespaces` (sorted and deduplicated here).
    pub fn namespaced(name: &str, namespaces: &[&str]) -> Self {
        let mut namespaces: Vec<String> = namespaces.iter().map(|n| (*n).to_owned()).collect();
        namespaces.sort();
        namespaces.dedup();
        AccessPolicy {
            name: name.to_owned(),
            namespaces,
        }
    }

    pub fn is_cluster_scope(&self) -> bool {
        self.namespaces.is_empty()
    }
}

/// The access policies EKS offers to customers for general principals.
pub const ACCESS_POLICY_NAMES: &[&str] = &[
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSSecretReaderPolicy",
];

/// The one policy an `EC2` (EKS Auto Mode node class) entry may have.
pub const AUTO_NODE_POLICY_NAME: &str = "AmazonEKSAutoNodePolicy";

/// `roles[].accessEntryType`: the access-entry type of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryType {
    Standard,
    Ec2Linux,
    Ec2Windows,
    FargateLinux,
    HybridLinux,
    /// EKS Auto Mode custom node classes.
    Ec2,
}

impl EntryType {
    pub const ALL: [EntryType; 6] = [
        EntryType::Standard,
        EntryType::Ec2Linux,
        EntryType::Ec2Windows,
        EntryType::FargateLinux,
        EntryType::HybridLinux,
        EntryType::Ec2,
    ];

    /// EKS's name (`EC2_LINUX`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::Standard => "STANDARD",
            EntryType::Ec2Linux => "EC2_LINUX",
            EntryType::Ec2Windows => "EC2_WINDOWS",
            EntryType::FargateLinux => "FARGATE_LINUX",
            EntryType::HybridLinux => "HYBRID_LINUX",
            EntryType::Ec2 => "EC2",
        }
    }

    /// Parses EKS's name.
    pub fn parse(text: &str) -> Option<EntryType> {
        EntryType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// A node type (anything but `STANDARD`).
    pub fn is_node(self) -> bool {
        self != EntryType::Standard
    }
}

/// Members of `iam_group` get `username_prefix + user name` and `kubernetes_groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub iam_group: String,
    pub kubernetes_groups: Vec<String>,
    pub username_prefix: String,
    /// Access policies granted on access-entries clusters.
    pub access_policies: Vec<AccessPolicy>,
    /// The clusters this mapping applies to (every cluster when the config omits `clusters`).
    pub clusters: Vec<String>,
}

/// A statically configured IAM user or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalMapping {
    pub arn: IamArn,
    /// Empty only for a node `access_entry_type` (EKS sets the username).
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    pub access_policies: Vec<AccessPolicy>,
    /// `roles[].accessEntryType` (always `None` for users).
    pub access_entry_type: Option<EntryType>,
    pub clusters: Vec<String>,
}

/// The role(s) IAM Identity Center creates for permission set `name`
/// (`AWSReservedSSO_<name>_<hex>`), found by name at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPermissionSetMapping {
    pub name: String,
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    pub access_policies: Vec<AccessPolicy>,
    pub clusters: Vec<String>,
}

/// Limits on what one run may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guards {
    /// Refuse a plan that removes more than this fraction of the managed entries, in (0, 1].
    pub max_removal_fraction: f64,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            max_removal_fraction: DEFAULT_MAX_REMOVAL_FRACTION,
        }
    }
}
