//! The rules for group, role and tag events, other sources and detail types, console events
//! and the schedule.

use eks_iam_sync::events::{Action, Trigger};
use serde_json::json;

use super::{decide, decide_shape, iam_event, shape};

#[test]
fn create_group_needs_nothing() {
    assert_eq!(
        decide_shape("CreateGroup", json!({"groupName": "eks-admins"})),
        "ack"
    );
}

#[test]
fn delete_group_reconciles_only_a_configured_group() {
    assert_eq!(
        decide_shape("DeleteGroup", json!({"groupName": "eks-admins"})),
        "reconcile prod,staging"
    );
    assert_eq!(
        decide_shape("DeleteGroup", json!({"groupName": "marketing"})),
        "ack"
    );
}

#[test]
fn update_group_rules() {
    assert_eq!(
        decide_shape(
            "UpdateGroup",
            json!({"groupName": "developers", "newPath": "/x/"})
        ),
        "ack"
    );
    assert_eq!(
        decide_shape(
            "UpdateGroup",
            json!({"groupName": "marketing", "newGroupName": "sales"})
        ),
        "ack"
    );
    // Renamed *into* a configured name: its members gain access.
    assert_eq!(
        decide_shape(
            "UpdateGroup",
            json!({"groupName": "temp", "newGroupName": "developers"})
        ),
        "reconcile staging"
    );
    let d = decide(&iam_event(
        "UpdateGroup",
        json!({"groupName": "developers", "newGroupName": "engineers"}),
    ));
    assert_eq!(
        d.reason,
        "UpdateGroup: developers renamed to engineers; full reconcile of staging"
    );
}

#[test]
fn role_events_for_configured_roles_and_sso_permission_sets() {
    assert_eq!(
        decide_shape("CreateRole", json!({"roleName": "karpenternoderole-prod"})),
        "reconcile prod"
    );
    assert_eq!(
        decide_shape("DeleteRole", json!({"roleName": "some-lambda-role"})),
        "ack"
    );
    let d = decide(&iam_event(
        "DeleteRole",
        json!({"roleName": "AWSReservedSSO_AdministratorAccess_0123456789abcdef"}),
    ));
    assert_eq!(shape(&d), "reconcile prod,staging");
    assert!(
        d.reason
            .contains("SSO role of configured permission set AdministratorAccess"),
        "{}",
        d.reason
    );
    assert_eq!(
        decide_shape(
            "CreateRole",
            json!({"roleName": "AWSReservedSSO_ReadOnly_0123456789abcdef"})
        ),
        "ack",
        "an SSO role of an unconfigured permission set"
    );
}

#[test]
fn tag_events_need_nothing_even_for_configured_principals() {
    for (name, params) in [
        (
            "TagUser",
            json!({"userName": "alice", "tags": [{"key": "a", "value": "b"}]}),
        ),
        ("UntagUser", json!({"userName": "alice", "tagKeys": ["a"]})),
        (
            "TagRole",
            json!({"roleName": "KarpenterNodeRole-prod", "tags": []}),
        ),
        (
            "UntagRole",
            json!({"roleName": "KarpenterNodeRole-prod", "tagKeys": ["a"]}),
        ),
    ] {
        let d = decide(&iam_event(name, params));
        assert_eq!(d.action, Action::Acknowledge, "{name}");
        assert_eq!(
            d.reason,
            format!("{name}: tags play no part in the mapping, nothing to do")
        );
    }
}

#[test]
fn unknown_iam_event_names_are_acknowledged() {
    let d = decide(&iam_event("AttachUserPolicy", json!({"userName": "bob"})));
    assert_eq!(d.action, Action::Acknowledge);
    assert_eq!(
        d.reason,
        "AttachUserPolicy: not an event that can change cluster access, nothing to do"
    );
}

#[test]
fn other_sources_and_detail_types_are_acknowledged() {
    let mut event = iam_event(
        "AddUserToGroup",
        json!({"groupName": "eks-admins", "userName": "bob"}),
    );
    event["source"] = json!("aws.s3");
    event["detail"]["eventSource"] = json!("s3.amazonaws.com");
    let d = decide(&event);
    assert_eq!(d.action, Action::Acknowledge);
    assert!(matches!(d.trigger, Trigger::Other { .. }));
    let d = decide(
        &json!({"detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin", "detail": {}}),
    );
    assert_eq!(d.action, Action::Acknowledge);
    let d = decide(&json!({"detail-type": 42}));
    assert_eq!(d.action, Action::Acknowledge);
}

#[test]
fn console_events_with_an_empty_session_issuer_are_read() {
    let mut event = iam_event(
        "AddUserToGroup",
        json!({"groupName": "eks-admins", "userName": "bob"}),
    );
    event["detail"]["userIdentity"] = json!({"type": "IAMUser", "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {}}});
    assert_eq!(
        shape(&decide(&event)),
        "sync-user bob MemberOf(\"eks-admins\") prod,staging"
    );
}

#[test]
fn the_schedule_reconciles_every_cluster() {
    let d =
        decide(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}));
    assert_eq!(
        d.action,
        Action::Reconcile {
            clusters: vec!["prod".into(), "staging".into()],
            dry_run: false
        }
    );
    assert_eq!(d.reason, "scheduled event: full reconcile of every cluster");
}
