//! Who should have access to a cluster, worked out from the configuration and what a full
//! read of IAM said.
//!
//! Pure: the adapters read IAM into [`IamFacts`]; this module turns them into the
//! [`DesiredSet`] the planners compare with aws-auth or the access entries. The one-user
//! shortcut of an IAM event is [`super::user_event`].
//!
//! Rules:
//! - A member of a configured IAM group gets `usernamePrefix + user name` and the group's
//!   Kubernetes groups. A user in several configured groups gets one entry with the union of
//!   their Kubernetes groups and the username of the first group in configuration order.
//! - A statically configured user overrides what groups would give that user.
//! - Configured roles are taken as written; SSO permission sets are found by role name
//!   (`AWSReservedSSO_<set>_<suffix>`), every match among the roles of the cluster's own
//!   account (the suffix differs per account); a permission set with no role is a warning.
//! - A group that does not exist counts as empty, with a warning (a failed read is an error in
//!   the adapter and never reaches this module).

use std::collections::BTreeMap;

use crate::core::aws_auth::SectionName;
use crate::core::desired::{Access, DesiredSet};
use crate::core::names::{canonical_principal_arn, sso_permission_set_of_role};
use crate::core::settings::Settings;

/// An IAM user as read from IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub arn: String,
}

/// What a full reconcile read from IAM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamFacts {
    /// Members per configured group name; `None` when the group does not exist.
    pub group_members: BTreeMap<String, Option<Vec<Member>>>,
    /// Every SSO permission-set role of the cluster's account (read through its
    /// `assumeRoleArn`, else the function's own credentials): (role name, role ARN).
    pub sso_roles: Vec<(String, String)>,
    /// IAM unique ids by lowercase principal ARN (as IAM returns it), for what was read:
    /// copied onto the desired mappings (access entries are recreated when one changes).
    pub principal_ids: BTreeMap<String, String>,
}

/// A group member's mapping as it is built: the member, its username, Kubernetes groups, the
/// IAM groups it comes from, and its access policies.
type MemberMapping = (Member, String, Vec<String>, Vec<String>, Access);

/// The desired set for `cluster`, with warnings for the operator.
pub fn desired_for_cluster(
    settings: &Settings,
    cluster: &str,
    facts: &IamFacts,
) -> (DesiredSet, Vec<String>) {
    let mut set = DesiredSet::default();
    let mut warnings = Vec::new();
    let applies = |clusters: &[String]| clusters.iter().any(|c| c == cluster);

    let mut from_groups: BTreeMap<String, MemberMapping> = BTreeMap::new();
    for group in settings.groups.iter().filter(|g| applies(&g.clusters)) {
        match facts.group_members.get(&group.iam_group) {
            None => warnings.push(format!(
                "IAM group {} was not read; counted as empty",
                group.iam_group
            )),
            Some(None) => warnings.push(format!(
                "IAM group {} does not exist; counted as empty",
                group.iam_group
            )),
            Some(Some(members)) => {
                for member in members {
                    let entry = from_groups
                        .entry(member.arn.to_ascii_lowercase())
                        .or_insert_with(|| {
                            (
                                member.clone(),
                                format!("{}{}", group.username_prefix, member.name),
                                Vec::new(),
                                Vec::new(),
                                Access::default(),
                            )
                        });
                    for k8s_group in &group.kubernetes_groups {
                        if !entry.2.contains(k8s_group) {
                            entry.2.push(k8s_group.clone());
                        }
                    }
                    entry.3.push(group.iam_group.clone());
                    entry.4.merge(&group.access_policies);
                }
            }
        }
    }
    let static_users: Vec<_> = settings
        .users
        .iter()
        .filter(|u| applies(&u.clusters))
        .collect();
    for (key, (member, username, groups, iam_groups, access)) in &from_groups {
        if static_users
            .iter()
            .any(|u| u.arn.as_str().eq_ignore_ascii_case(key))
        {
            continue;
        }
        let reason = format!("member of IAM group {}", iam_groups.join(", "));
        let mapping = (username.as_str(), groups.as_slice(), access);
        if let Err(e) = set.add_with(
            SectionName::MapUsers,
            &reason,
            &member.arn,
            mapping,
            &reason,
        ) {
            warnings.push(e.to_string());
        }
    }
    for user in static_users {
        let reason = "configured in users".to_owned();
        let access = Access::policies(&user.access_policies);
        let mapping = (
            user.username.as_str(),
            user.kubernetes_groups.as_slice(),
            &access,
        );
        if let Err(e) = set.add_with(
            SectionName::MapUsers,
            "users",
            user.arn.as_str(),
            mapping,
            &reason,
        ) {
            warnings.push(e.to_string());
        }
    }
    for role in settings.roles.iter().filter(|r| applies(&r.clusters)) {
        let access = Access {
            entry_type: role.access_entry_type,
            ..Access::policies(&role.access_policies)
        };
        let mapping = (
            role.username.as_str(),
            role.kubernetes_groups.as_slice(),
            &access,
        );
        let reason = "configured in roles";
        if let Err(e) = set.add_with(
            SectionName::MapRoles,
            "roles",
            role.arn.as_str(),
            mapping,
            reason,
        ) {
            warnings.push(e.to_string());
        }
    }
    for permission_set in settings
        .sso_permission_sets
        .iter()
        .filter(|p| applies(&p.clusters))
    {
        let roles: Vec<_> = facts
            .sso_roles
            .iter()
            .filter(|(name, _)| {
                sso_permission_set_of_role(name)
                    .is_some_and(|s| s.eq_ignore_ascii_case(&permission_set.name))
            })
            .collect();
        if roles.is_empty() {
            warnings.push(format!(
                "no SSO role found for permission set {} (is it provisioned to this account?)",
                permission_set.name
            ));
        }
        for (name, arn) in roles {
            let reason = format!("SSO permission set {} (role {name})", permission_set.name);
            let access = Access::policies(&permission_set.access_policies);
            let groups = permission_set.kubernetes_groups.as_slice();
            let mapping = (permission_set.username.as_str(), groups, &access);
            let place = "ssoPermissionSets";
            if let Err(e) = set.add_with(SectionName::MapRoles, place, arn, mapping, &reason) {
                warnings.push(e.to_string());
            }
        }
    }
    for account in &settings.accounts {
        if let Err(e) = set.add_account("accounts", account, "configured in accounts") {
            warnings.push(e.to_string());
        }
    }
    for (arn, id) in &facts.principal_ids {
        if let Ok(canonical) = canonical_principal_arn(arn) {
            set.set_principal_id(&canonical.arn, id);
        }
    }
    (set, warnings)
}
