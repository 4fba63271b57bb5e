//! The desired set for a user-level IAM event (a user created, deleted, added to or removed
//! from a group): aws-auth's current managed entries as they are, with only that user's entry
//! worked out again from the configuration.
//!
//! Pure: the adapter reads the one user into [`UserFacts`]. The rules for a user's entry are
//! those of [`super::from_iam`] (group order decides the username, a static user wins); a full
//! reconcile is that module's business.

use crate::core::aws_auth::{AwsAuth, ItemValue, OwnershipRules, SectionName};
use crate::core::desired::{Access, DesiredSet};
use crate::core::names::account_of;
use crate::core::settings::Settings;

/// What a user-level event read: the user's ARN (when known) and groups (`None`: the user is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub user_name: String,
    /// The account the event names, when it does (used only to match existing entries).
    pub account_id: Option<String>,
    /// The user's ARN from the configuration or IAM (GetUser); never from a payload.
    pub arn: Option<String>,
    pub groups: Option<Vec<String>>,
}

/// The desired set for a user-level event: aws-auth's current managed entries as they are,
/// with only this user's entry recomputed. Returns `None` when the user needs an entry but
/// its ARN is not known (the caller then reads it from IAM, or falls back to a full
/// reconcile): an existing entry's ARN tells which entry to replace, never what to grant.
pub fn desired_for_user_event(
    settings: &Settings,
    cluster: &str,
    current: &AwsAuth,
    ownership: &OwnershipRules,
    user: &UserFacts,
) -> Option<(DesiredSet, Vec<String>)> {
    let mut set = DesiredSet::default();
    let mut warnings = Vec::new();
    // IAM user names are unique in an account (whatever the path), so the user's entries are
    // the user ARNs of that name in its account: an entry left with an old path is replaced.
    let account = user
        .arn
        .as_deref()
        .and_then(account_of)
        .or(user.account_id.as_deref());
    let is_this_user = |arn: &str| {
        let name_matches = arn
            .rsplit(['/', ':'])
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case(&user.user_name));
        let account_matches = account.is_none_or(|a| account_of(arn) == Some(a));
        arn.contains(":user/") && name_matches && account_matches
    };
    for name in SectionName::ALL {
        let section = current.section(name);
        let flags = ownership.managed_flags(section, current.ledger.as_ref());
        for (value, managed) in section.values().zip(flags) {
            if !managed {
                continue;
            }
            let reason = "unchanged (the event concerns another principal)";
            let result = match value {
                ItemValue::Mapping(m) if name == SectionName::MapUsers && is_this_user(&m.arn) => {
                    Ok(())
                }
                other => set.add_aws_auth_entry(name, "current", other, reason),
            };
            if let Err(e) = result {
                warnings.push(e.to_string());
            }
        }
    }
    let applies = |clusters: &[String]| clusters.iter().any(|c| c == cluster);
    // A static user is the configuration's: found by its ARN, or (no ARN read yet) by name
    // in the event's account; its ARN is then the configured one.
    let static_user = settings.users.iter().find(|u| {
        applies(&u.clusters)
            && match user.arn.as_deref() {
                Some(a) => u.arn.as_str().eq_ignore_ascii_case(a),
                None => {
                    u.arn.name().eq_ignore_ascii_case(&user.user_name)
                        && account.is_none_or(|a| a == u.arn.account_id())
                }
            }
    });
    let known_arn = user.arn.as_deref().or(static_user.map(|u| u.arn.as_str()));
    let Some(groups) = &user.groups else {
        // The user is gone: their entries go, except what `users` configures (as a full
        // reconcile keeps it).
        if let (Some(u), Some(arn)) = (static_user, known_arn) {
            let reason = "configured in users";
            let access = Access::policies(&u.access_policies);
            let mapping = (u.username.as_str(), u.kubernetes_groups.as_slice(), &access);
            if let Err(e) = set.add_with(SectionName::MapUsers, reason, arn, mapping, reason) {
                warnings.push(e.to_string());
            }
        }
        return Some((set, warnings));
    };
    let mut username = None;
    let mut k8s_groups: Vec<String> = Vec::new();
    let mut access = Access::default();
    let mut via = Vec::new();
    for group in settings.groups.iter().filter(|g| applies(&g.clusters)) {
        if groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case(&group.iam_group))
        {
            username.get_or_insert(&group.username_prefix);
            for g in &group.kubernetes_groups {
                if !k8s_groups.contains(g) {
                    k8s_groups.push(g.clone());
                }
            }
            access.merge(&group.access_policies);
            via.push(group.iam_group.clone());
        }
    }
    let entry = match static_user {
        Some(u) => Some((
            u.username.clone(),
            u.kubernetes_groups.clone(),
            Access::policies(&u.access_policies),
            "configured in users".to_owned(),
        )),
        None => username.map(|prefix| {
            // The name as IAM spells it (the event's spelling may differ in case).
            let iam_name = known_arn
                .and_then(|arn| arn.rsplit('/').next())
                .unwrap_or(&user.user_name);
            (
                format!("{prefix}{iam_name}"),
                k8s_groups,
                access,
                format!("member of IAM group {}", via.join(", ")),
            )
        }),
    };
    if let Some((username, groups, access, reason)) = entry {
        let arn = known_arn?;
        let mapping = (username.as_str(), groups.as_slice(), &access);
        if let Err(e) = set.add_with(SectionName::MapUsers, &reason, arn, mapping, &reason) {
            warnings.push(e.to_string());
        }
    }
    Some((set, warnings))
}

#[cfg(test)]
mod both_stores_path;
#[cfg(test)]
mod forged_payloads;
#[cfg(test)]
mod one_principal_path;
#[cfg(test)]
mod tests;
