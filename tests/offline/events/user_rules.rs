//! The rules for failed calls, group membership and user events (Create/Delete/UpdateUser).

use eks_iam_sync::events::{Action, Expectation, classify};
use serde_json::{Value, json};

use super::{decide, decide_shape, iam_event, settings_without_groups, shape};

#[test]
fn a_failed_call_is_acknowledged_whatever_it_names() {
    let mut event = iam_event("DeleteGroup", json!({"groupName": "eks-admins"}));
    event["detail"]["errorCode"] = json!("NoSuchEntity");
    let d = decide(&event);
    assert_eq!(d.action, Action::Acknowledge);
    assert_eq!(
        d.reason,
        "DeleteGroup: the call failed (NoSuchEntity), so IAM did not change"
    );
}

#[test]
fn a_null_error_code_is_not_a_failure() {
    let mut event = iam_event("DeleteGroup", json!({"groupName": "eks-admins"}));
    event["detail"]["errorCode"] = Value::Null;
    assert_eq!(shape(&decide(&event)), "reconcile prod,staging");
}

#[test]
fn membership_of_an_unconfigured_group_needs_nothing() {
    let d = decide(&iam_event(
        "AddUserToGroup",
        json!({"groupName": "marketing", "userName": "alice"}),
    ));
    assert_eq!(d.action, Action::Acknowledge);
    assert_eq!(
        d.reason,
        "AddUserToGroup: group marketing is not configured, so its members get nothing"
    );
}

#[test]
fn membership_groups_match_case_insensitively() {
    assert_eq!(
        decide_shape(
            "RemoveUserFromGroup",
            json!({"groupName": "EKS-ADMINS", "userName": "bob"})
        ),
        "sync-user bob NotMemberOf(\"eks-admins\") prod,staging"
    );
}

#[test]
fn membership_event_reason_names_group_user_and_clusters() {
    let d = decide(&iam_event(
        "AddUserToGroup",
        json!({"groupName": "developers", "userName": "erin"}),
    ));
    assert_eq!(
        d.reason,
        "AddUserToGroup: group developers is configured; re-read erin's groups and update only their entries on staging"
    );
    let Action::SyncUser(sync) = d.action else {
        panic!()
    };
    assert_eq!(
        sync.user_arn, None,
        "ListGroupsForUser does not give the ARN, and the event does not either"
    );
}

#[test]
fn membership_without_a_user_name_reconciles_the_group_clusters() {
    assert_eq!(
        decide_shape("AddUserToGroup", json!({"groupName": "developers"})),
        "reconcile staging"
    );
}

#[test]
fn request_parameters_null_on_success_is_ambiguous() {
    assert_eq!(
        decide_shape("AddUserToGroup", Value::Null),
        "reconcile prod,staging"
    );
    assert_eq!(
        decide_shape("DeleteRole", Value::Null),
        "reconcile prod,staging"
    );
    assert_eq!(decide_shape("CreateUser", Value::Null), "reconcile prod");
    let d = classify(
        &iam_event("DeleteGroup", Value::Null),
        &settings_without_groups(),
    )
    .unwrap();
    assert_eq!(d.action, Action::Acknowledge);
}

#[test]
fn a_new_unconfigured_user_needs_nothing() {
    let d = decide(&iam_event("CreateUser", json!({"userName": "carol"})));
    assert_eq!(d.action, Action::Acknowledge);
    assert!(d.reason.contains("carol is not configured"), "{}", d.reason);
}

#[test]
fn a_recreated_configured_user_is_synced_with_its_arn_from_settings() {
    let d = decide(&iam_event(
        "CreateUser",
        json!({"userName": "Alice", "path": "/ops/"}),
    ));
    let Action::SyncUser(sync) = d.action else {
        panic!("{}", d.reason)
    };
    assert_eq!(
        sync.user_arn.as_deref(),
        Some("arn:aws:iam::111122223333:user/ops/alice")
    );
    assert_eq!(
        (sync.expect, sync.clusters),
        (Expectation::UserExists, vec!["prod".to_owned()])
    );
}

#[test]
fn a_configured_user_in_another_account_does_not_match() {
    let mut event = iam_event("CreateUser", json!({"userName": "alice"}));
    event["detail"]["recipientAccountId"] = json!("999988887777");
    assert_eq!(decide(&event).action, Action::Acknowledge);
}

#[test]
fn deleting_any_user_rereads_them_when_groups_are_configured() {
    let d = decide(&iam_event("DeleteUser", json!({"userName": "zoe"})));
    assert_eq!(shape(&d), "sync-user zoe UserGone prod,staging");
    assert!(
        d.reason
            .contains("may have been a member of a configured group"),
        "{}",
        d.reason
    );
}

#[test]
fn deleting_an_unconfigured_user_without_groups_needs_nothing() {
    let d = classify(
        &iam_event("DeleteUser", json!({"userName": "zoe"})),
        &settings_without_groups(),
    )
    .unwrap();
    assert_eq!(d.action, Action::Acknowledge);
    let d = classify(
        &iam_event("DeleteUser", json!({"userName": "alice"})),
        &settings_without_groups(),
    )
    .unwrap();
    assert_eq!(shape(&d), "sync-user alice UserGone prod");
}

#[test]
fn update_user_without_rename_or_move_needs_nothing() {
    assert_eq!(
        decide_shape("UpdateUser", json!({"userName": "bob"})),
        "ack"
    );
}

#[test]
fn update_user_path_change_is_a_full_reconcile() {
    let d = decide(&iam_event(
        "UpdateUser",
        json!({"userName": "bob", "newPath": "/eng/"}),
    ));
    assert_eq!(shape(&d), "reconcile prod,staging");
    assert!(d.reason.contains("bob moved to path /eng/"), "{}", d.reason);
}

#[test]
fn update_user_rename_touches_only_clusters_of_configured_things() {
    let s = settings_without_groups();
    let d = classify(
        &iam_event(
            "UpdateUser",
            json!({"userName": "alice", "newUserName": "alicia"}),
        ),
        &s,
    )
    .unwrap();
    assert_eq!(shape(&d), "reconcile prod");
    let d = classify(
        &iam_event("UpdateUser", json!({"userName": "x", "newUserName": "y"})),
        &s,
    )
    .unwrap();
    assert_eq!(d.action, Action::Acknowledge);
}
