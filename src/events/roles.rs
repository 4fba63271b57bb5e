//! The rule for CreateRole and DeleteRole: a configured role, or the SSO role
//! (`AWSReservedSSO_<Set>_<hex>`) of a configured permission set. Tag events are acknowledged
//! by `iam_call`.

use super::Action;
use super::clusters::{Clusters, principal_matches, reconcile_or_acknowledge, same_name};
use super::envelope::ApiCall;
use crate::core::names::sso_permission_set_of_role;
use crate::core::settings::Settings;

pub(super) fn role_lifecycle(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let verb = if call.event_name == "CreateRole" {
        "created"
    } else {
        "deleted"
    };
    let Some(role_name) = call.param("roleName") else {
        let mut clusters = Clusters::new(settings);
        for r in &settings.roles {
            clusters.add(&r.clusters);
        }
        for p in &settings.sso_permission_sets {
            clusters.add(&p.clusters);
        }
        return reconcile_or_acknowledge(
            &clusters,
            || "no roleName in the event, but no role or permission set is configured".to_owned(),
            |_| "no roleName in the event; full reconcile of every role cluster".to_owned(),
        );
    };
    let mut clusters = Clusters::new(settings);
    let mut why = Vec::new();
    for r in settings
        .roles
        .iter()
        .filter(|r| principal_matches(r, role_name, call.account))
    {
        clusters.add(&r.clusters);
        why.push(format!("role {role_name} is configured in roles"));
    }
    if let Some(set) = sso_permission_set_of_role(role_name) {
        for p in settings
            .sso_permission_sets
            .iter()
            .filter(|p| same_name(&p.name, set))
        {
            clusters.add(&p.clusters);
            why.push(format!(
                "{role_name} is the SSO role of configured permission set {set}"
            ));
        }
    }
    why.dedup();
    reconcile_or_acknowledge(
        &clusters,
        || {
            format!(
                "role {role_name} is not configured and is not the SSO role of a configured permission set"
            )
        },
        |names| {
            format!(
                "{} and was {verb}; full reconcile of {names}",
                why.join("; ")
            )
        },
    )
}
