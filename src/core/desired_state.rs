//! Who should have access to a cluster, worked out from the configuration and what IAM said.
//!
//! Pure: the adapters read IAM into [`IamFacts`] (or, for one user, [`UserFacts`]); this module
//! turns them into the [`DesiredSet`] the planner compares with aws-auth.
//!
//! Rules:
//! - A member of a configured IAM group gets `usernamePrefix + user name` and the group's
//!   Kubernetes groups. A user in several configured groups gets one entry with the union of
//!   their Kubernetes groups and the username of the first group in configuration order.
//! - A statically configured user overrides what groups would give that user.
//! - Configured roles are taken as written; SSO permission sets are found by role name
//!   (`AWSReservedSSO_<set>_<suffix>`), every match; a permission set with no role is a warning.
//! - A group that does not exist counts as empty, with a warning (a failed read is an error in
//!   the adapter and never reaches this module).

use std::collections::BTreeMap;

use crate::config::{Settings, sso_permission_set_of_role};
use crate::core::aws_auth::{AwsAuth, ItemValue, OwnershipRules, SectionName};
use crate::core::desired::DesiredSet;

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
    /// Every SSO permission-set role of the account: (role name, role ARN).
    pub sso_roles: Vec<(String, String)>,
    /// IAM unique ids by lowercase principal ARN (as IAM returns it), for what was read:
    /// copied onto the desired mappings (access entries are recreated when one changes).
    pub principal_ids: BTreeMap<String, String>,
}

/// The desired set for `cluster`, with warnings for the operator.
pub fn desired_for_cluster(
    settings: &Settings,
    cluster: &str,
    facts: &IamFacts,
) -> (DesiredSet, Vec<String>) {
    let mut set = DesiredSet::default();
    let mut warnings = Vec::new();
    let applies = |clusters: &[String]| clusters.iter().any(|c| c == cluster);

    let mut from_groups: BTreeMap<String, (Member, String, Vec<String>, Vec<String>)> =
        BTreeMap::new();
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
                            )
                        });
                    for k8s_group in &group.kubernetes_groups {
                        if !entry.2.contains(k8s_group) {
                            entry.2.push(k8s_group.clone());
                        }
                    }
                    entry.3.push(group.iam_group.clone());
                }
            }
        }
    }
    let static_users: Vec<_> = settings
        .users
        .iter()
        .filter(|u| applies(&u.clusters))
        .collect();
    for (key, (member, username, groups, iam_groups)) in &from_groups {
        if static_users
            .iter()
            .any(|u| u.arn.as_str().eq_ignore_ascii_case(key))
        {
            continue;
        }
        let reason = format!("member of IAM group {}", iam_groups.join(", "));
        if let Err(e) = set.add_user(&reason, &member.arn, username, groups, &reason) {
            warnings.push(e.to_string());
        }
    }
    for user in static_users {
        let reason = "configured in users".to_owned();
        if let Err(e) = set.add_user(
            "users",
            user.arn.as_str(),
            &user.username,
            &user.kubernetes_groups,
            &reason,
        ) {
            warnings.push(e.to_string());
        }
    }
    for role in settings.roles.iter().filter(|r| applies(&r.clusters)) {
        if let Err(e) = set.add_role(
            "roles",
            role.arn.as_str(),
            &role.username,
            &role.kubernetes_groups,
            "configured in roles",
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
            if let Err(e) = set.add_role(
                "ssoPermissionSets",
                arn,
                &permission_set.username,
                &permission_set.kubernetes_groups,
                &reason,
            ) {
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
        if let Ok(canonical) = crate::core::arn::canonical_principal_arn(arn) {
            set.set_principal_id(&canonical.arn, id);
        }
    }
    (set, warnings)
}

/// What a user-level event read: the user's ARN (when known) and groups (`None`: the user is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub user_name: String,
    pub account_id: Option<String>,
    pub arn: Option<String>,
    pub groups: Option<Vec<String>>,
}

/// The desired set for a user-level event: aws-auth's current managed entries as they are,
/// with only this user's entry recomputed. Returns `None` when the user needs an entry but
/// its ARN is not known (the caller then reads it, or falls back to a full reconcile).
pub fn desired_for_user_event(
    settings: &Settings,
    cluster: &str,
    current: &AwsAuth,
    ownership: &OwnershipRules,
    user: &UserFacts,
) -> Option<(DesiredSet, Vec<String>)> {
    let mut set = DesiredSet::default();
    let mut warnings = Vec::new();
    let is_this_user = |arn: &str| {
        user.arn.as_deref().map_or_else(
            || {
                let name_matches = arn
                    .rsplit(['/', ':'])
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&user.user_name));
                let account_matches = user
                    .account_id
                    .as_deref()
                    .is_none_or(|a| crate::core::arn::account_of(arn) == Some(a));
                arn.contains(":user/") && name_matches && account_matches
            },
            |known| known.eq_ignore_ascii_case(arn),
        )
    };
    let mut known_arn = user.arn.clone();
    for name in SectionName::ALL {
        let section = current.section(name);
        let flags = ownership.managed_flags(section, current.ledger.as_ref());
        for (value, managed) in section.values().zip(flags) {
            if !managed {
                continue;
            }
            let reason = "unchanged (the event concerns another principal)";
            let result = match value {
                ItemValue::Account(id) => set.add_account("current", id, reason),
                ItemValue::Mapping(m) if name == SectionName::MapUsers && is_this_user(&m.arn) => {
                    known_arn.get_or_insert_with(|| m.arn.clone());
                    Ok(())
                }
                ItemValue::Mapping(m) => {
                    let username = m.username.clone().unwrap_or_default();
                    if name == SectionName::MapRoles {
                        set.add_role("current", &m.arn, &username, &m.groups, reason)
                    } else {
                        set.add_user("current", &m.arn, &username, &m.groups, reason)
                    }
                }
            };
            if let Err(e) = result {
                warnings.push(e.to_string());
            }
        }
    }

    let applies = |clusters: &[String]| clusters.iter().any(|c| c == cluster);
    let Some(groups) = &user.groups else {
        return Some((set, warnings)); // The user is gone: their entries go.
    };
    let static_user = settings.users.iter().find(|u| {
        applies(&u.clusters)
            && known_arn
                .as_deref()
                .is_some_and(|a| u.arn.as_str().eq_ignore_ascii_case(a))
    });
    let mut username = None;
    let mut k8s_groups: Vec<String> = Vec::new();
    let mut via = Vec::new();
    for group in settings.groups.iter().filter(|g| applies(&g.clusters)) {
        if groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case(&group.iam_group))
        {
            username.get_or_insert_with(|| format!("{}{}", group.username_prefix, user.user_name));
            for g in &group.kubernetes_groups {
                if !k8s_groups.contains(g) {
                    k8s_groups.push(g.clone());
                }
            }
            via.push(group.iam_group.clone());
        }
    }
    let entry = match static_user {
        Some(u) => Some((
            u.username.clone(),
            u.kubernetes_groups.clone(),
            "configured in users".to_owned(),
        )),
        None => username.map(|name| {
            (
                name,
                k8s_groups,
                format!("member of IAM group {}", via.join(", ")),
            )
        }),
    };
    if let Some((username, groups, reason)) = entry {
        let arn = known_arn?;
        if let Err(e) = set.add_user(&reason, &arn, &username, &groups, &reason) {
            warnings.push(e.to_string());
        }
    }
    Some((set, warnings))
}
