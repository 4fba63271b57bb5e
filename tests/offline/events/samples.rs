//! Every sample in events/ (and ../shared/events) classified as expected, and the routed
//! event names (`IAM_EVENT_NAMES`) exactly those that can cause work.

use std::collections::BTreeMap;
use std::path::Path;

use eks_iam_sync::core::settings::Settings;
use eks_iam_sync::events::{Action, Decision, Trigger, classify};
use serde_json::Value;

use super::{repo, settings, shape};

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
