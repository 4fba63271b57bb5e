//! The configuration: raw text or environment in, validated [`Settings`] out.
//!
//! # What this module owns
//! - The schema of issue 5 (`clusters`, `groups`, `users`, `roles`, `ssoPermissionSets`,
//!   `accounts`, `guards`), read as YAML (serde-saphyr) or JSON (serde_json) into
//!   [`RawConfig`] with `deny_unknown_fields`, so a typo in a key is an error, not a silent
//!   default.
//! - Validation of a [`RawConfig`] into [`Settings`], listing *every* [`Problem`] at once, each
//!   with its path (`groups[1].clusters[0]`), the offending value and why it is wrong. Nothing
//!   downstream needs to re-check what is checked here.
//! - The migration path from Qovery's iam-eks-user-mapper: its environment variables are mapped
//!   onto the same [`RawConfig`] and validated the same way ([`from_iam_eks_user_mapper_env`]).
//! - A thin loader ([`load`]) that picks the source from the environment map it is given; the
//!   only I/O in this module is reading the file named by `EKS_IAM_SYNC_CONFIG`.
//!
//! It deliberately does not canonicalise ARNs for aws-auth (that is `core::arn`'s job; the small
//! [`IamArn`] parser here only validates and splits, and can be merged into `core::arn`), look
//! anything up in AWS, or read `std::env` itself (the caller passes the environment, so tests can).
//!
//! # Where the configuration comes from ([`load`])
//! 1. `EKS_IAM_SYNC_CONFIG` set and not blank: if its value, after leading blanks, starts with
//!    `{` or contains a newline, it *is* the configuration (inline); otherwise it is a file path.
//!    (A one-line YAML document is therefore read as a path: write inline YAML on several lines
//!    or as JSON.)
//! 2. Otherwise, any iam-eks-user-mapper variable set ([`IAM_EKS_USER_MAPPER_VARS`]): the
//!    environment is the configuration (see [`from_iam_eks_user_mapper_env`]).
//! 3. Both at once is an error (which one wins would be a guess), and so is neither.
//!
//! Text whose first non-blank character is `{` (or a file named `*.json`) is parsed as JSON; if it
//! is not valid JSON but starts with `{`, it is retried as a YAML flow mapping. Everything else is
//! YAML. Syntax and shape errors (bad YAML, unknown key, wrong type) stop at the first one and name
//! its line and column; everything after that is validation and lists all problems.
//!
//! # Validation rules
//! - At least one cluster; cluster names are EKS names (letter or digit first, then letters,
//!   digits, `-`, `_`, at most 100) and unique; regions look like `eu-west-3` / `us-gov-west-1`
//!   (an availability zone such as `eu-west-3a` is called out); `assumeRoleArn` is an IAM *role*
//!   ARN in the region's partition.
//! - Every `clusters:` reference names a configured cluster, at most once; `clusters: []` is an
//!   error (omit the key to mean every cluster).
//! - ARNs: `arn:PARTITION:iam::ACCOUNT:user/...` under `users`, `...:role/...` under `roles`;
//!   partition `aws`, `aws-cn`, `aws-us-gov` or `aws-iso*`; 12-digit account; an STS
//!   assumed-role ARN is rejected with the role ARN to use instead. Duplicates are detected the
//!   way EKS compares: case-insensitively, and for roles without the path (aws-auth drops it).
//! - `kubernetesGroups` must be non-empty for `groups` and `ssoPermissionSets` (a mapping that
//!   grants no group is almost certainly a mistake there); `users` and `roles` may have none
//!   (RBAC can bind the username). Group names have no blanks and no duplicates. On a cluster with
//!   `backend: access-entries`, groups starting with `system:` are rejected by EKS, except
//!   `system:masters` (translated to AmazonEKSClusterAdminPolicy) and `system:bootstrappers` /
//!   `system:nodes` (node entries).
//! - Usernames are required for users, roles and permission sets, have no blanks, and may use
//!   only the authenticator's templates (`{{AccountID}}`, `{{SessionName}}`,
//!   `{{SessionNameRaw}}`, `{{EC2PrivateDNSName}}`, `{{AccessKeyID}}`).
//! - IAM group, user and permission-set names are unique case-insensitively (IAM's own rule).
//! - `accounts` are quoted 12-digit strings; a YAML/JSON number is an error that says to quote
//!   it (a number loses leading zeros).
//! - `guards.maxRemovalFraction` is in (0, 1], default 0.5.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The environment variable holding the configuration or the path to its file.
pub const CONFIG_ENV: &str = "EKS_IAM_SYNC_CONFIG";

/// Cluster name for the iam-eks-user-mapper mapping (that tool runs inside its cluster and has
/// no such variable, so the Lambda needs one).
pub const CLUSTER_NAME_ENV: &str = "EKS_IAM_SYNC_CLUSTER_NAME";

/// The iam-eks-user-mapper variables whose presence selects the env mapping.
pub const IAM_EKS_USER_MAPPER_VARS: &[&str] = &[
    "IAM_K8S_GROUPS",
    "ENABLE_GROUP_USER_SYNC",
    "ADMINS_USERS_ARNS",
    "ENABLE_SSO",
    "IAM_SSO_ROLE_ARN",
    "KARPENTER_ROLE_ARN",
    "KARPENTER_ARN",
];

/// The default for `guards.maxRemovalFraction`.
pub const DEFAULT_MAX_REMOVAL_FRACTION: f64 = 0.5;

/// Username iam-eks-user-mapper gives its SSO role mapping.
pub const QOVERY_SSO_USERNAME: &str = "cluster-admin-sso";
/// Username of a node role (Karpenter) mapping.
pub const NODE_USERNAME: &str = "system:node:{{EC2PrivateDNSName}}";
/// Kubernetes groups of a node role (Karpenter) mapping.
pub const NODE_GROUPS: &[&str] = &["system:bootstrappers", "system:nodes"];

const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];
const USERNAME_TEMPLATES: &[&str] = &[
    "AccountID",
    "SessionName",
    "SessionNameRaw",
    "EC2PrivateDNSName",
    "AccessKeyID",
];
/// `system:` groups that an access-entries cluster can still express.
const ACCESS_ENTRY_SYSTEM_GROUPS: &[&str] =
    &["system:masters", "system:bootstrappers", "system:nodes"];

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One thing wrong with a configuration: where, what, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `groups[1].clusters[0]`, or an environment variable name.
    pub path: String,
    /// The offending value as written (`None` when the value is missing).
    pub value: Option<String>,
    /// Why it is wrong, and what to do about it when that is known.
    pub why: String,
}

impl Problem {
    fn new(path: impl Into<String>, value: Option<&str>, why: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            value: value.map(str::to_owned),
            why: why.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}: {:?}: {}", self.path, value, self.why),
            None => write!(f, "{}: {}", self.path, self.why),
        }
    }
}

/// Problems, one per line (the form [`ConfigError::Invalid`] prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Why no [`Settings`] could be produced.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `EKS_IAM_SYNC_CONFIG` nor any iam-eks-user-mapper variable is set.
    #[error(
        "no configuration: set {CONFIG_ENV} to a YAML/JSON file path or inline document, \
         or set the iam-eks-user-mapper variables ({})",
        IAM_EKS_USER_MAPPER_VARS.join(", ")
    )]
    Missing,
    /// Both sources are set; using either would silently ignore the other.
    #[error(
        "{CONFIG_ENV} is set and so are iam-eks-user-mapper variables ({}); \
         remove one of the two so it is clear which configuration applies",
        vars.join(", ")
    )]
    Ambiguous { vars: Vec<String> },
    /// The file named by `EKS_IAM_SYNC_CONFIG` could not be read.
    #[error("{CONFIG_ENV}: cannot read config file {}: {source}{hint}", path.display())]
    Read {
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML/JSON for the schema (stops at the first error).
    #[error("{origin}: {}{message}", location(*line, *column))]
    Parse {
        origin: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The document parsed, but its content is wrong; every problem is listed.
    #[error("{origin}: {} problem(s) in the configuration:{problems}", problems.0.len())]
    Invalid { origin: String, problems: Problems },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line} column {column}: "),
        (Some(line), None) => format!("line {line}: "),
        _ => String::new(),
    }
}

impl ConfigError {
    /// The listed problems, when the error is a validation failure.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => &problems.0,
            _ => &[],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Raw schema (what the file says)
// ---------------------------------------------------------------------------------------------

/// The configuration document as written. Required keys default to empty so that validation
/// can report every missing one at once instead of stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawConfig {
    #[serde(default)]
    pub clusters: Vec<RawCluster>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub users: Vec<RawPrincipal>,
    #[serde(default)]
    pub roles: Vec<RawPrincipal>,
    #[serde(default)]
    pub sso_permission_sets: Vec<RawSsoPermissionSet>,
    #[serde(default)]
    pub accounts: Vec<RawAccountId>,
    #[serde(default)]
    pub guards: Option<RawGuards>,
}

/// `clusters[]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCluster {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub assume_role_arn: Option<String>,
    #[serde(default)]
    pub backend: Option<Backend>,
}

/// `groups[]` as written: the members of an IAM group become `mapUsers` entries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGroup {
    #[serde(default)]
    pub iam_group: String,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub username_prefix: Option<String>,
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// `users[]` / `roles[]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPrincipal {
    #[serde(default)]
    pub arn: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// `ssoPermissionSets[]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSsoPermissionSet {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// `guards` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGuards {
    #[serde(default)]
    pub max_removal_fraction: Option<f64>,
}

/// An `accounts[]` item as written: a string, or something else (a number, a bool) that
/// validation rejects with advice to quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawAccountId {
    Text(String),
    NotText(String),
}

impl<'de> Deserialize<'de> for RawAccountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawAccountId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 12-digit account id as a quoted string")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawAccountId, E> {
                Ok(RawAccountId::Text(v.to_owned()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawAccountId, E> {
                Ok(RawAccountId::NotText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawAccountId, E> {
                Ok(RawAccountId::NotText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawAccountId, E> {
                Ok(RawAccountId::NotText(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawAccountId, E> {
                Ok(RawAccountId::NotText(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// How a cluster's access is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
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

// ---------------------------------------------------------------------------------------------
// Validated settings (what the rest of the program uses)
// ---------------------------------------------------------------------------------------------

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

/// Members of `iam_group` get `username_prefix + user name` and `kubernetes_groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub iam_group: String,
    pub kubernetes_groups: Vec<String>,
    pub username_prefix: String,
    /// The clusters this mapping applies to (every cluster when the config omits `clusters`).
    pub clusters: Vec<String>,
}

/// A statically configured IAM user or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalMapping {
    pub arn: IamArn,
    pub username: String,
    pub kubernetes_groups: Vec<String>,
    pub clusters: Vec<String>,
}

/// The role(s) IAM Identity Center creates for permission set `name`
/// (`AWSReservedSSO_<name>_<hex>`), found by name at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPermissionSetMapping {
    pub name: String,
    pub username: String,
    pub kubernetes_groups: Vec<String>,
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

// ---------------------------------------------------------------------------------------------
// IAM principal ARNs (validation only; canonical forms live in core::arn)
// ---------------------------------------------------------------------------------------------

/// Whether an ARN names a user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    User,
    Role,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        })
    }
}

/// A validated IAM user or role ARN, split into its parts. The text is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamArn {
    text: String,
    partition: String,
    account_id: String,
    kind: PrincipalKind,
    /// `/` or `/a/b/`.
    path: String,
    name: String,
}

/// Why a string is not an IAM user or role ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("not an ARN: expected arn:PARTITION:iam::ACCOUNT:user/NAME or role/NAME")]
    NotAnArn,
    #[error("unknown partition `{0}` (expected aws, aws-cn, aws-us-gov or aws-iso*)")]
    Partition(String),
    #[error("an STS session ARN is not a principal: use {0}")]
    StsSession(String),
    #[error("service `{0}` is not iam (expected arn:PARTITION:iam::...)")]
    Service(String),
    #[error("IAM ARNs have no region, found `{0}`")]
    Region(String),
    #[error("account id `{0}` is not 12 digits")]
    Account(String),
    #[error("names a `{0}`, not a user or a role")]
    Resource(String),
    #[error("name `{0}` is empty or has characters IAM does not allow (letters, digits, +=,.@_-)")]
    Name(String),
    #[error("path `{0}` must start and end with `/`")]
    Path(String),
    #[error("this is a {found} ARN; {expected} ARNs go here")]
    WrongKind {
        expected: PrincipalKind,
        found: PrincipalKind,
    },
}

impl IamArn {
    /// Parses `arn:PARTITION:iam::ACCOUNT:user|role/[PATH/]NAME`.
    pub fn parse(text: &str) -> Result<IamArn, ArnError> {
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(res)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(ArnError::NotAnArn);
        };
        if !is_partition(partition) {
            return Err(ArnError::Partition(partition.to_owned()));
        }
        if let ("sts", Some(rest)) = (service, res.strip_prefix("assumed-role/")) {
            let role = rest.split('/').next().unwrap_or_default();
            return Err(ArnError::StsSession(format!(
                "arn:{partition}:iam::{account}:role/{role}"
            )));
        }
        if service != "iam" {
            return Err(ArnError::Service(service.to_owned()));
        }
        if !region.is_empty() {
            return Err(ArnError::Region(region.to_owned()));
        }
        if !is_account_id(account) {
            return Err(ArnError::Account(account.to_owned()));
        }
        let (kind, rest) = if let Some(rest) = res.strip_prefix("user/") {
            (PrincipalKind::User, rest)
        } else if let Some(rest) = res.strip_prefix("role/") {
            (PrincipalKind::Role, rest)
        } else {
            return Err(ArnError::Resource(
                res.split('/').next().unwrap_or_default().to_owned(),
            ));
        };
        let (path, name) = match rest.rfind('/') {
            Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
            None => ("/".to_owned(), rest),
        };
        if path.contains("//") {
            return Err(ArnError::Path(path));
        }
        if !is_iam_name(name) {
            return Err(ArnError::Name(name.to_owned()));
        }
        Ok(IamArn {
            text: text.to_owned(),
            partition: partition.to_owned(),
            account_id: account.to_owned(),
            kind,
            path,
            name: name.to_owned(),
        })
    }

    /// Parses and requires `kind`.
    pub fn parse_kind(text: &str, kind: PrincipalKind) -> Result<IamArn, ArnError> {
        let arn = IamArn::parse(text)?;
        if arn.kind != kind {
            return Err(ArnError::WrongKind {
                expected: kind,
                found: arn.kind,
            });
        }
        Ok(arn)
    }

    /// The ARN as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    pub fn partition(&self) -> &str {
        &self.partition
    }
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }
    /// The IAM path, `/` when there is none.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The user or role name (what CloudTrail calls `userName` / `roleName`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for IamArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `aws`, `aws-cn`, `aws-us-gov` or any `aws-iso*`.
pub fn is_partition(text: &str) -> bool {
    PARTITIONS.contains(&text)
        || text.strip_prefix("aws-iso").is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('-')
                    .is_some_and(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_lowercase()))
        })
}

/// Exactly 12 ASCII digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM user, group or role name: 1–128 of letters, digits and `+=,.@_-`.
pub fn is_iam_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The permission set name in an IAM Identity Center role name
/// (`AWSReservedSSO_<PermissionSet>_<hex suffix>`), or `None` for any other role.
pub fn sso_permission_set_of_role(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (name, suffix) = rest.rsplit_once('_')?;
    let hex = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !name.is_empty()).then_some(name)
}

/// The partition a region belongs to, or `None` when `region` is not shaped like a region.
/// Shapes: `eu-west-3`, `us-gov-west-1`, `us-iso-east-1`, `us-isob-east-1`, `cn-north-1`.
pub fn region_partition(region: &str) -> Option<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let (country, qualifier, direction, number) = match parts.as_slice() {
        [c, d, n] => (*c, None, *d, *n),
        [c, q, d, n] => (*c, Some(*q), *d, *n),
        _ => return None,
    };
    let number_ok =
        !number.is_empty() && number.len() <= 2 && number.bytes().all(|b| b.is_ascii_digit());
    if country.len() != 2 || !letters(country) || !letters(direction) || !number_ok {
        return None;
    }
    match qualifier {
        None if country == "cn" => Some("aws-cn".to_owned()),
        None => Some("aws".to_owned()),
        Some("gov") => Some("aws-us-gov".to_owned()),
        Some("iso") => Some("aws-iso".to_owned()),
        Some(q) if q.len() == 4 && q.starts_with("iso") && letters(q) => {
            Some(format!("aws-iso-{}", &q[3..]))
        }
        Some(_) => None,
    }
}

fn is_cluster_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 100
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The syntax of a configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

/// Loads and validates the configuration from `env` (normally `std::env::vars().collect()`),
/// following the rules in the module documentation. Reads at most one file.
pub fn load(env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
    let mapper_vars: Vec<String> = IAM_EKS_USER_MAPPER_VARS
        .iter()
        .filter(|v| env.contains_key(**v))
        .map(|v| (*v).to_owned())
        .collect();
    // A blank value counts as unset (an empty Lambda variable is easy to leave behind).
    match env.get(CONFIG_ENV).filter(|v| !v.trim().is_empty()) {
        Some(_) if !mapper_vars.is_empty() => Err(ConfigError::Ambiguous { vars: mapper_vars }),
        Some(value) if is_inline(value) => {
            from_text(value, &format!("{CONFIG_ENV} (inline)"), None)
        }
        Some(value) => {
            let path = Path::new(value);
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                hint: if value.contains(": ") {
                    " (this looks like one-line YAML: inline YAML must span several lines, or be JSON)"
                } else {
                    ""
                },
                source,
            })?;
            let format = path
                .extension()
                .is_some_and(|e| e == "json")
                .then_some(Format::Json);
            from_text(&text, &path.display().to_string(), format)
        }
        None if !mapper_vars.is_empty() => from_iam_eks_user_mapper_env(env),
        None => Err(ConfigError::Missing),
    }
}

/// The inline rule: a value starting (after blanks) with `{` or containing a newline is the
/// configuration itself; anything else is a file path.
pub fn is_inline(value: &str) -> bool {
    value.trim_start().starts_with('{') || value.contains('\n')
}

/// Parses `text` (JSON when `format` says so or the text starts with `{`, YAML otherwise) and
/// validates it. `origin` names the source in messages.
pub fn from_text(
    text: &str,
    origin: &str,
    format: Option<Format>,
) -> Result<Settings, ConfigError> {
    let raw = parse_raw(text, origin, format)?;
    validate(&raw).map_err(|problems| ConfigError::Invalid {
        origin: origin.to_owned(),
        problems: Problems(problems),
    })
}

/// Parses `text` into a [`RawConfig`] without validating it.
pub fn parse_raw(
    text: &str,
    origin: &str,
    format: Option<Format>,
) -> Result<RawConfig, ConfigError> {
    let looks_json = text.trim_start().starts_with('{');
    match format {
        Some(Format::Json) => parse_json(text, origin),
        Some(Format::Yaml) => parse_yaml(text, origin),
        None if looks_json => match parse_json(text, origin) {
            // Not JSON syntax, but maybe a YAML flow mapping (`{clusters: [...]}`).
            Err(json_err @ ConfigError::Parse { .. })
                if serde_json::from_str::<serde_json::Value>(text).is_err() =>
            {
                parse_yaml(text, origin).map_err(|_| json_err)
            }
            other => other,
        },
        None => parse_yaml(text, origin),
    }
}

fn parse_json(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::Parse {
        origin: format!("{origin} (JSON)"),
        line: (e.line() > 0).then_some(e.line()),
        column: (e.column() > 0).then_some(e.column()),
        message: strip_json_position(&e.to_string()),
    })
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn parse_yaml(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    if text.trim().is_empty() {
        // An empty document is an empty mapping: validation then says what is missing.
        return Ok(RawConfig::default());
    }
    serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location();
        ConfigError::Parse {
            origin: format!("{origin} (YAML)"),
            line: loc
                .as_ref()
                .and_then(|l| usize::try_from(l.line()).ok())
                .filter(|l| *l > 0),
            column: loc
                .as_ref()
                .and_then(|l| usize::try_from(l.column()).ok())
                .filter(|c| *c > 0),
            message: yaml_message(&e.to_string()),
        }
    })
}

/// serde-saphyr's message is `error: line L column C: WHY` followed by a source snippet;
/// keep WHY (the line and column are reported separately) and the snippet.
fn yaml_message(display: &str) -> String {
    let (first, rest) = display.split_once('\n').unwrap_or((display, ""));
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.find(": ") {
        Some(i) if first.starts_with("line ") => &first[i + 2..],
        _ => first,
    };
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}\n{rest}")
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Validates a raw configuration, returning every problem found (never just the first).
pub fn validate(raw: &RawConfig) -> Result<Settings, Vec<Problem>> {
    let mut v = Validator::default();
    let clusters = v.clusters(&raw.clusters);
    let all: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let backends: BTreeMap<String, Backend> = clusters
        .iter()
        .map(|c| (c.name.clone(), c.backend))
        .collect();
    v.all_clusters = all;
    v.backends = backends;

    let mut seen = Seen::default();
    let groups = raw
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let at = format!("groups[{i}]");
            if g.iam_group.is_empty() {
                v.push(
                    format!("{at}.iamGroup"),
                    None,
                    "required: the IAM group whose members get access",
                );
            } else if !is_iam_name(&g.iam_group) {
                v.push(
                    format!("{at}.iamGroup"),
                    Some(&g.iam_group),
                    "not an IAM group name (letters, digits, +=,.@_-)",
                );
            } else {
                seen.check(
                    &mut v,
                    &format!("{at}.iamGroup"),
                    &g.iam_group,
                    g.iam_group.to_ascii_lowercase(),
                    "IAM group",
                );
            }
            let prefix = g.username_prefix.clone().unwrap_or_default();
            if prefix
                .chars()
                .any(|c| c.is_whitespace() || c == '{' || c == '}')
            {
                v.push(
                    format!("{at}.usernamePrefix"),
                    Some(&prefix),
                    "must not contain blanks or template braces",
                );
            }
            let clusters = v.cluster_refs(&at, g.clusters.as_deref());
            let kubernetes_groups = v.kubernetes_groups(&at, &g.kubernetes_groups, true, &clusters);
            GroupMapping {
                iam_group: g.iam_group.clone(),
                kubernetes_groups,
                username_prefix: prefix,
                clusters,
            }
        })
        .collect();

    let users = v.principals("users", &raw.users, PrincipalKind::User, &mut seen);
    let roles = v.principals("roles", &raw.roles, PrincipalKind::Role, &mut seen);

    let sso_permission_sets = raw
        .sso_permission_sets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let at = format!("ssoPermissionSets[{i}]");
            if p.name.is_empty() {
                v.push(
                    format!("{at}.name"),
                    None,
                    "required: the permission set name",
                );
            } else if p.name.starts_with("AWSReservedSSO_") {
                let hint = match sso_permission_set_of_role(&p.name) {
                    Some(name) => {
                        format!("this is a role name; use the permission set name \"{name}\"")
                    }
                    None => "this is a role name; use the permission set name".to_owned(),
                };
                v.push(format!("{at}.name"), Some(&p.name), hint);
            } else if !is_iam_name(&p.name) || p.name.len() > 32 {
                v.push(
                    format!("{at}.name"),
                    Some(&p.name),
                    "not a permission set name (1-32 of letters, digits, +=,.@_-)",
                );
            } else {
                seen.check(
                    &mut v,
                    &format!("{at}.name"),
                    &p.name,
                    p.name.to_ascii_lowercase(),
                    "permission set",
                );
            }
            v.username(&format!("{at}.username"), &p.username);
            let clusters = v.cluster_refs(&at, p.clusters.as_deref());
            let kubernetes_groups = v.kubernetes_groups(&at, &p.kubernetes_groups, true, &clusters);
            SsoPermissionSetMapping {
                name: p.name.clone(),
                username: p.username.clone(),
                kubernetes_groups,
                clusters,
            }
        })
        .collect();

    let mut accounts = Vec::new();
    for (i, account) in raw.accounts.iter().enumerate() {
        let at = format!("accounts[{i}]");
        match account {
            RawAccountId::Text(text) if is_account_id(text) => {
                if seen.check(&mut v, &at, text, text.clone(), "account") {
                    accounts.push(text.clone());
                }
            }
            RawAccountId::Text(text) => v.push(at, Some(text), "an account id is exactly 12 digits"),
            RawAccountId::NotText(value) => v.push(
                at,
                Some(value),
                "an account id must be a string: quote it (\"012345678901\"); as a number it loses leading zeros",
            ),
        }
    }

    let guards = match raw.guards.as_ref().and_then(|g| g.max_removal_fraction) {
        None => Guards::default(),
        Some(f) if f.is_finite() && f > 0.0 && f <= 1.0 => Guards {
            max_removal_fraction: f,
        },
        Some(f) => {
            v.push(
                "guards.maxRemovalFraction",
                Some(&f.to_string()),
                "must be in (0, 1]: the largest fraction of managed entries one run may remove",
            );
            Guards::default()
        }
    };

    if v.problems.is_empty() {
        Ok(Settings {
            clusters,
            groups,
            users,
            roles,
            sso_permission_sets,
            accounts,
            guards,
        })
    } else {
        Err(v.problems)
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
    all_clusters: Vec<String>,
    backends: BTreeMap<String, Backend>,
}

/// First occurrence of each (kind, key), for duplicate detection across the document.
#[derive(Default)]
struct Seen(HashMap<(&'static str, String), String>);

impl Seen {
    /// Records `key`; reports a duplicate (and returns false) when it was already seen.
    fn check(
        &mut self,
        v: &mut Validator,
        path: &str,
        value: &str,
        key: String,
        what: &'static str,
    ) -> bool {
        match self.0.get(&(what, key.clone())) {
            Some(first) => {
                v.push(
                    path,
                    Some(value),
                    format!("duplicate {what} (first at {first})"),
                );
                false
            }
            None => {
                self.0.insert((what, key), path.to_owned());
                true
            }
        }
    }
}

impl Validator {
    fn push(&mut self, path: impl Into<String>, value: Option<&str>, why: impl Into<String>) {
        self.problems.push(Problem::new(path, value, why));
    }

    fn clusters(&mut self, raw: &[RawCluster]) -> Vec<Cluster> {
        if raw.is_empty() {
            self.push("clusters", None, "at least one cluster is required");
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, c) in raw.iter().enumerate() {
            let at = format!("clusters[{i}]");
            let mut ok = true;
            if c.name.is_empty() {
                self.push(format!("{at}.name"), None, "required: the EKS cluster name");
                ok = false;
            } else if !is_cluster_name(&c.name) {
                self.push(
                    format!("{at}.name"),
                    Some(&c.name),
                    "not an EKS cluster name (letter or digit first, then letters, digits, - and _; at most 100)",
                );
                ok = false;
            } else if let Some(first) = seen.get(c.name.as_str()) {
                self.push(
                    format!("{at}.name"),
                    Some(&c.name),
                    format!("duplicate cluster name (first at clusters[{first}])"),
                );
                ok = false;
            } else {
                seen.insert(&c.name, i);
            }
            let partition = if c.region.is_empty() {
                self.push(
                    format!("{at}.region"),
                    None,
                    "required: the cluster's region, e.g. eu-west-3",
                );
                None
            } else {
                let p = region_partition(&c.region);
                if p.is_none() {
                    let why = if region_partition(
                        c.region
                            .trim_end_matches(|ch: char| ch.is_ascii_lowercase()),
                    )
                    .is_some()
                    {
                        "this is an availability zone; use its region (without the trailing letter)"
                    } else {
                        "not an AWS region (expected e.g. eu-west-3, us-gov-west-1, cn-north-1)"
                    };
                    self.push(format!("{at}.region"), Some(&c.region), why);
                }
                p
            };
            let assume_role_arn = c.assume_role_arn.as_deref().and_then(|text| {
                let path = format!("{at}.assumeRoleArn");
                match IamArn::parse_kind(text, PrincipalKind::Role) {
                    Ok(arn) => {
                        if let Some(p) = partition.as_deref().filter(|p| *p != arn.partition()) {
                            self.push(
                                path,
                                Some(text),
                                format!(
                                    "role is in partition {}, but region {} is in partition {p}",
                                    arn.partition(),
                                    c.region
                                ),
                            );
                        }
                        Some(arn)
                    }
                    Err(e) => {
                        self.push(path, Some(text), e.to_string());
                        None
                    }
                }
            });
            if ok {
                out.push(Cluster {
                    name: c.name.clone(),
                    region: c.region.clone(),
                    assume_role_arn,
                    backend: c.backend.unwrap_or_default(),
                });
            }
        }
        out
    }

    /// Resolves a mapping's `clusters` (absent: every cluster).
    fn cluster_refs(&mut self, at: &str, refs: Option<&[String]>) -> Vec<String> {
        let Some(refs) = refs else {
            return self.all_clusters.clone();
        };
        if refs.is_empty() {
            self.push(
                format!("{at}.clusters"),
                None,
                "empty list: omit `clusters` to mean every cluster",
            );
        }
        let mut out: Vec<String> = Vec::new();
        for (j, name) in refs.iter().enumerate() {
            let path = format!("{at}.clusters[{j}]");
            if !self.backends.contains_key(name) {
                let known = self.all_clusters.join(", ");
                self.push(
                    path,
                    Some(name),
                    format!("unknown cluster (configured: {known})"),
                );
            } else if out.contains(name) {
                self.push(path, Some(name), "cluster listed twice");
            } else {
                out.push(name.clone());
            }
        }
        out
    }

    fn kubernetes_groups(
        &mut self,
        at: &str,
        groups: &[String],
        required: bool,
        clusters: &[String],
    ) -> Vec<String> {
        if required && groups.is_empty() {
            self.push(
                format!("{at}.kubernetesGroups"),
                None,
                "required: at least one Kubernetes group",
            );
        }
        let access_entry_clusters: Vec<&str> = clusters
            .iter()
            .filter(|c| self.backends.get(*c) == Some(&Backend::AccessEntries))
            .map(String::as_str)
            .collect();
        let mut out: Vec<String> = Vec::new();
        for (j, group) in groups.iter().enumerate() {
            let path = format!("{at}.kubernetesGroups[{j}]");
            if group.is_empty() || group.chars().any(char::is_whitespace) {
                self.push(
                    path,
                    Some(group),
                    "a Kubernetes group name is non-empty and has no blanks",
                );
            } else if out.contains(group) {
                self.push(path, Some(group), "group listed twice");
            } else {
                let untranslatable = group.starts_with("system:")
                    && !ACCESS_ENTRY_SYSTEM_GROUPS.contains(&group.as_str());
                if let (true, Some(cluster)) = (untranslatable, access_entry_clusters.first()) {
                    self.push(
                        path,
                        Some(group),
                        format!(
                            "cluster {cluster} uses backend access-entries, where EKS rejects groups starting \
                             with system: (only system:masters, system:bootstrappers and system:nodes translate)"
                        ),
                    );
                }
                out.push(group.clone());
            }
        }
        out
    }

    fn username(&mut self, path: &str, username: &str) {
        if username.is_empty() {
            self.push(path, None, "required: the Kubernetes username (always written, see aws-iam-authenticator #289)");
        } else if username.chars().any(char::is_whitespace) {
            self.push(path, Some(username), "a username has no blanks");
        } else if let Err(why) = check_templates(username) {
            self.push(path, Some(username), why);
        }
    }

    fn principals(
        &mut self,
        list: &str,
        raw: &[RawPrincipal],
        kind: PrincipalKind,
        seen: &mut Seen,
    ) -> Vec<PrincipalMapping> {
        let mut out = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let at = format!("{list}[{i}]");
            let arn = if p.arn.is_empty() {
                self.push(
                    format!("{at}.arn"),
                    None,
                    format!("required: the IAM {kind} ARN"),
                );
                None
            } else {
                match IamArn::parse_kind(&p.arn, kind) {
                    Ok(arn) => {
                        // EKS compares case-insensitively, and role ARNs without their path.
                        let key = match kind {
                            PrincipalKind::User => arn.as_str().to_ascii_lowercase(),
                            PrincipalKind::Role => {
                                format!(
                                    "{}:{}:{}",
                                    arn.partition(),
                                    arn.account_id(),
                                    arn.name().to_ascii_lowercase()
                                )
                            }
                        };
                        let what = if kind == PrincipalKind::User {
                            "user ARN"
                        } else {
                            "role ARN (paths aside)"
                        };
                        seen.check(self, &format!("{at}.arn"), &p.arn, key, what)
                            .then_some(arn)
                    }
                    Err(ArnError::WrongKind { found, .. }) => {
                        let other = if found == PrincipalKind::Role {
                            "roles"
                        } else {
                            "users"
                        };
                        self.push(
                            format!("{at}.arn"),
                            Some(&p.arn),
                            format!("this is a {found} ARN: it belongs under `{other}`"),
                        );
                        None
                    }
                    Err(e) => {
                        self.push(format!("{at}.arn"), Some(&p.arn), e.to_string());
                        None
                    }
                }
            };
            self.username(&format!("{at}.username"), &p.username);
            let clusters = self.cluster_refs(&at, p.clusters.as_deref());
            let kubernetes_groups =
                self.kubernetes_groups(&at, &p.kubernetes_groups, false, &clusters);
            if let Some(arn) = arn {
                out.push(PrincipalMapping {
                    arn,
                    username: p.username.clone(),
                    kubernetes_groups,
                    clusters,
                });
            }
        }
        out
    }
}

/// Every `{{...}}` in `text` must be a known authenticator template, and braces must pair.
fn check_templates(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unclosed `{{` template".to_owned());
        };
        let name = &after[..end];
        if !USERNAME_TEMPLATES.contains(&name) {
            return Err(format!(
                "unknown template {{{{{name}}}}} (known: {})",
                USERNAME_TEMPLATES
                    .iter()
                    .map(|t| format!("{{{{{t}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[end + 2..];
    }
    if rest.contains('{') || rest.contains('}') {
        return Err("stray brace: templates are written {{Name}}".to_owned());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Qovery iam-eks-user-mapper environment
// ---------------------------------------------------------------------------------------------

/// Maps Qovery iam-eks-user-mapper's environment onto a configuration and validates it.
///
/// | Variable | Becomes |
/// |---|---|
/// | `EKS_IAM_SYNC_CLUSTER_NAME` (ours, required) + `AWS_DEFAULT_REGION` (theirs; else `AWS_REGION`) | the single cluster |
/// | `ENABLE_GROUP_USER_SYNC=true` + `IAM_K8S_GROUPS="Admins->system:masters,Devops->devops"` | one `groups` entry per IAM group, username = IAM user name; `A->x,A->y` gives A both groups |
/// | `ADMINS_USERS_ARNS` (comma-separated user ARNs) | `users` entries, username = user name, group `system:masters` |
/// | `ENABLE_SSO=true` + `IAM_SSO_ROLE_ARN` (comma-separated) | `AWSReservedSSO_<Set>_<hex>` roles become `ssoPermissionSets` entry `<Set>` (found again by name when re-provisioned); any other role a `roles` entry; username `cluster-admin-sso`, group `system:masters` |
/// | `KARPENTER_ROLE_ARN` (or `KARPENTER_ARN`, the name in that tool's README) | a `roles` entry, username `system:node:{{EC2PrivateDNSName}}`, groups `system:bootstrappers`, `system:nodes` |
///
/// As in that tool, `IAM_K8S_GROUPS` is ignored unless `ENABLE_GROUP_USER_SYNC` is true, and
/// `IAM_SSO_ROLE_ARN` unless `ENABLE_SSO` is; booleans are `true`/`false` (any case). Blank
/// items between commas are skipped. `REFRESH_INTERVAL_SECONDS` (use the schedule),
/// `SERVICE_ACCOUNT_NAME`, `AWS_ROLE_ARN` and `VERBOSE` (use `RUST_LOG`) have no meaning here
/// and are ignored. Problems name the variable, e.g. `IAM_K8S_GROUPS[1]`.
pub fn from_iam_eks_user_mapper_env(
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let origin = "iam-eks-user-mapper environment".to_owned();
    let (raw, mut problems, origins) = raw_from_iam_eks_user_mapper_env(env);
    match validate(&raw) {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(ConfigError::Invalid {
            origin,
            problems: Problems(problems),
        }),
        Err(more) => {
            for mut p in more {
                if let Some((prefix, var)) = origins
                    .iter()
                    .find(|(prefix, _)| p.path.starts_with(prefix.as_str()))
                {
                    p.path = format!("{var} (as {}{})", prefix, &p.path[prefix.len()..]);
                }
                problems.push(p);
            }
            Err(ConfigError::Invalid {
                origin,
                problems: Problems(problems),
            })
        }
    }
}

type EnvOrigins = Vec<(String, String)>;

fn raw_from_iam_eks_user_mapper_env(
    env: &HashMap<String, String>,
) -> (RawConfig, Vec<Problem>, EnvOrigins) {
    let mut problems = Vec::new();
    let mut origins: EnvOrigins = Vec::new();
    let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let flag = |k: &str, problems: &mut Vec<Problem>| match get(k) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            problems.push(Problem::new(k, Some(v), "expected true or false"));
            false
        }
    };
    let items = |v: &str| -> Vec<(usize, String)> {
        v.split(',')
            .map(str::trim)
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .map(|(i, s)| (i, s.to_owned()))
            .collect()
    };

    let mut raw = RawConfig::default();
    let name = get(CLUSTER_NAME_ENV).unwrap_or_default().to_owned();
    if name.is_empty() {
        problems.push(Problem::new(
            CLUSTER_NAME_ENV,
            None,
            "required with the iam-eks-user-mapper variables: the name of the EKS cluster to keep in step",
        ));
    }
    let (region_var, region) = match (get("AWS_DEFAULT_REGION"), get("AWS_REGION")) {
        (Some(r), _) => ("AWS_DEFAULT_REGION", r.to_owned()),
        (None, Some(r)) => ("AWS_REGION", r.to_owned()),
        (None, None) => {
            problems.push(Problem::new(
                "AWS_DEFAULT_REGION",
                None,
                "required: the cluster's region",
            ));
            ("AWS_DEFAULT_REGION", String::new())
        }
    };
    origins.push(("clusters[0].name".to_owned(), CLUSTER_NAME_ENV.to_owned()));
    origins.push(("clusters[0].region".to_owned(), region_var.to_owned()));
    if !name.is_empty() && !region.is_empty() {
        raw.clusters.push(RawCluster {
            name,
            region,
            ..RawCluster::default()
        });
    }

    if flag("ENABLE_GROUP_USER_SYNC", &mut problems) {
        let list = items(get("IAM_K8S_GROUPS").unwrap_or_default());
        if list.is_empty() {
            problems.push(Problem::new(
                "IAM_K8S_GROUPS",
                None,
                "required when ENABLE_GROUP_USER_SYNC is true: IAM_GROUP->KUBERNETES_GROUP,...",
            ));
        }
        for (i, item) in list {
            let var = format!("IAM_K8S_GROUPS[{i}]");
            let pair = match item.split_once("->") {
                Some((iam, k8s)) if !k8s.contains("->") => Some((iam.trim(), k8s.trim())),
                _ => None,
            };
            match pair {
                Some((iam, k8s)) if !iam.is_empty() && !k8s.is_empty() => {
                    match raw.groups.iter_mut().find(|g| g.iam_group == iam) {
                        Some(g) => {
                            if !g.kubernetes_groups.iter().any(|x| x == k8s) {
                                g.kubernetes_groups.push(k8s.to_owned());
                            }
                        }
                        None => {
                            origins.push((format!("groups[{}]", raw.groups.len()), var));
                            raw.groups.push(RawGroup {
                                iam_group: iam.to_owned(),
                                kubernetes_groups: vec![k8s.to_owned()],
                                ..RawGroup::default()
                            });
                        }
                    }
                }
                _ => problems.push(Problem::new(
                    var,
                    Some(&item),
                    "expected IAM_GROUP->KUBERNETES_GROUP",
                )),
            }
        }
    }

    for (i, arn) in items(get("ADMINS_USERS_ARNS").unwrap_or_default()) {
        let username = arn.rsplit('/').next().unwrap_or_default().to_owned();
        origins.push((
            format!("users[{}]", raw.users.len()),
            format!("ADMINS_USERS_ARNS[{i}]"),
        ));
        raw.users.push(RawPrincipal {
            arn,
            username,
            kubernetes_groups: vec!["system:masters".to_owned()],
            clusters: None,
        });
    }

    if flag("ENABLE_SSO", &mut problems) {
        let list = items(get("IAM_SSO_ROLE_ARN").unwrap_or_default());
        if list.is_empty() {
            problems.push(Problem::new(
                "IAM_SSO_ROLE_ARN",
                None,
                "required when ENABLE_SSO is true: the SSO role ARN",
            ));
        }
        for (i, arn) in list {
            let var = format!("IAM_SSO_ROLE_ARN[{i}]");
            let set = IamArn::parse_kind(&arn, PrincipalKind::Role)
                .ok()
                .and_then(|a| sso_permission_set_of_role(a.name()).map(str::to_owned));
            match set {
                Some(name) => {
                    origins.push((
                        format!("ssoPermissionSets[{}]", raw.sso_permission_sets.len()),
                        var,
                    ));
                    raw.sso_permission_sets.push(RawSsoPermissionSet {
                        name,
                        username: QOVERY_SSO_USERNAME.to_owned(),
                        kubernetes_groups: vec!["system:masters".to_owned()],
                        clusters: None,
                    });
                }
                None => {
                    origins.push((format!("roles[{}]", raw.roles.len()), var));
                    raw.roles.push(RawPrincipal {
                        arn,
                        username: QOVERY_SSO_USERNAME.to_owned(),
                        kubernetes_groups: vec!["system:masters".to_owned()],
                        clusters: None,
                    });
                }
            }
        }
    }

    let karpenter = [
        ("KARPENTER_ROLE_ARN", get("KARPENTER_ROLE_ARN")),
        ("KARPENTER_ARN", get("KARPENTER_ARN")),
    ];
    match karpenter {
        [(_, Some(a)), (_, Some(b))] if a != b => problems.push(Problem::new(
            "KARPENTER_ARN",
            Some(b),
            "differs from KARPENTER_ROLE_ARN; set only one of the two",
        )),
        _ => {}
    }
    if let Some((var, Some(arn))) = karpenter.iter().find(|(_, v)| v.is_some()) {
        origins.push((format!("roles[{}]", raw.roles.len()), (*var).to_owned()));
        raw.roles.push(RawPrincipal {
            arn: (*arn).to_owned(),
            username: NODE_USERNAME.to_owned(),
            kubernetes_groups: NODE_GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            clusters: None,
        });
    }
    (raw, problems, origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        assert_eq!(region_partition("eu-west-3").as_deref(), Some("aws"));
        assert_eq!(
            region_partition("us-gov-west-1").as_deref(),
            Some("aws-us-gov")
        );
        assert_eq!(region_partition("cn-north-1").as_deref(), Some("aws-cn"));
        assert_eq!(
            region_partition("us-iso-east-1").as_deref(),
            Some("aws-iso")
        );
        assert_eq!(
            region_partition("us-isob-east-1").as_deref(),
            Some("aws-iso-b")
        );
        for bad in [
            "eu-west",
            "EU-WEST-3",
            "eu-west-3a",
            "europe-west-3",
            "eu-xx-west-1",
            "",
            "eu--3",
        ] {
            assert_eq!(region_partition(bad), None, "{bad}");
        }
    }

    #[test]
    fn partitions() {
        for ok in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-f",
        ] {
            assert!(is_partition(ok), "{ok}");
        }
        for bad in ["", "AWS", "aws-eu", "aws-iso-bb", "aws-isob"] {
            assert!(!is_partition(bad), "{bad}");
        }
    }

    #[test]
    fn arn_parts() {
        let arn = IamArn::parse("arn:aws:iam::111122223333:user/division/alice").unwrap();
        assert_eq!(
            (arn.kind(), arn.path(), arn.name(), arn.account_id()),
            (PrincipalKind::User, "/division/", "alice", "111122223333")
        );
        let arn = IamArn::parse("arn:aws-cn:iam::111122223333:role/x").unwrap();
        assert_eq!(
            (arn.kind(), arn.path(), arn.name(), arn.partition()),
            (PrincipalKind::Role, "/", "x", "aws-cn")
        );
    }

    #[test]
    fn arn_errors_name_the_fault() {
        let cases = [
            ("nope", ArnError::NotAnArn),
            (
                "arn:azure:iam::111122223333:user/a",
                ArnError::Partition("azure".into()),
            ),
            ("arn:aws:iam::1111:user/a", ArnError::Account("1111".into())),
            (
                "arn:aws:iam:eu-west-1:111122223333:user/a",
                ArnError::Region("eu-west-1".into()),
            ),
            (
                "arn:aws:s3::111122223333:user/a",
                ArnError::Service("s3".into()),
            ),
            (
                "arn:aws:iam::111122223333:group/a",
                ArnError::Resource("group".into()),
            ),
            (
                "arn:aws:iam::111122223333:user/",
                ArnError::Name(String::new()),
            ),
            (
                "arn:aws:iam::111122223333:user/a b",
                ArnError::Name("a b".into()),
            ),
            (
                "arn:aws:iam::111122223333:user//a",
                ArnError::Path("//".into()),
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/admin/alice",
                ArnError::StsSession("arn:aws:iam::111122223333:role/admin".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(IamArn::parse(text), Err(want), "{text}");
        }
        assert_eq!(
            IamArn::parse_kind("arn:aws:iam::111122223333:role/a", PrincipalKind::User),
            Err(ArnError::WrongKind {
                expected: PrincipalKind::User,
                found: PrincipalKind::Role
            })
        );
    }

    #[test]
    fn sso_role_names() {
        assert_eq!(
            sso_permission_set_of_role("AWSReservedSSO_AdministratorAccess_0123456789abcdef"),
            Some("AdministratorAccess")
        );
        assert_eq!(
            sso_permission_set_of_role("AWSReservedSSO_Read_Only_53b82e109c5e2cac"),
            Some("Read_Only")
        );
        assert_eq!(sso_permission_set_of_role("AWSReservedSSO_Admin_xyz"), None);
        assert_eq!(sso_permission_set_of_role("AWSReservedSSO__abc"), None);
        assert_eq!(sso_permission_set_of_role("eks-admin"), None);
    }

    #[test]
    fn templates() {
        assert!(check_templates("{{SessionName}}").is_ok());
        assert!(check_templates("sso-{{AccountID}}-{{SessionNameRaw}}").is_ok());
        assert!(
            check_templates("{{Session}}")
                .unwrap_err()
                .contains("unknown template {{Session}}")
        );
        assert!(
            check_templates("{{SessionName")
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(check_templates("a}b").unwrap_err().contains("stray brace"));
    }

    #[test]
    fn inline_rule() {
        assert!(is_inline("{\"clusters\": []}"));
        assert!(is_inline("  {}"));
        assert!(is_inline("clusters:\n  - name: prod\n"));
        assert!(!is_inline("/etc/eks-iam-sync.yaml"));
        assert!(!is_inline("config.json"));
    }

    #[test]
    fn yaml_message_keeps_reason_and_snippet() {
        let msg = yaml_message("error: line 2 column 1: unknown field `nmae`\n --> <input>:2:1");
        assert_eq!(msg, "unknown field `nmae`\n --> <input>:2:1");
        assert_eq!(yaml_message("plain"), "plain");
    }
}
