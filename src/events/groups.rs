//! The rules for IAM events about groups: DeleteGroup and UpdateGroup (a rename). CreateGroup
//! is acknowledged by `iam_call` (a new group has no members); membership is `users`'.

use super::Action;
use super::clusters::{Clusters, all_group_clusters, reconcile_or_acknowledge, same_name};
use super::envelope::ApiCall;
use crate::core::settings::Settings;

pub(super) fn delete_group(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let Some(group_name) = call.param("groupName") else {
        return reconcile_or_acknowledge(
            &all_group_clusters(settings),
            || "no groupName in the event, but no groups are configured".to_owned(),
            |_| "no groupName in the event; full reconcile of every group cluster".to_owned(),
        );
    };
    let mut clusters = Clusters::new(settings);
    for g in settings
        .groups
        .iter()
        .filter(|g| same_name(&g.iam_group, group_name))
    {
        clusters.add(&g.clusters);
    }
    reconcile_or_acknowledge(
        &clusters,
        || format!("group {group_name} is not configured"),
        |names| format!("configured group {group_name} was deleted; full reconcile of {names}"),
    )
}

pub(super) fn update_group(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let Some(new_name) = call.param("newGroupName") else {
        return (
            Action::Acknowledge,
            "no newGroupName: a group path change does not change membership".to_owned(),
        );
    };
    let old_name = call.param("groupName");
    let mut clusters = Clusters::new(settings);
    for g in &settings.groups {
        if same_name(&g.iam_group, new_name)
            || old_name.is_none_or(|old| same_name(&g.iam_group, old))
        {
            clusters.add(&g.clusters);
        }
    }
    let old = old_name.unwrap_or("a group");
    reconcile_or_acknowledge(
        &clusters,
        || format!("{old} renamed to {new_name}: neither name is configured"),
        |names| format!("{old} renamed to {new_name}; full reconcile of {names}"),
    )
}
