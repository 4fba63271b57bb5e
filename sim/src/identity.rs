//! Who a verified caller is inside one cluster, decided like EKS: access entries first (in
//! API modes), then the hidden cluster-creator admin (CONFIG_MAP mode), then the CURRENT
//! aws-auth (roles before users, last duplicate wins, case-insensitive ARNs, mapAccounts),
//! with username and group templates rendered. Also the small authorization rule the
//! simulator applies to ConfigMaps:
//! - system:masters, or AmazonEKSClusterAdminPolicy at cluster scope: everything.
//! - Access policies, as EKS scopes them: a policy at cluster scope covers every namespace,
//!   a namespace-scoped one only the listed namespaces (a name ending in `*` matches a
//!   prefix). View, AdminView, Edit, Admin and ClusterAdmin may read ConfigMaps; Edit, Admin
//!   and ClusterAdmin may write them; SecretReader (secrets only) and the node policies
//!   grant no ConfigMap access. Listing every namespace needs a cluster-scope grant.
//! - Kubernetes groups (the simulator has no RBAC objects): a caller with at least one group
//!   other than the node groups, or mapped through aws-auth, may touch ConfigMaps outside
//!   kube-system, as before; an access-entry caller with policies and no group has only what
//!   the policies grant.
//!
//! It does not verify tokens ([`crate::token`]) nor parse aws-auth ([`crate::aws_auth`]).

use thiserror::Error;

use crate::access_entries::AccessScope;

const CLUSTER_ADMIN_NAME: &str = "AmazonEKSClusterAdminPolicy";
use crate::arn::{PrincipalArn, PrincipalKind};
use crate::aws_auth::AwsAuth;
use crate::cluster::Cluster;
use crate::token::VerifiedCaller;

/// How the identity was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    AccessEntry,
    ClusterCreator,
    MapRoles,
    MapUsers,
    MapAccounts,
}

/// A Kubernetes user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub groups: Vec<String>,
    /// The caller's canonical ARN.
    pub arn: String,
    /// The caller's ARN as STS returned it.
    pub caller_arn: String,
    pub access_key_id: String,
    pub source: Source,
    /// Whether an access entry grants AmazonEKSClusterAdminPolicy cluster-wide.
    pub cluster_admin_policy: bool,
    /// The access entry's associated policies (short name, scope); empty for aws-auth.
    pub policies: Vec<(String, AccessScope)>,
}

const READ_POLICIES: &[&str] = &[
    "AmazonEKSViewPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSClusterAdminPolicy",
];
const WRITE_POLICIES: &[&str] = &[
    "AmazonEKSEditPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSClusterAdminPolicy",
];

/// Whether `scope` covers `namespace` (`None`: every namespace at once).
fn covers(scope: &AccessScope, namespace: Option<&str>) -> bool {
    match (scope, namespace) {
        (AccessScope::Cluster, _) => true,
        (AccessScope::Namespaces(_), None) => false,
        (AccessScope::Namespaces(list), Some(ns)) => list.iter().any(|pattern| {
            pattern
                .strip_suffix('*')
                .map_or(pattern == ns, |prefix| ns.starts_with(prefix))
        }),
    }
}

/// Whether a verb only reads.
fn is_read(verb: &str) -> bool {
    matches!(verb, "get" | "list" | "watch")
}

impl Identity {
    /// Whether this user may do everything (system:masters or the cluster admin policy).
    pub fn is_admin(&self) -> bool {
        self.cluster_admin_policy || self.groups.iter().any(|g| g == "system:masters")
    }

    /// Whether this user may `verb` ConfigMaps in `namespace` (`None`: all namespaces).
    pub fn may_access_configmaps(&self, verb: &str, namespace: Option<&str>) -> bool {
        if self.is_admin() {
            return true;
        }
        let allowed = if is_read(verb) {
            READ_POLICIES
        } else {
            WRITE_POLICIES
        };
        let by_policy = self
            .policies
            .iter()
            .any(|(name, scope)| allowed.contains(&name.as_str()) && covers(scope, namespace));
        let by_groups = (self.source != Source::AccessEntry
            || self
                .groups
                .iter()
                .any(|g| g != "system:nodes" && g != "system:bootstrappers"))
            && namespace.is_some_and(|ns| ns != "kube-system");
        by_policy || by_groups
    }
}

/// Why a valid token still gets 401.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("caller ARN {0:?} is not understood")]
    Arn(String),
    #[error("{0} is not mapped in this cluster (no access entry, aws-auth entry or account)")]
    Unmapped(String),
    #[error("template {template:?} cannot be rendered for {arn}")]
    Template { template: String, arn: String },
}

struct TemplateValues<'a> {
    account_id: &'a str,
    session_name: Option<&'a str>,
    access_key_id: &'a str,
    ec2_private_dns_name: Option<&'a str>,
}

fn render(template: &str, v: &TemplateValues, arn: &str) -> Result<String, MappingError> {
    let fail = || MappingError::Template {
        template: template.to_owned(),
        arn: arn.to_owned(),
    };
    let mut out = template.replace("{{AccountID}}", v.account_id);
    out = out.replace("{{AccessKeyID}}", v.access_key_id);
    if out.contains("{{SessionNameRaw}}") {
        out = out.replace("{{SessionNameRaw}}", v.session_name.ok_or_else(fail)?);
    }
    if out.contains("{{SessionName}}") {
        let s = v.session_name.ok_or_else(fail)?.replace('@', "-");
        out = out.replace("{{SessionName}}", &s);
    }
    if out.contains("{{EC2PrivateDNSName}}") {
        out = out.replace(
            "{{EC2PrivateDNSName}}",
            v.ec2_private_dns_name.ok_or_else(fail)?,
        );
    }
    Ok(out)
}

/// Maps `caller` in `cluster` (reading its current aws-auth).
pub fn map(cluster: &Cluster, caller: &VerifiedCaller) -> Result<Identity, MappingError> {
    let principal =
        PrincipalArn::parse(&caller.arn).map_err(|_| MappingError::Arn(caller.arn.clone()))?;
    let canonical = principal.canonical();
    let values = TemplateValues {
        account_id: &principal.account_id,
        session_name: principal.session_name.as_deref(),
        access_key_id: &caller.access_key_id,
        ec2_private_dns_name: caller.ec2_private_dns_name.as_deref(),
    };
    let build =
        |username: &str, groups: &[String], source, policies: Vec<(String, AccessScope)>| {
            let admin_policy = policies
                .iter()
                .any(|(n, s)| n == CLUSTER_ADMIN_NAME && *s == AccessScope::Cluster);
            Ok(Identity {
                username: render(username, &values, &canonical)?,
                groups: groups
                    .iter()
                    .map(|g| render(g, &values, &canonical))
                    .collect::<Result<_, _>>()?,
                arn: canonical.clone(),
                caller_arn: caller.arn.clone(),
                access_key_id: caller.access_key_id.clone(),
                source,
                cluster_admin_policy: admin_policy,
                policies,
            })
        };
    if cluster.auth_mode.uses_access_entries()
        && let Some(entry) = cluster
            .access_entries
            .all()
            .iter()
            .find(|e| principal.same_principal(&e.principal))
    {
        let policies = entry
            .policies
            .iter()
            .map(|p| {
                let name = p.policy_arn.rsplit('/').next().unwrap_or_default();
                (name.to_owned(), p.scope.clone())
            })
            .collect();
        let mut groups = entry.kubernetes_groups.clone();
        if !entry.is_standard() {
            groups.push("system:nodes".to_owned());
        }
        return build(&entry.username, &groups, Source::AccessEntry, policies);
    }
    if cluster.creator_is_hidden_admin()
        && let Some(creator) = cluster.creator_arn.as_deref()
        && PrincipalArn::parse(creator)
            .is_ok_and(|c| c.canonical().eq_ignore_ascii_case(&canonical))
    {
        return build(
            "kubernetes-admin",
            &["system:masters".to_owned()],
            Source::ClusterCreator,
            Vec::new(),
        );
    }
    if cluster.auth_mode.uses_config_map() {
        let aws_auth = AwsAuth::read(cluster.configmaps.data("kube-system", "aws-auth"));
        if let Some(m) = aws_auth.role(&canonical) {
            return build(&m.username, &m.groups, Source::MapRoles, Vec::new());
        }
        if let Some(m) = aws_auth.user(&canonical) {
            return build(&m.username, &m.groups, Source::MapUsers, Vec::new());
        }
        if principal.kind != PrincipalKind::FederatedUser
            && aws_auth.has_account(&principal.account_id)
        {
            return build(&canonical, &[], Source::MapAccounts, Vec::new());
        }
    }
    Err(MappingError::Unmapped(canonical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::AuthMode;
    use serde_json::json;

    fn cluster(mode: AuthMode, map_roles: &str) -> Cluster {
        let mut c = Cluster::new(
            "c",
            "us-east-1",
            "012345678901",
            "1.31",
            "arn:aws:iam::012345678901:role/eks",
            mode,
            true,
            None,
            1,
        );
        c.configmaps
            .create(
                "kube-system",
                json!({"metadata": {"name": "aws-auth"}, "data": {"mapRoles": map_roles}}),
                false,
            )
            .unwrap();
        c
    }

    fn caller(arn: &str) -> VerifiedCaller {
        VerifiedCaller {
            access_key_id: "ASIA1".into(),
            arn: arn.into(),
            ec2_private_dns_name: None,
        }
    }

    #[test]
    fn session_name_template_replaces_at_sign() {
        let c = cluster(
            AuthMode::ConfigMap,
            "- rolearn: arn:aws:iam::012345678901:role/Dev\n  username: \"dev:{{SessionName}}\"\n  groups: [devs]\n",
        );
        let id = map(
            &c,
            &caller("arn:aws:sts::012345678901:assumed-role/dev/a@b.c"),
        )
        .unwrap();
        assert_eq!(id.username, "dev:a-b.c");
        assert_eq!(id.source, Source::MapRoles);
        assert!(!id.may_access_configmaps("get", Some("kube-system")));
        assert!(id.may_access_configmaps("get", Some("default")));
    }

    #[test]
    fn every_template_renders_and_a_missing_value_fails() {
        let c = cluster(
            AuthMode::ConfigMap,
            "- rolearn: arn:aws:iam::012345678901:role/Dev\n  username: \"{{AccountID}}:{{SessionNameRaw}}:{{AccessKeyID}}\"\n  groups: [\"g-{{SessionName}}\"]\n- rolearn: arn:aws:iam::012345678901:role/Node\n  username: \"system:node:{{EC2PrivateDNSName}}\"\n",
        );
        let id = map(
            &c,
            &caller("arn:aws:sts::012345678901:assumed-role/Dev/a@b"),
        )
        .unwrap();
        assert_eq!(id.username, "012345678901:a@b:ASIA1");
        assert_eq!(id.groups, vec!["g-a-b"]);
        let node = caller("arn:aws:sts::012345678901:assumed-role/Node/i-1");
        assert!(matches!(map(&c, &node), Err(MappingError::Template { .. })));
        let with_dns = VerifiedCaller {
            ec2_private_dns_name: Some("ip-10-0-0-1.ec2.internal".into()),
            ..node
        };
        assert_eq!(
            map(&c, &with_dns).unwrap().username,
            "system:node:ip-10-0-0-1.ec2.internal"
        );
    }

    #[test]
    fn roles_are_searched_before_users() {
        let mut c = cluster(
            AuthMode::ConfigMap,
            "- rolearn: arn:aws:iam::012345678901:role/X\n  username: from-roles\n",
        );
        c.configmaps
            .patch(
                "kube-system",
                "aws-auth",
                &crate::configmaps::Patch::Merge(json!({"data": {"mapUsers": "- userarn: arn:aws:iam::012345678901:role/X\n  username: from-users\n"}})),
                false,
            )
            .unwrap();
        let id = map(&c, &caller("arn:aws:sts::012345678901:assumed-role/X/s")).unwrap();
        assert_eq!(
            (id.username.as_str(), id.source),
            ("from-roles", Source::MapRoles)
        );
    }

    #[test]
    fn api_mode_ignores_aws_auth() {
        let c = cluster(
            AuthMode::Api,
            "- rolearn: arn:aws:iam::012345678901:role/Dev\n  username: dev\n  groups: [system:masters]\n",
        );
        let e = map(&c, &caller("arn:aws:sts::012345678901:assumed-role/Dev/s")).unwrap_err();
        assert!(matches!(e, MappingError::Unmapped(_)));
    }

    #[test]
    fn namespace_scoped_policies_authorize_only_their_namespaces() {
        let mut c = cluster(AuthMode::Api, "");
        let viewer = "arn:aws:iam::012345678901:user/viewer";
        let body = json!({"principalArn": viewer});
        let (new, p) =
            crate::access_entries::NewEntry::from_request(&body, "012345678901").unwrap();
        c.access_entries
            .create(new, p, "c", "us-east-1", "012345678901")
            .unwrap();
        let scope = json!({"type": "namespace", "namespaces": ["team-a", "dev-*"]});
        let view = json!({"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "accessScope": scope});
        c.access_entries.associate(viewer, &view).unwrap();
        let id = map(&c, &caller(viewer)).unwrap();
        assert!(id.may_access_configmaps("list", Some("team-a")));
        assert!(id.may_access_configmaps("get", Some("dev-1")));
        assert!(!id.may_access_configmaps("list", Some("team-b")));
        assert!(
            !id.may_access_configmaps("update", Some("team-a")),
            "a viewer only reads"
        );
        assert!(
            !id.may_access_configmaps("list", None),
            "all namespaces needs cluster scope"
        );
        let secrets = json!({"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretReaderPolicy", "accessScope": {"type": "cluster"}});
        c.access_entries.associate(viewer, &secrets).unwrap();
        let id = map(&c, &caller(viewer)).unwrap();
        assert!(
            !id.may_access_configmaps("list", Some("team-b")),
            "secrets only"
        );
    }

    #[test]
    fn map_accounts_gives_the_canonical_arn_and_no_groups() {
        let mut c = cluster(AuthMode::ConfigMap, "");
        c.configmaps
            .patch(
                "kube-system",
                "aws-auth",
                &crate::configmaps::Patch::Merge(
                    json!({"data": {"mapAccounts": "- \"012345678901\"\n"}}),
                ),
                false,
            )
            .unwrap();
        let id = map(&c, &caller("arn:aws:sts::012345678901:assumed-role/X/s")).unwrap();
        assert_eq!(id.username, "arn:aws:iam::012345678901:role/X");
        assert!(id.groups.is_empty());
    }
}
