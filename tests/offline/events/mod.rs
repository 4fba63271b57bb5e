//! Event classification: every sample in events/ (and ../shared/events when present) against
//! the example configuration, one test per rule, and proptests that nothing panics.
//!
//! One test binary, split by topic: `samples` (the sample files and the routed event names),
//! `user_rules`, `group_and_role_rules` (with the other envelopes), `invoke` (direct invokes)
//! and `robustness` (proptests). The shared builders are here.

mod group_and_role_rules;
mod invoke;
mod robustness;
mod samples;
mod user_rules;

use std::path::PathBuf;

use eks_iam_sync::config::from_text;
use eks_iam_sync::core::settings::Settings;
use eks_iam_sync::events::{Action, Decision, IamRead, UserSync, classify};
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
        Action::Review { clusters } => format!("review {}", clusters.join(",")),
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
