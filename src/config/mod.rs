//! The configuration: raw text or environment in, validated [`Settings`] out.
//!
//! # What this module owns
//! - The schema of issue 5 (`clusters`, `groups`, `users`, `roles`, `ssoPermissionSets`,
//!   `accounts`, `guards`; `accessPolicies` and `accessEntryType` of issue 13), read as YAML (serde-saphyr) or JSON (serde_json) into
//!   [`RawConfig`] with `deny_unknown_fields`, so a typo in a key is an error, not a silent
//!   default.
//! - Validation of a [`RawConfig`] into [`Settings`], listing *every* [`Problem`] at once, each
//!   with its path (`groups[1].clusters[0]`), the offending value and why it is wrong. Nothing
//!   downstream needs to re-check what is checked here.
//! - The migration path from Qovery's iam-eks-user-mapper: its environment variables are mapped
//!   onto the same [`RawConfig`] and validated the same way ([`from_iam_eks_user_mapper_env`]).
//! - A thin loader ([`load`]) that picks the source from the environment map it is given; the
//!   only I/O in this module is reading the file named by `EKS_IAM_SYNC_CONFIG`. The source
//!   string itself, and when a remote one is read again, are `source`'s ([`parse_source`],
//!   [`needs_reread`]).
//!
//! It deliberately does not own the naming rules (ARNs, partitions, regions, SSO role names:
//! [`crate::core::names`]) nor the validated [`Settings`] types ([`crate::core::settings`], so
//! the pure core never depends on this module), look anything up in AWS, or read `std::env`
//! itself (the caller passes the environment, so tests can).
//!
//! Layout: this file holds the schema, the errors and the loader; `validate` the rules;
//! `mapper_env` the iam-eks-user-mapper mapping. Everything public is re-exported here.
//!
//! # Where the configuration comes from ([`load`])
//! 1. `EKS_IAM_SYNC_CONFIG` set and not blank: if its value, after leading blanks, starts with
//!    `{` or contains a newline, it *is* the configuration (inline); `ssm:/parameter/name` and
//!    `s3://bucket/key` name a configuration kept in AWS ([`Source`], read by
//!    [`crate::live_config`], not here); otherwise it is a file path.
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
//! - `kubernetesGroups` must be non-empty for `groups` and `ssoPermissionSets` unless the
//!   mapping has `accessPolicies` (a mapping that grants nothing is almost certainly a mistake
//!   there); `users` and `roles` may have none
//!   (RBAC can bind the username). Group names have no blanks and no duplicates. On a cluster with
//!   `backend: access-entries`, groups starting with `system:` are rejected by EKS, except
//!   `system:masters` (translated to AmazonEKSClusterAdminPolicy) and `system:bootstrappers` /
//!   `system:nodes` (node entries).
//! - `accessPolicies` (every mapping) and `accessEntryType` (roles): the rules of `access`
//!   (known EKS policies by short name or ARN in the clusters' partition, once per mapping;
//!   namespaces a non-empty list of names, optionally ending in `*`; node types take no
//!   username, groups or policies but `AmazonEKSAutoNodePolicy` for `EC2`).
//! - Usernames are required for users, roles and permission sets, have no blanks, and may use
//!   only the authenticator's templates (`{{AccountID}}`, `{{SessionName}}`,
//!   `{{SessionNameRaw}}`, `{{EC2PrivateDNSName}}`, `{{AccessKeyID}}`).
//! - IAM group, user and permission-set names are unique case-insensitively (IAM's own rule).
//! - `accounts` are quoted 12-digit strings; a YAML/JSON number is an error that says to quote
//!   it (a number loses leading zeros).
//! - `guards.maxRemovalFraction` is in (0, 1], default 0.5.
//! - `driftRepairInterval` is a duration from 1m to 24h (`30m`, `2h`), default 30m.
//! - `review` and `history` (issues 22, 23): `bucket` an S3 bucket name (3 to 63 lowercase
//!   letters, digits, `.` and `-`); `prefix` empty or ending in `/`, without a leading `/`;
//!   `review.schedule` an EventBridge `rate(...)` or `cron(...)`; `history.eventBus` an
//!   EventBridge bus name or ARN.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::core::names::{
    IamArn, IamArnError, PrincipalKind, is_account_id, is_iam_name, region_partition,
    sso_permission_set_of_role,
};
use crate::core::settings::{
    Backend, Cluster, GroupMapping, Guards, PrincipalMapping, Settings, SsoPermissionSetMapping,
};

mod access;
mod buckets;
mod builders;
mod mapper_env;
mod schema;
mod source;
mod validate;

pub use mapper_env::from_iam_eks_user_mapper_env;
pub use schema::schema_json;
pub use source::{Remote, Source, SourceError, Version, needs_reread, parse_source};
pub use validate::validate;

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

/// Username iam-eks-user-mapper gives its SSO role mapping.
pub const QOVERY_SSO_USERNAME: &str = "cluster-admin-sso";
/// Username of a node role (Karpenter) mapping.
pub const NODE_USERNAME: &str = "system:node:{{EC2PrivateDNSName}}";
/// Kubernetes groups of a node role (Karpenter) mapping.
pub const NODE_GROUPS: &[&str] = &["system:bootstrappers", "system:nodes"];

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
    /// `EKS_IAM_SYNC_CONFIG` names SSM or S3 in a form that cannot be read.
    #[error("{CONFIG_ENV}: {0}")]
    Source(#[source] SourceError),
    /// The configuration is in SSM or S3, and this caller reads no AWS.
    #[error(
        "{remote}: the configuration is kept in AWS and is read with credentials; \
         here it is not (save it to a file and name that file)"
    )]
    NeedsAws { remote: Remote },
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
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
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
    /// `iam`: whose IAM users and groups are synced (issue 14).
    #[serde(default)]
    pub iam: Option<RawIam>,
    /// `driftRepairInterval`: a duration (`30m`, `2h`).
    #[serde(default)]
    pub drift_repair_interval: Option<String>,
    /// `review`: where the Lambda writes its access review (issue 22).
    #[serde(default)]
    pub review: Option<RawReview>,
    /// `history`: where every access change is recorded (issue 23).
    #[serde(default)]
    pub history: Option<RawHistory>,
}

/// `review` as written: `{bucket, prefix, schedule}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawReview {
    /// The S3 bucket the JSON and HTML reports are written to.
    #[serde(default)]
    pub bucket: String,
    /// Key prefix of the reports (default `eks-iam-sync/reviews/`); ends with `/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// How often the templates' review rule invokes the function (`rate(1 day)` by default).
    #[serde(default)]
    pub schedule: Option<String>,
}

/// `history` as written: `{bucket, prefix, eventBus}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawHistory {
    /// The S3 bucket every access change is recorded in.
    #[serde(default)]
    pub bucket: String,
    /// Key prefix of the records (default `eks-iam-sync/`); ends with `/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// An EventBridge bus (name or ARN) each applied change is also put on.
    #[serde(default)]
    pub event_bus: Option<String>,
}

/// `clusters[]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGroup {
    #[serde(default)]
    pub iam_group: String,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub access_policies: Vec<RawAccessPolicy>,
    #[serde(default)]
    pub username_prefix: Option<String>,
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// `users[]` / `roles[]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPrincipal {
    #[serde(default)]
    pub arn: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub access_policies: Vec<RawAccessPolicy>,
    /// `roles[]` only: `STANDARD`, `EC2_LINUX`, `EC2_WINDOWS`, `FARGATE_LINUX`,
    /// `HYBRID_LINUX` or `EC2`.
    #[serde(default)]
    pub access_entry_type: Option<String>,
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// `ssoPermissionSets[]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSsoPermissionSet {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
    #[serde(default)]
    pub access_policies: Vec<RawAccessPolicy>,
    #[serde(default)]
    pub clusters: Option<Vec<String>>,
}

/// An `accessPolicies[]` item as written: `{policy: AmazonEKSEditPolicy, namespaces: [a, "b-*"]}`
/// (the policy's short name or full ARN; `namespaces` omitted: cluster scope).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAccessPolicy {
    #[serde(default)]
    pub policy: String,
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
}

/// `iam` as written: `{assumeRoleArn: ...}`, the role to read IAM users and groups through
/// (the account whose IAM is synced); omitted, the function's own credentials.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawIam {
    #[serde(default)]
    pub assume_role_arn: Option<String>,
}

/// `guards` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
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

/// In the schema an account id is what validation accepts: a string of 12 digits (a number
/// parses, to be rejected with advice to quote it, but is not valid).
impl schemars::JsonSchema for RawAccountId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccountId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A 12-digit AWS account id, quoted (a YAML/JSON number loses leading zeros).",
            "type": "string",
            "pattern": "^[0-9]{12}$"
        })
    }
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

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// The syntax of a configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

/// What the environment's configuration resolves to without AWS: validated [`Settings`]
/// (inline, a file, the iam-eks-user-mapper variables), or the [`Remote`] source to read
/// them from (SSM, S3: [`crate::live_config`] does that).
#[derive(Debug)]
pub enum Resolved {
    Settings(Box<Settings>),
    Remote(Remote),
}

/// Loads and validates the configuration from `env` (normally `std::env::vars().collect()`),
/// following the rules in the module documentation. Reads at most one file; a remote source
/// is [`ConfigError::NeedsAws`] (see [`resolve`] for the caller that can read it).
pub fn load(env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
    match resolve(env)? {
        Resolved::Settings(settings) => Ok(*settings),
        Resolved::Remote(remote) => Err(ConfigError::NeedsAws { remote }),
    }
}

/// Like [`load`], but a remote source is returned, not refused.
pub fn resolve(env: &HashMap<String, String>) -> Result<Resolved, ConfigError> {
    let mapper_vars: Vec<String> = IAM_EKS_USER_MAPPER_VARS
        .iter()
        .filter(|v| env.contains_key(**v))
        .map(|v| (*v).to_owned())
        .collect();
    // A blank value counts as unset (an empty Lambda variable is easy to leave behind).
    let settings = match env.get(CONFIG_ENV).filter(|v| !v.trim().is_empty()) {
        Some(_) if !mapper_vars.is_empty() => Err(ConfigError::Ambiguous { vars: mapper_vars }),
        Some(value) => match parse_source(value).map_err(ConfigError::Source)? {
            Source::Inline(text) => from_text(&text, &format!("{CONFIG_ENV} (inline)"), None),
            Source::File(path) => from_file(&path),
            Source::Remote(remote) => return Ok(Resolved::Remote(remote)),
        },
        None if !mapper_vars.is_empty() => from_iam_eks_user_mapper_env(env),
        None => Err(ConfigError::Missing),
    }?;
    Ok(Resolved::Settings(Box::new(settings)))
}

/// Reads, parses and validates the configuration file at `path` (JSON when it is named
/// `*.json`, see [`parse_raw`] otherwise).
pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = read_file(path)?;
    from_text(
        &text,
        &path.display().to_string(),
        format_of_name(&path.to_string_lossy()),
    )
}

/// The text of the configuration file at `path`, or [`ConfigError::Read`].
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        hint: if path.to_string_lossy().contains(": ") {
            " (this looks like one-line YAML: inline YAML must span several lines, or be JSON)"
        } else {
            ""
        },
        source,
    })
}

/// JSON for a name ending in `.json` (a file, an S3 key); otherwise the text decides.
pub fn format_of_name(name: &str) -> Option<Format> {
    name.ends_with(".json").then_some(Format::Json)
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

#[cfg(test)]
mod tests {
    use super::*;

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
