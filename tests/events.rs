//! Event classification: every sample in events/ (and ../shared/events when present) against
//! the example configuration, one test per rule, and proptests that nothing panics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eks_iam_sync::config::{Settings, from_text};
use eks_iam_sync::events::{
    Action, ClassifyError, Decision, Expectation, IamRead, Trigger, UserSync, classify,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example configuration: clusters prod and staging; groups eks-admins (all clusters) and
/// developers (staging); user ops/alice (prod); role KarpenterNodeRole-prod (prod); permission
/// set AdministratorAccess (all clusters).
fn settings() -> Settings {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/config/example.yaml")).unwrap();
    from_text(&text, "example.yaml", None).unwrap()
}

fn settings_without_groups() -> Settings {
    let mut s = settings();
    s.groups.clear();
    s
}

/// A compact, comparable form of a decision.
fn shape(decision: &Decision) -> String {
    match &decision.action {
        Action::Acknowledge => "ack".to_owned(),
        Action::Reconcile { clusters, dry_run } => {
            format!(
                "reconcile {}{}",
                clusters.join(","),
                if *dry_run { " dry-run" } else { "" }
            )
        }
        Action::SyncUser(UserSync {
            user_name,
            expect,
            clusters,
            read,
            ..
        }) => {
            assert_eq!(
                read,
                &IamRead::GroupsForUser {
                    user_name: user_name.clone()
                }
            );
            format!("sync-user {user_name} {expect:?} {}", clusters.join(","))
        }
    }
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn classify_dir(dir: &Path, settings: &Settings) -> BTreeMap<String, Decision> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let decision =
                classify(&load(&path), settings).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!decision.reason.is_empty(), "{name}: no reason");
            out.insert(name, decision);
        }
    }
    out
}

#[test]
fn every_sample_in_events_dir_is_classified_as_expected() {
    let expected: BTreeMap<&str, &str> = [
        (
            "add_user_to_group.json",
            "sync-user bob MemberOf(\"eks-admins\") prod,staging",
        ),
        (
            "add_user_to_group_console.json",
            "sync-user erin MemberOf(\"developers\") staging",
        ),
        ("add_user_to_group_failed.json", "ack"),
        (
            "remove_user_from_group.json",
            "sync-user erin NotMemberOf(\"developers\") staging",
        ),
        ("create_user.json", "sync-user alice UserExists prod"),
        ("delete_user.json", "sync-user dave UserGone prod,staging"),
        ("update_user.json", "reconcile prod,staging"),
        ("create_group.json", "ack"),
        ("delete_group.json", "reconcile staging"),
        ("update_group.json", "reconcile staging"),
        ("create_role.json", "reconcile prod,staging"),
        ("delete_role.json", "reconcile prod"),
        ("tag_user.json", "ack"),
        ("untag_user.json", "ack"),
        ("tag_role.json", "ack"),
        ("untag_role.json", "ack"),
        ("scheduled_event.json", "reconcile prod,staging"),
        ("invoke_dry_run.json", "reconcile prod dry-run"),
    ]
    .into_iter()
    .collect();
    let got = classify_dir(&repo().join("events"), &settings());
    let got_shapes: BTreeMap<&str, String> =
        got.iter().map(|(k, d)| (k.as_str(), shape(d))).collect();
    let want: BTreeMap<&str, String> = expected
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect();
    assert_eq!(
        got_shapes, want,
        "every file in events/ has exactly one expectation"
    );

    // Each required event name has a sample.
    let names: Vec<String> = got
        .values()
        .filter_map(|d| match &d.trigger {
            Trigger::IamEvent { event_name, .. } => Some(event_name.clone()),
            _ => None,
        })
        .collect();
    for name in [
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "CreateUser",
        "DeleteUser",
        "UpdateUser",
        "CreateGroup",
        "DeleteGroup",
        "UpdateGroup",
        "CreateRole",
        "DeleteRole",
        "TagUser",
        "UntagUser",
        "TagRole",
        "UntagRole",
    ] {
        assert!(names.iter().any(|n| n == name), "no sample for {name}");
    }
    // The samples carry what the handler needs.
    let created = &got["create_user.json"];
    let Action::SyncUser(sync) = &created.action else {
        panic!()
    };
    assert_eq!(
        sync.user_arn.as_deref(),
        Some("arn:aws:iam::111122223333:user/ops/alice")
    );
    assert_eq!(sync.account_id.as_deref(), Some("111122223333"));
    assert!(
        got["add_user_to_group_failed.json"]
            .reason
            .contains("AccessDenied")
    );
    assert_eq!(got["scheduled_event.json"].trigger, Trigger::Schedule);
    assert_eq!(got["invoke_dry_run.json"].trigger, Trigger::Invoke);
}

#[test]
fn shared_samples_are_classified() {
    let dir = repo().join("../shared/events");
    if !dir.is_dir() {
        return; // only present in the shared workspace
    }
    let got: BTreeMap<String, String> = classify_dir(&dir, &settings())
        .into_iter()
        .map(|(k, d)| (k, shape(&d)))
        .collect();
    assert!(!got.is_empty(), "../shared/events holds samples");
    let expect = |name: &str, want: &str| {
        if let Some(shape) = got.get(name) {
            assert_eq!(shape, want, "{name}");
        }
    };
    expect(
        "add_user_to_group.json",
        "sync-user bob MemberOf(\"eks-admins\") prod,staging",
    );
    expect(
        "remove_user_from_group.json",
        "sync-user bob NotMemberOf(\"eks-admins\") prod,staging",
    );
    expect("create_user.json", "ack");
    expect("delete_user.json", "sync-user dave UserGone prod,staging");
    expect("scheduled_event.json", "reconcile prod,staging");
}

// --- builders ---------------------------------------------------------------------------------

/// A CloudTrail IAM event through EventBridge, with the real envelope.
fn iam_event(name: &str, params: Value) -> Value {
    json!({
        "version": "0",
        "id": "c9b13465-ac15-5c86-991d-b2348856227c",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": "111122223333",
        "time": "2024-05-01T12:01:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops-admin",
                             "sessionContext": {"sessionIssuer": {}}},
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "requestParameters": params,
            "responseElements": null,
            "eventID": "e0e2dc12-d7ac-52ec-928b-de5931b4af5f",
            "recipientAccountId": "111122223333"
        }
    })
}

fn decide(payload: &Value) -> Decision {
    classify(payload, &settings()).unwrap()
}

fn decide_shape(name: &str, params: Value) -> String {
    shape(&decide(&iam_event(name, params)))
}

// --- rules ------------------------------------------------------------------------------------

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

// --- direct invoke ----------------------------------------------------------------------------

#[test]
fn direct_invoke_defaults_to_every_cluster_and_a_real_run() {
    let d = decide(&json!({"action": "reconcile"}));
    assert_eq!(
        d.action,
        Action::Reconcile {
            clusters: vec!["prod".into(), "staging".into()],
            dry_run: false
        }
    );
    assert_eq!(d.reason, "direct invoke: reconcile prod, staging");
}

#[test]
fn direct_invoke_dry_run_of_named_clusters_keeps_configuration_order() {
    let d = decide(
        &json!({"action": "reconcile", "dryRun": true, "clusters": ["staging", "prod", "staging"]}),
    );
    assert_eq!(
        d.action,
        Action::Reconcile {
            clusters: vec!["prod".into(), "staging".into()],
            dry_run: true
        }
    );
    assert_eq!(
        d.reason,
        "direct invoke: reconcile prod, staging (dry run: plan only, no write)"
    );
}

#[test]
fn direct_invoke_errors_name_what_is_wrong() {
    let s = settings();
    let err = classify(
        &json!({"action": "reconcile", "clusters": ["prod", "qa", "dev", "qa"]}),
        &s,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ClassifyError::UnknownClusters {
            unknown: vec!["qa".into(), "dev".into()],
            configured: vec!["prod".into(), "staging".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "direct invoke: unknown cluster(s) qa, dev (configured: prod, staging)"
    );

    let err = classify(&json!({"action": "reconcile", "clusters": []}), &s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "direct invoke: \"clusters\" is empty; omit it to reconcile every cluster"
    );

    let err = classify(&json!({"action": "apply"}), &s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "direct invoke: unknown action \"apply\" (the only action is \"reconcile\")"
    );

    // A typo must not silently turn a dry run into a write.
    let err = classify(&json!({"action": "reconcile", "dryrun": true}), &s).unwrap_err();
    assert!(
        matches!(&err, ClassifyError::Invoke(m) if m.contains("unknown field `dryrun`")),
        "{err}"
    );

    let err = classify(&json!({"action": "reconcile", "dryRun": "yes"}), &s).unwrap_err();
    assert!(matches!(err, ClassifyError::Invoke(_)));
}

#[test]
fn payloads_that_are_neither_event_nor_invoke_are_errors() {
    let s = settings();
    assert_eq!(
        classify(&json!({}), &s).unwrap_err().to_string(),
        "unrecognized payload (an empty object): expected an EventBridge event (with \"detail-type\") or a direct invoke {\"action\": \"reconcile\"}"
    );
    assert!(
        matches!(classify(&json!({"foo": 1}), &s), Err(ClassifyError::Unrecognized(m)) if m == "keys: foo")
    );
    assert!(
        matches!(classify(&json!([1, 2]), &s), Err(ClassifyError::Unrecognized(m)) if m == "a JSON array, not an object")
    );
    assert!(matches!(
        classify(&Value::Null, &s),
        Err(ClassifyError::Unrecognized(_))
    ));
}

// --- robustness -------------------------------------------------------------------------------

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            "[a-zA-Z_ -]{0,12}",
            Just("eks-admins".to_owned()),
            Just("AWSReservedSSO_AdministratorAccess_0123456789abcdef".to_owned()),
            Just("AddUserToGroup".to_owned()),
            Just("aws.iam".to_owned()),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("detail-type".to_owned()),
                    Just("detail".to_owned()),
                    Just("source".to_owned()),
                    Just("action".to_owned()),
                    Just("clusters".to_owned()),
                    Just("eventName".to_owned()),
                    Just("requestParameters".to_owned()),
                    Just("errorCode".to_owned()),
                    Just("userName".to_owned()),
                    Just("groupName".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn classification_never_panics_on_arbitrary_json(payload in arb_json()) {
        let _ = classify(&payload, &settings());
    }

    #[test]
    fn iam_events_with_arbitrary_names_and_parameters_never_fail(
        name in prop_oneof![
            Just("AddUserToGroup"), Just("RemoveUserFromGroup"), Just("CreateUser"), Just("DeleteUser"),
            Just("UpdateUser"), Just("CreateGroup"), Just("DeleteGroup"), Just("UpdateGroup"),
            Just("CreateRole"), Just("DeleteRole"), Just("TagUser"), Just("Other"),
        ],
        params in arb_json(),
    ) {
        let d = classify(&iam_event(name, params), &settings());
        prop_assert!(d.is_ok());
        prop_assert!(!d.unwrap().reason.is_empty());
    }
}

/// `IAM_EVENT_NAMES` is what the deployment templates route to the function: each name in it
/// must be able to cause work, and every sample whose name is not in it must be acknowledged.
#[test]
fn routed_event_names_are_exactly_those_that_can_cause_work() {
    let decisions = classify_dir(&repo().join("events"), &settings());
    let mut working = std::collections::BTreeSet::new();
    for (file, decision) in &decisions {
        if let Trigger::IamEvent { event_name, .. } = &decision.trigger
            && decision.action != Action::Acknowledge
        {
            assert!(
                eks_iam_sync::events::IAM_EVENT_NAMES.contains(&event_name.as_str()),
                "{file}: {event_name} causes work but is not routed"
            );
            working.insert(event_name.clone());
        }
    }
    let routed: std::collections::BTreeSet<String> = eks_iam_sync::events::IAM_EVENT_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    assert_eq!(
        working, routed,
        "a routed name with no sample that causes work"
    );
}
