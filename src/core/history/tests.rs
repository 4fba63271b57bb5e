//! The record's JSON contract, and helpers for the query tests.

use serde_json::json;

use super::*;
use crate::core::access_entries::PolicyGrant;

pub(super) fn change(principal: &str) -> PlannedChange {
    PlannedChange {
        store: Store::AccessEntries,
        change: ChangeKind::Added,
        principal: principal.to_owned(),
        before: None,
        after: Some(EntryState {
            username: Some("alice".into()),
            groups: vec![],
            access_policies: vec![PolicyGrant {
                policy: "AmazonEKSClusterAdminPolicy".into(),
                namespaces: vec![],
            }],
        }),
    }
}

pub(super) fn record(
    run_id: &str,
    time: &str,
    state: RecordState,
    changes: Vec<PlannedChange>,
) -> RunRecord {
    RunRecord::new(
        RecordContext {
            run_id,
            time: time.parse().unwrap(),
            cluster: "prod",
            account: "111122223333",
            cause: &Cause::of(Trigger::Schedule),
        },
        state,
        &changes,
        None,
    )
}

#[test]
fn a_record_serializes_with_the_contract_s_field_names() {
    let cause = Cause {
        trigger: Trigger::Event,
        event_name: Some("AddUserToGroup".into()),
        event_id: Some("e-1".into()),
        event_time: Some("2026-12-04T19:29:58Z".into()),
        actor: Some("arn:aws:iam::111122223333:user/admin".into()),
    };
    let mut aws_auth = ConfigMapData::default();
    aws_auth.data.insert("mapUsers".into(), "[]\n".into());
    let record = RunRecord::new(
        RecordContext {
            run_id: "20261204T193000Z-00000001",
            time: "2026-12-04T19:30:00Z".parse().unwrap(),
            cluster: "prod",
            account: "111122223333",
            cause: &cause,
        },
        RecordState::Applied,
        &[PlannedChange {
            store: Store::AwsAuth,
            change: ChangeKind::Changed,
            principal: "arn:aws:iam::111122223333:user/alice".into(),
            before: Some(EntryState {
                username: Some("alice".into()),
                groups: vec!["view".into()],
                access_policies: vec![],
            }),
            after: Some(EntryState {
                username: Some("alice".into()),
                groups: vec!["system:masters".into()],
                access_policies: vec![],
            }),
        }],
        Some(&aws_auth),
    );
    let cause_json = json!({
        "trigger": "event", "eventName": "AddUserToGroup", "eventId": "e-1",
        "eventTime": "2026-12-04T19:29:58Z", "actor": "arn:aws:iam::111122223333:user/admin",
    });
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        json!({
            "runId": "20261204T193000Z-00000001",
            "time": "2026-12-04T19:30:00Z",
            "cluster": "prod",
            "account": "111122223333",
            "state": "applied",
            "cause": cause_json,
            "changes": [{
                "runId": "20261204T193000Z-00000001",
                "time": "2026-12-04T19:30:00Z",
                "cluster": "prod",
                "account": "111122223333",
                "store": "aws-auth",
                "change": "changed",
                "principal": "arn:aws:iam::111122223333:user/alice",
                "before": {"username": "alice", "groups": ["view"], "accessPolicies": []},
                "after": {"username": "alice", "groups": ["system:masters"], "accessPolicies": []},
                "cause": cause_json,
                "state": "applied",
            }],
            "awsAuth": {"data": {"mapUsers": "[]\n"}, "annotations": {}},
        })
    );
    let back: RunRecord = serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
    assert_eq!(back, record, "a record reads back as written");
}

#[test]
fn only_removals_grant_nothing() {
    assert!(ChangeKind::Added.may_grant());
    assert!(ChangeKind::Changed.may_grant());
    assert!(!ChangeKind::Removed.may_grant());
}

#[test]
fn the_names_are_the_json_names() {
    for trigger in [
        Trigger::Event,
        Trigger::Schedule,
        Trigger::Invoke,
        Trigger::Cli,
    ] {
        assert_eq!(serde_json::to_value(trigger).unwrap(), trigger.as_str());
    }
    for state in [RecordState::Intended, RecordState::Applied] {
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
    }
    for kind in [ChangeKind::Added, ChangeKind::Removed, ChangeKind::Changed] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
}
