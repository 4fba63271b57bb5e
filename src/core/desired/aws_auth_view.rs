//! What aws-auth can express of a desired set (issue 13): aws-auth knows usernames and
//! Kubernetes groups only, so access policies and entry types are translated where EKS
//! documents an equivalent and reported where it does not.
//!
//! - `AmazonEKSClusterAdminPolicy` at cluster scope is `system:masters` (added to the groups).
//! - Any other policy (or ClusterAdmin scoped to namespaces) cannot be expressed: the mapping
//!   is written with its Kubernetes groups and a warning names the policies; with no group
//!   left it is skipped with that reason.
//! - A node entry type becomes EKS's documented aws-auth mapping for it:
//!   `EC2_LINUX` `system:node:{{EC2PrivateDNSName}}` in `system:bootstrappers`,
//!   `system:nodes`; `EC2_WINDOWS` the same plus `eks:kube-proxy-windows`; `FARGATE_LINUX`
//!   `system:node:{{SessionName}}` in `system:bootstrappers`, `system:nodes`,
//!   `system:node-proxier`; `HYBRID_LINUX` `system:node:{{SessionName}}` in
//!   `system:bootstrappers`, `system:nodes`; `EC2` (Auto Mode) has no aws-auth form and is
//!   skipped.
//!
//! It does not plan anything: [`crate::core::aws_auth::plan::plan()`] plans the view's set.

use crate::core::aws_auth::SectionName;
use crate::core::desired::{Access, DesiredMapping, DesiredSet};
use crate::core::guards::{CLUSTER_ADMIN_POLICY_NAME, MASTERS};
use crate::core::settings::{AccessPolicy, EntryType};

/// A desired set as aws-auth can hold it, with what had to be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsAuthView {
    /// The mappings aws-auth can hold (policies and types translated away); the warnings of
    /// the original set plus one per mapping with policies aws-auth cannot express.
    pub set: DesiredSet,
    /// Mappings that cannot be written at all: (section, ARN, why).
    pub skipped: Vec<(SectionName, String, String)>,
}

/// EKS's documented aws-auth username and groups of a node entry type; `None` for `EC2`
/// (Auto Mode node classes need access entries) and `STANDARD`.
pub fn node_mapping(entry_type: EntryType) -> Option<(&'static str, &'static [&'static str])> {
    const EC2_DNS: &str = "system:node:{{EC2PrivateDNSName}}";
    const SESSION: &str = "system:node:{{SessionName}}";
    match entry_type {
        EntryType::Ec2Linux => Some((EC2_DNS, &["system:bootstrappers", "system:nodes"])),
        EntryType::Ec2Windows => Some((
            EC2_DNS,
            &[
                "system:bootstrappers",
                "system:nodes",
                "eks:kube-proxy-windows",
            ],
        )),
        EntryType::FargateLinux => Some((
            SESSION,
            &[
                "system:bootstrappers",
                "system:nodes",
                "system:node-proxier",
            ],
        )),
        EntryType::HybridLinux => Some((SESSION, &["system:bootstrappers", "system:nodes"])),
        EntryType::Standard | EntryType::Ec2 => None,
    }
}

fn describe(policies: &[&AccessPolicy]) -> String {
    policies
        .iter()
        .map(|p| {
            if p.is_cluster_scope() {
                p.name.clone()
            } else {
                format!("{} (namespaces {})", p.name, p.namespaces.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl DesiredSet {
    /// This set in aws-auth's terms (see the module documentation).
    pub fn for_aws_auth(&self) -> AwsAuthView {
        let mut view = AwsAuthView {
            set: DesiredSet {
                accounts: self.accounts.clone(),
                warnings: self.warnings.clone(),
                ..DesiredSet::default()
            },
            skipped: Vec::new(),
        };
        for (section, map) in [
            (SectionName::MapRoles, &self.roles),
            (SectionName::MapUsers, &self.users),
        ] {
            for (key, mapping) in map {
                match express(mapping) {
                    Ok((written, warning)) => {
                        view.set.warnings.extend(warning);
                        let target = if section == SectionName::MapRoles {
                            &mut view.set.roles
                        } else {
                            &mut view.set.users
                        };
                        target.insert(key.clone(), written);
                    }
                    Err(why) => view.skipped.push((section, mapping.arn.clone(), why)),
                }
            }
        }
        view
    }
}

/// One mapping in aws-auth's terms, with a warning for what is left out; `Err` when nothing
/// of it can be written.
fn express(mapping: &DesiredMapping) -> Result<(DesiredMapping, Option<String>), String> {
    if let Some(entry_type) = mapping.access.entry_type.filter(|t| t.is_node()) {
        let Some((username, groups)) = node_mapping(entry_type) else {
            return Err(format!(
                "access entry type {} (EKS Auto Mode node class) has no aws-auth equivalent: it needs access entries",
                entry_type.as_str()
            ));
        };
        let written = DesiredMapping {
            username: username.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            access: Access::default(),
            ..mapping.clone()
        };
        return Ok((written, None));
    }
    let mut groups = mapping.groups.clone();
    let mut lost = Vec::new();
    for policy in &mapping.access.policies {
        if policy.name == CLUSTER_ADMIN_POLICY_NAME && policy.is_cluster_scope() {
            if !groups.iter().any(|g| g == MASTERS) {
                groups.push(MASTERS.to_owned());
            }
        } else {
            lost.push(policy);
        }
    }
    if !lost.is_empty() && groups.is_empty() {
        return Err(format!(
            "aws-auth cannot express access policies {} and the mapping has no kubernetesGroups to write",
            describe(&lost)
        ));
    }
    let warning = (!lost.is_empty()).then(|| {
        format!(
            "{} ({}): aws-auth cannot express access policies {}; written with its kubernetesGroups [{}] only",
            mapping.arn,
            mapping.reason,
            describe(&lost),
            groups.join(", ")
        )
    });
    let written = DesiredMapping {
        groups,
        access: Access::default(),
        ..mapping.clone()
    };
    Ok((written, warning))
}
