//! The rules for IAM events about users: group membership (AddUserToGroup,
//! RemoveUserFromGroup), CreateUser, DeleteUser and UpdateUser, and the [`UserSync`] a
//! user-level action carries. Group and role events are `groups`' and `roles'`.

use super::clusters::{
    Clusters, all_group_clusters, principal_matches, reconcile, reconcile_or_acknowledge, same_name,
};
use super::envelope::ApiCall;
use super::{Action, Expectation, IamRead, UserSync};
use crate::core::settings::Settings;

pub(super) fn membership(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let added = call.event_name == "AddUserToGroup";
    let Some(group_name) = call.param("groupName") else {
        return reconcile_or_acknowledge(
            &all_group_clusters(settings),
            || "no groups are configured, so no membership change matters".to_owned(),
            |_| "no groupName in the event; full reconcile of every group cluster".to_owned(),
        );
    };
    let Some(group) = settings
        .groups
        .iter()
        .find(|g| same_name(&g.iam_group, group_name))
    else {
        return (
            Action::Acknowledge,
            format!("group {group_name} is not configured, so its members get nothing"),
        );
    };
    let mut clusters = Clusters::new(settings);
    clusters.add(&group.clusters);
    let Some(user_name) = call.param("userName") else {
        return (
            reconcile(&clusters),
            format!("no userName in the event; full reconcile of group {group_name}'s clusters"),
        );
    };
    let expect = if added {
        Expectation::MemberOf(group.iam_group.clone())
    } else {
        Expectation::NotMemberOf(group.iam_group.clone())
    };
    let sync = user_sync(call, settings, user_name, expect, &clusters);
    let reason = format!(
        "group {group_name} is configured; re-read {user_name}'s groups and update only their entries on {}",
        sync.clusters.join(", ")
    );
    (Action::SyncUser(sync), reason)
}

fn user_sync(
    call: &ApiCall<'_>,
    settings: &Settings,
    user_name: &str,
    expect: Expectation,
    clusters: &Clusters<'_>,
) -> UserSync {
    UserSync {
        user_name: user_name.to_owned(),
        user_arn: configured_user_arn(settings, user_name, call.account),
        account_id: call.account.map(str::to_owned),
        read: IamRead::GroupsForUser {
            user_name: user_name.to_owned(),
        },
        expect,
        clusters: clusters.ordered(),
    }
}

/// The ARN the configuration (`users`) gives `user_name` (in `account`, when known). Never
/// the event's: `responseElements.user.arn` is whatever the caller sent, so a user event's
/// ARN comes from here or from IAM (GetUser), never from the payload.
pub fn configured_user_arn(
    settings: &Settings,
    user_name: &str,
    account: Option<&str>,
) -> Option<String> {
    settings
        .users
        .iter()
        .find(|u| principal_matches(u, user_name, account))
        .map(|u| u.arn.as_str().to_owned())
}

/// Adds the clusters of the `users` mappings for `name` (in `account`, when known); whether
/// there was one.
fn static_user_clusters<'s>(
    settings: &'s Settings,
    clusters: &mut Clusters<'s>,
    name: &str,
    account: Option<&str>,
) -> bool {
    let mut found = false;
    for u in settings
        .users
        .iter()
        .filter(|u| principal_matches(u, name, account))
    {
        clusters.add(&u.clusters);
        found = true;
    }
    found
}

/// Adds the clusters of every `users` mapping.
fn every_user_cluster<'s>(settings: &'s Settings, clusters: &mut Clusters<'s>) {
    for u in &settings.users {
        clusters.add(&u.clusters);
    }
}

pub(super) fn user_lifecycle(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let created = call.event_name == "CreateUser";
    let Some(user_name) = call.param("userName") else {
        let mut clusters = if created {
            Clusters::new(settings)
        } else {
            all_group_clusters(settings)
        };
        every_user_cluster(settings, &mut clusters);
        return reconcile_or_acknowledge(
            &clusters,
            || "no userName in the event, but no user or group is configured".to_owned(),
            |_| {
                "no userName in the event; full reconcile of every cluster it could affect"
                    .to_owned()
            },
        );
    };
    if created {
        let mut clusters = Clusters::new(settings);
        if !static_user_clusters(settings, &mut clusters, user_name, call.account) {
            return (
                Action::Acknowledge,
                format!(
                    "{user_name} is not configured and a new user is in no group yet; AddUserToGroup will follow"
                ),
            );
        }
        let sync = user_sync(
            call,
            settings,
            user_name,
            Expectation::UserExists,
            &clusters,
        );
        let reason = format!(
            "{user_name} is configured in users and was (re)created; update their entries on {} (an access entry must be recreated)",
            sync.clusters.join(", ")
        );
        return (Action::SyncUser(sync), reason);
    }
    let mut clusters = all_group_clusters(settings);
    let configured = static_user_clusters(settings, &mut clusters, user_name, call.account);
    if clusters.is_empty() {
        return (
            Action::Acknowledge,
            format!("{user_name} is not configured and no groups are configured"),
        );
    }
    let sync = user_sync(call, settings, user_name, Expectation::UserGone, &clusters);
    let why = if configured {
        format!("{user_name} is configured in users")
    } else {
        format!(
            "{user_name} may have been a member of a configured group (RemoveUserFromGroup events can be lost or late)"
        )
    };
    let reason = format!(
        "{why}; re-read their groups and remove their entries on {}",
        sync.clusters.join(", ")
    );
    (Action::SyncUser(sync), reason)
}

pub(super) fn update_user(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let new_name = call.param("newUserName");
    let new_path = call.param("newPath");
    if new_name.is_none() && new_path.is_none() {
        return (
            Action::Acknowledge,
            "neither newUserName nor newPath: nothing that we map changed".to_owned(),
        );
    }
    let mut clusters = all_group_clusters(settings);
    let old_name = call.param("userName");
    match old_name {
        Some(old) => {
            static_user_clusters(settings, &mut clusters, old, call.account);
        }
        None => every_user_cluster(settings, &mut clusters),
    }
    if let Some(new) = new_name {
        static_user_clusters(settings, &mut clusters, new, call.account);
    }
    let what = match (old_name, new_name) {
        (Some(old), Some(new)) => format!("{old} renamed to {new}"),
        (None, Some(new)) => format!("a user renamed to {new}"),
        (Some(old), None) => format!("{old} moved to path {}", new_path.unwrap_or_default()),
        (None, None) => "a user moved to another path".to_owned(),
    };
    reconcile_or_acknowledge(
        &clusters,
        || format!("{what}, but no group or matching user is configured"),
        |names| format!("{what}: its ARN changed; full reconcile of {names}"),
    )
}
