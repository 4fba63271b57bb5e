//! One successful or failed IAM call, by event name, to the rule that decides what it leads to
//! (the table in the module doc of `events`). The rules themselves live in `users`, `groups`
//! and `roles`.

use super::Action;
use super::envelope::ApiCall;
use super::groups::{delete_group, update_group};
use super::roles::role_lifecycle;
use super::users::{membership, update_user, user_lifecycle};
use crate::core::settings::Settings;

pub(super) fn classify_call(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    if let Some(code) = &call.error_code {
        return (
            Action::Acknowledge,
            format!("the call failed ({code}), so IAM did not change"),
        );
    }
    match call.event_name {
        "AddUserToGroup" | "RemoveUserFromGroup" => membership(call, settings),
        "CreateUser" | "DeleteUser" => user_lifecycle(call, settings),
        "UpdateUser" => update_user(call, settings),
        "CreateGroup" => (
            Action::Acknowledge,
            "a new group has no members yet; AddUserToGroup will follow".to_owned(),
        ),
        "DeleteGroup" => delete_group(call, settings),
        "UpdateGroup" => update_group(call, settings),
        "CreateRole" | "DeleteRole" => role_lifecycle(call, settings),
        "TagUser" | "UntagUser" | "TagRole" | "UntagRole" => (
            Action::Acknowledge,
            "tags play no part in the mapping, nothing to do".to_owned(),
        ),
        _ => (
            Action::Acknowledge,
            "not an event that can change cluster access, nothing to do".to_owned(),
        ),
    }
}
