//! EKS access entries and access-policy associations of one cluster, with EKS's validation
//! rules: principal ARNs of IAM users and roles only (no STS sessions, no service-linked
//! roles), reserved username prefixes, no `system:` groups, node types limited to roles of
//! the cluster's account with no groups, username or policies (but AmazonEKSAutoNodePolicy
//! on `EC2` entries), immutable type and principal, known policies and well-formed scopes, and
//! the quota of [`MAX_ENTRIES`] entries per cluster.
//!
//! It keeps the data and the rules; HTTP shapes are [`crate::eks_api`]'s and identity
//! mapping is [`crate::identity`]'s.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::arn::{PrincipalArn, PrincipalKind};
use crate::eks_error::EksError;

/// The access policies EKS offers (`arn:aws:eks::aws:cluster-access-policy/NAME`).
pub const ACCESS_POLICIES: &[&str] = &[
    "AmazonAIOpsAssistantPolicy",
    "AmazonARCRegionSwitchScalingPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSComputeClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSLoadBalancingClusterPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSSecretReaderPolicy",
    "AmazonEMRJobPolicy",
    "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy",
    "AmazonSagemakerHyperpodSystemNamespacePolicy",
];

/// The ARN prefix of access policies.
pub const POLICY_ARN_PREFIX: &str = "arn:aws:eks::aws:cluster-access-policy/";
/// The policy that makes a principal a cluster admin.
pub const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

/// EKS's quota of access entries per cluster (not adjustable).
pub const MAX_ENTRIES: usize = 3000;

const ENTRY_TYPES: &[&str] = &[
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
];
const RESERVED_USERNAME_PREFIXES: &[&str] = &["system:", "eks:", "aws:", "amazon:", "iam:"];

/// Where an associated policy applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessScope {
    Cluster,
    Namespaces(Vec<String>),
}

impl AccessScope {
    /// Validates an `accessScope` request member.
    pub fn from_json(v: &Value) -> Result<Self, EksError> {
        let namespaces: Vec<String> = match &v["namespaces"] {
            Value::Null => Vec::new(),
            Value::Array(a) => a
                .iter()
                .map(|n| n.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| EksError::invalid_parameter("namespaces must be strings"))?,
            _ => return Err(EksError::invalid_parameter("namespaces must be a list")),
        };
        match v["type"].as_str() {
            Some("cluster") if namespaces.is_empty() => Ok(Self::Cluster),
            Some("cluster") => Err(EksError::invalid_parameter(
                "Namespaces can only be specified with the namespace access scope type.",
            )),
            Some("namespace") if namespaces.is_empty() => Err(EksError::invalid_parameter(
                "At least one namespace must be specified with the namespace access scope type.",
            )),
            Some("namespace") => Ok(Self::Namespaces(namespaces)),
            other => Err(EksError::invalid_parameter(format!(
                "Invalid accessScope type {other:?}: must be cluster or namespace."
            ))),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::Cluster => json!({"type": "cluster", "namespaces": []}),
            Self::Namespaces(ns) => json!({"type": "namespace", "namespaces": ns}),
        }
    }
}

/// A policy associated with an access entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociatedPolicy {
    pub policy_arn: String,
    pub scope: AccessScope,
    pub associated_at: Timestamp,
    pub modified_at: Timestamp,
}

/// One access entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub principal_arn: String,
    pub principal: PrincipalArn,
    pub kubernetes_groups: Vec<String>,
    /// As given, or EKS's default template for the type.
    pub username: String,
    pub entry_type: String,
    pub access_entry_arn: String,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    pub tags: Value,
    pub policies: Vec<AssociatedPolicy>,
}

fn epoch(t: Timestamp) -> Value {
    json!(t.as_millisecond() as f64 / 1000.0)
}

impl AccessEntry {
    pub fn is_standard(&self) -> bool {
        self.entry_type == "STANDARD"
    }

    /// The `AccessEntry` shape of the API.
    pub fn to_json(&self, cluster_name: &str) -> Value {
        json!({
            "clusterName": cluster_name,
            "principalArn": self.principal_arn,
            "kubernetesGroups": self.kubernetes_groups,
            "accessEntryArn": self.access_entry_arn,
            "createdAt": epoch(self.created_at),
            "modifiedAt": epoch(self.modified_at),
            "tags": self.tags,
            "username": self.username,
            "type": self.entry_type,
        })
    }
}

impl AssociatedPolicy {
    pub fn to_json(&self) -> Value {
        json!({
            "policyArn": self.policy_arn,
            "accessScope": self.scope.to_json(),
            "associatedAt": epoch(self.associated_at),
            "modifiedAt": epoch(self.modified_at),
        })
    }
}

/// A validated CreateAccessEntry request.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub principal_arn: String,
    pub kubernetes_groups: Vec<String>,
    pub username: Option<String>,
    pub entry_type: String,
    pub tags: Value,
}

fn string_list(v: &Value, member: &str) -> Result<Vec<String>, EksError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| EksError::invalid_parameter(format!("{member} must be strings"))),
        _ => Err(EksError::invalid_parameter(format!(
            "{member} must be a list"
        ))),
    }
}

fn check_groups(groups: &[String]) -> Result<(), EksError> {
    if let Some(g) = groups.iter().find(|g| g.starts_with("system:")) {
        return Err(EksError::invalid_parameter(format!(
            "The kubernetes group name {g} is invalid, it cannot start with system:"
        )));
    }
    if groups.iter().any(String::is_empty) {
        return Err(EksError::invalid_parameter(
            "Kubernetes group names cannot be empty.",
        ));
    }
    Ok(())
}

fn check_username(username: &str) -> Result<(), EksError> {
    if let Some(p) = RESERVED_USERNAME_PREFIXES
        .iter()
        .find(|p| username.starts_with(**p))
    {
        return Err(EksError::invalid_parameter(format!(
            "The username {username} is invalid, it cannot start with {p}. Reserved prefixes: system:, eks:, aws:, amazon:, iam:"
        )));
    }
    if username.is_empty() {
        return Err(EksError::invalid_parameter("username cannot be empty."));
    }
    Ok(())
}

/// Parses and validates the principal of a new entry.
fn check_principal(
    arn: &str,
    cluster_account: &str,
    entry_type: &str,
) -> Result<PrincipalArn, EksError> {
    let p = PrincipalArn::parse(arn).map_err(|e| {
        EksError::invalid_parameter(format!(
            "The principalArn parameter format is not valid: {e}"
        ))
    })?;
    match p.kind {
        PrincipalKind::User | PrincipalKind::Role => {}
        PrincipalKind::AssumedRole | PrincipalKind::FederatedUser => {
            return Err(EksError::invalid_parameter(format!(
                "The principalArn {arn} is an STS session ARN; access entries need the IAM role or user ARN."
            )));
        }
        PrincipalKind::Root => {
            return Err(EksError::invalid_parameter(format!(
                "The principalArn {arn} is not an IAM user or role."
            )));
        }
    }
    if p.kind == PrincipalKind::Role && p.path.starts_with("/aws-service-role/") {
        return Err(EksError::invalid_parameter(format!(
            "The principalArn {arn} is a service-linked role, which cannot be used in an access entry."
        )));
    }
    if entry_type != "STANDARD"
        && (p.kind != PrincipalKind::Role || p.account_id != cluster_account)
    {
        return Err(EksError::invalid_parameter(format!(
            "Access entries of type {entry_type} need an IAM role of the cluster's account {cluster_account}."
        )));
    }
    Ok(p)
}

impl NewEntry {
    /// Validates a CreateAccessEntry body.
    pub fn from_request(
        body: &Value,
        cluster_account: &str,
    ) -> Result<(Self, PrincipalArn), EksError> {
        let principal_arn = body["principalArn"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| EksError::invalid_parameter("principalArn is required."))?
            .to_owned();
        let entry_type = body["type"].as_str().unwrap_or("STANDARD").to_owned();
        if !ENTRY_TYPES.contains(&entry_type.as_str()) {
            return Err(EksError::invalid_parameter(format!(
                "The type {entry_type} is invalid. Valid types: {}",
                ENTRY_TYPES.join(", ")
            )));
        }
        let principal = check_principal(&principal_arn, cluster_account, &entry_type)?;
        let kubernetes_groups = string_list(&body["kubernetesGroups"], "kubernetesGroups")?;
        let username = body["username"].as_str().map(str::to_owned);
        if entry_type == "STANDARD" {
            check_groups(&kubernetes_groups)?;
            if let Some(u) = &username {
                check_username(u)?;
            }
        } else {
            if !kubernetes_groups.is_empty() {
                return Err(EksError::invalid_parameter(format!(
                    "kubernetesGroups cannot be specified for access entries of type {entry_type}."
                )));
            }
            if username.is_some() {
                return Err(EksError::invalid_parameter(format!(
                    "username cannot be specified for access entries of type {entry_type}."
                )));
            }
        }
        let tags = match &body["tags"] {
            Value::Null => json!({}),
            t @ Value::Object(_) => t.clone(),
            _ => return Err(EksError::invalid_parameter("tags must be a map")),
        };
        Ok((
            Self {
                principal_arn,
                kubernetes_groups,
                username,
                entry_type,
                tags,
            },
            principal,
        ))
    }
}

/// EKS's default username for an entry type and principal.
fn default_username(entry_type: &str, p: &PrincipalArn) -> String {
    match entry_type {
        "STANDARD" if p.kind == PrincipalKind::Role => format!(
            "arn:{}:sts::{}:assumed-role/{}/{{{{SessionName}}}}",
            p.partition, p.account_id, p.name
        ),
        "STANDARD" => p.canonical(),
        "FARGATE_LINUX" | "HYBRID_LINUX" | "HYPERPOD_LINUX" => {
            "system:node:{{SessionName}}".to_owned()
        }
        _ => "system:node:{{EC2PrivateDNSName}}".to_owned(),
    }
}

/// All access entries of one cluster, in creation order.
#[derive(Debug, Clone, Default)]
pub struct AccessEntries {
    entries: Vec<AccessEntry>,
    serial: u64,
}

fn not_found() -> EksError {
    EksError::not_found(
        "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
    )
}

impl AccessEntries {
    pub fn all(&self) -> &[AccessEntry] {
        &self.entries
    }

    pub fn get(&self, principal_arn: &str) -> Result<&AccessEntry, EksError> {
        self.entries
            .iter()
            .find(|e| e.principal_arn.eq_ignore_ascii_case(principal_arn))
            .ok_or_else(not_found)
    }

    fn get_mut(&mut self, principal_arn: &str) -> Result<&mut AccessEntry, EksError> {
        self.entries
            .iter_mut()
            .find(|e| e.principal_arn.eq_ignore_ascii_case(principal_arn))
            .ok_or_else(not_found)
    }

    /// Adds a validated entry.
    pub fn create(
        &mut self,
        new: NewEntry,
        principal: PrincipalArn,
        cluster_name: &str,
        region: &str,
        cluster_account: &str,
    ) -> Result<&AccessEntry, EksError> {
        if self.entries.len() >= MAX_ENTRIES {
            return Err(EksError::limit_exceeded(format!(
                "Cluster {cluster_name} already has the maximum number of access entries ({MAX_ENTRIES})."
            )));
        }
        if self.get(&new.principal_arn).is_ok() {
            return Err(EksError::in_use(
                "The specified access entry resource is already in use on this cluster.",
            )
            .for_cluster(cluster_name));
        }
        self.serial += 1;
        let now = Timestamp::now();
        let kind = if principal.kind == PrincipalKind::Role {
            "role"
        } else {
            "user"
        };
        let access_entry_arn = format!(
            "arn:aws:eks:{region}:{cluster_account}:access-entry/{cluster_name}/{kind}/{}/{}/{:08x}-0000-4000-8000-{:012x}",
            principal.account_id, principal.name, self.serial, self.serial
        );
        let username = new
            .username
            .unwrap_or_else(|| default_username(&new.entry_type, &principal));
        self.entries.push(AccessEntry {
            principal_arn: new.principal_arn,
            principal,
            kubernetes_groups: new.kubernetes_groups,
            username,
            entry_type: new.entry_type,
            access_entry_arn,
            created_at: now,
            modified_at: now,
            tags: new.tags,
            policies: Vec::new(),
        });
        Ok(self.entries.last().expect("just pushed"))
    }

    /// UpdateAccessEntry: groups and username of STANDARD entries.
    pub fn update(&mut self, principal_arn: &str, body: &Value) -> Result<&AccessEntry, EksError> {
        let entry = self.get_mut(principal_arn)?;
        let groups = match &body["kubernetesGroups"] {
            Value::Null => None,
            v => Some(string_list(v, "kubernetesGroups")?),
        };
        let username = body["username"].as_str().map(str::to_owned);
        if !entry.is_standard() && (groups.is_some() || username.is_some()) {
            return Err(EksError::invalid_parameter(format!(
                "kubernetesGroups and username cannot be updated for access entries of type {}.",
                entry.entry_type
            )));
        }
        if let Some(g) = &groups {
            check_groups(g)?;
        }
        if let Some(u) = &username {
            check_username(u)?;
        }
        if let Some(g) = groups {
            entry.kubernetes_groups = g;
        }
        if let Some(u) = username {
            entry.username = u;
        }
        entry.modified_at = Timestamp::now();
        Ok(entry)
    }

    pub fn delete(&mut self, principal_arn: &str) -> Result<AccessEntry, EksError> {
        let idx = self
            .entries
            .iter()
            .position(|e| e.principal_arn.eq_ignore_ascii_case(principal_arn))
            .ok_or_else(not_found)?;
        Ok(self.entries.remove(idx))
    }

    /// AssociateAccessPolicy; associating an already associated policy replaces its scope.
    pub fn associate(
        &mut self,
        principal_arn: &str,
        body: &Value,
    ) -> Result<AssociatedPolicy, EksError> {
        let policy_arn = body["policyArn"]
            .as_str()
            .ok_or_else(|| EksError::invalid_parameter("policyArn is required."))?
            .to_owned();
        let known = policy_arn
            .strip_prefix(POLICY_ARN_PREFIX)
            .is_some_and(|n| ACCESS_POLICIES.contains(&n));
        if !known {
            return Err(EksError::invalid_parameter(format!(
                "The policyArn {policy_arn} is not a valid access policy. You can view the available access policies with 'list-access-policies'."
            )));
        }
        if body["accessScope"].is_null() {
            return Err(EksError::invalid_parameter("accessScope is required."));
        }
        let scope = AccessScope::from_json(&body["accessScope"])?;
        let entry = self.get_mut(principal_arn)?;
        let auto_node =
            entry.entry_type == "EC2" && policy_arn.ends_with("/AmazonEKSAutoNodePolicy");
        if !entry.is_standard() && !auto_node {
            return Err(EksError::invalid_request(format!(
                "Access policies cannot be associated with access entries of type {}{}.",
                entry.entry_type,
                if entry.entry_type == "EC2" {
                    " other than AmazonEKSAutoNodePolicy"
                } else {
                    ""
                }
            )));
        }
        let now = Timestamp::now();
        let policy = match entry
            .policies
            .iter_mut()
            .find(|p| p.policy_arn == policy_arn)
        {
            Some(p) => {
                p.scope = scope;
                p.modified_at = now;
                p.clone()
            }
            None => {
                let p = AssociatedPolicy {
                    policy_arn,
                    scope,
                    associated_at: now,
                    modified_at: now,
                };
                entry.policies.push(p.clone());
                p
            }
        };
        entry.modified_at = now;
        Ok(policy)
    }

    pub fn disassociate(&mut self, principal_arn: &str, policy_arn: &str) -> Result<(), EksError> {
        let entry = self.get_mut(principal_arn)?;
        let before = entry.policies.len();
        entry.policies.retain(|p| p.policy_arn != policy_arn);
        if entry.policies.len() == before {
            return Err(EksError::not_found(format!(
                "The access policy {policy_arn} is not associated with the access entry {principal_arn}."
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(entries: &mut AccessEntries, body: Value) -> Result<AccessEntry, EksError> {
        let (new, p) = NewEntry::from_request(&body, "012345678901")?;
        entries
            .create(new, p, "c", "us-east-1", "012345678901")
            .cloned()
    }

    #[test]
    fn reserved_groups_usernames_and_sessions_are_rejected() {
        let mut e = AccessEntries::default();
        let role = "arn:aws:iam::012345678901:role/r";
        for body in [
            json!({"principalArn": role, "kubernetesGroups": ["system:masters"]}),
            json!({"principalArn": role, "username": "eks:me"}),
            json!({"principalArn": "arn:aws:sts::012345678901:assumed-role/r/s"}),
            json!({"principalArn": "arn:aws:iam::012345678901:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"}),
            json!({"principalArn": role, "type": "EC2_LINUX", "kubernetesGroups": ["a"]}),
            json!({"principalArn": "arn:aws:iam::999999999999:role/n", "type": "EC2_LINUX"}),
            json!({"principalArn": role, "type": "BOGUS"}),
        ] {
            let err = create(&mut e, body.clone()).unwrap_err();
            assert_eq!(err.code, "InvalidParameterException", "{body}");
        }
    }

    #[test]
    fn duplicates_are_in_use_and_defaults_are_filled() {
        let mut e = AccessEntries::default();
        let body = json!({"principalArn": "arn:aws:iam::012345678901:role/team/r"});
        let made = create(&mut e, body.clone()).unwrap();
        assert_eq!(
            made.username,
            "arn:aws:sts::012345678901:assumed-role/r/{{SessionName}}"
        );
        assert_eq!(made.entry_type, "STANDARD");
        assert_eq!(
            create(&mut e, body).unwrap_err().code,
            "ResourceInUseException"
        );
    }

    #[test]
    fn the_3001st_entry_exceeds_the_quota() {
        let mut e = AccessEntries::default();
        for i in 0..MAX_ENTRIES {
            create(
                &mut e,
                json!({"principalArn": format!("arn:aws:iam::012345678901:user/u{i}")}),
            )
            .unwrap();
        }
        let over = create(
            &mut e,
            json!({"principalArn": "arn:aws:iam::012345678901:user/x"}),
        );
        assert_eq!(over.unwrap_err().code, "ResourceLimitExceededException");
    }

    #[test]
    fn scopes_are_validated_and_reassociation_replaces() {
        let mut e = AccessEntries::default();
        let arn = "arn:aws:iam::012345678901:user/u";
        create(&mut e, json!({"principalArn": arn})).unwrap();
        let bad = json!({"policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "namespace"}});
        assert!(e.associate(arn, &bad).is_err());
        let ns = json!({"policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "namespace", "namespaces": ["a"]}});
        e.associate(arn, &ns).unwrap();
        let cl = json!({"policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "cluster"}});
        e.associate(arn, &cl).unwrap();
        assert_eq!(e.get(arn).unwrap().policies.len(), 1);
        assert_eq!(e.get(arn).unwrap().policies[0].scope, AccessScope::Cluster);
    }
}
