//! One unit of fleet work as it travels on the queue: the message body, its FIFO group and
//! its deduplication id. Pure: a [`Decision`] in, [`WorkMessage`]s out, and back from a body.
//!
//! # Bodies
//! - A full reconcile of one cluster is a direct-invoke payload,
//!   `{"action":"reconcile","clusters":["prod"]}`, so a body can also be invoked by hand.
//! - A user event keeps what the incremental path needs (one user's entries on one cluster):
//!   `{"action":"syncUser","clusters":["prod"],"userName":"bob","expect":{"memberOf":"admins"},
//!   ...}` ([`SyncUserBody`]), read back into the [`UserSync`] the classifier made. A body
//!   carries no ARN: the user's comes from the configuration or IAM (GetUser) when the record
//!   runs, and [`SyncUserBody::read`] refuses a body with any `...Arn` field, so
//!   `sqs:SendMessage` on the queue cannot name the principal that gets mapped.
//!
//! # Identity
//! `MessageGroupId` is the cluster name: one cluster's messages are delivered in order, one at
//! a time, and different clusters in parallel. `MessageDeduplicationId` is SHA-256 of the
//! event's id (EventBridge `id`; for CloudTrail, `eventID`) and the cluster, so an event that
//! is delivered twice (an EventBridge retry, a replay) queues its work once within SQS's
//! five-minute deduplication window.
//!
//! Sending is [`super::queue`]'s job; deciding what an event means is [`crate::events`]'.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::core::history::Cause;
use crate::core::settings::Settings;
use crate::events::{
    Action, Decision, Expectation, IamRead, Trigger, UserSync, configured_user_arn,
};

/// The `action` of a user-event body.
pub const SYNC_USER_ACTION: &str = "syncUser";

/// One message for the queue: one cluster's share of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkMessage {
    /// The cluster; also the FIFO `MessageGroupId`.
    pub cluster: String,
    /// The FIFO `MessageDeduplicationId` (64 hex digits).
    pub deduplication_id: String,
    /// The JSON body.
    pub body: Value,
}

/// The body of a user-event message: a [`UserSync`] narrowed to one cluster (without the
/// configured ARN, looked up again when the record runs), plus the classifier's reason for
/// the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncUserBody {
    /// Always [`SYNC_USER_ACTION`].
    pub action: String,
    pub clusters: Vec<String>,
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub expect: ExpectBody,
    #[serde(default)]
    pub reason: String,
    /// The event's facts, for the change history (trigger, event name and id, time, actor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

/// Why a `syncUser` body was refused.
#[derive(Debug, thiserror::Error)]
pub enum SyncUserBodyError {
    #[error(
        "field {0:?}: a syncUser body never carries an ARN (the user's ARN is read from IAM or the configuration)"
    )]
    CarriesArn(String),
    #[error(transparent)]
    Shape(serde_json::Error),
}

/// [`Expectation`] on the wire: `{"memberOf": "g"}`, `{"notMemberOf": "g"}`, `"userExists"`,
/// `"userGone"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExpectBody {
    MemberOf(String),
    NotMemberOf(String),
    UserExists,
    UserGone,
}

impl From<&Expectation> for ExpectBody {
    fn from(expect: &Expectation) -> ExpectBody {
        match expect {
            Expectation::MemberOf(g) => ExpectBody::MemberOf(g.clone()),
            Expectation::NotMemberOf(g) => ExpectBody::NotMemberOf(g.clone()),
            Expectation::UserExists => ExpectBody::UserExists,
            Expectation::UserGone => ExpectBody::UserGone,
        }
    }
}

impl From<ExpectBody> for Expectation {
    fn from(expect: ExpectBody) -> Expectation {
        match expect {
            ExpectBody::MemberOf(g) => Expectation::MemberOf(g),
            ExpectBody::NotMemberOf(g) => Expectation::NotMemberOf(g),
            ExpectBody::UserExists => Expectation::UserExists,
            ExpectBody::UserGone => Expectation::UserGone,
        }
    }
}

impl SyncUserBody {
    /// `sync` narrowed to `cluster`.
    pub fn for_cluster(
        sync: &UserSync,
        cluster: &str,
        reason: &str,
        cause: &Cause,
    ) -> SyncUserBody {
        SyncUserBody {
            action: SYNC_USER_ACTION.to_owned(),
            clusters: vec![cluster.to_owned()],
            user_name: sync.user_name.clone(),
            account_id: sync.account_id.clone(),
            expect: ExpectBody::from(&sync.expect),
            reason: reason.to_owned(),
            cause: Some(cause.clone()),
        }
    }

    /// Reads a body strictly: an unknown field is an error, and so is any field naming an
    /// ARN (`userArn`, in any case), which a body never carries.
    pub fn read(body: Value) -> Result<SyncUserBody, SyncUserBodyError> {
        if let Some(field) = body
            .as_object()
            .and_then(|o| o.keys().find(|k| k.to_ascii_lowercase().ends_with("arn")))
        {
            return Err(SyncUserBodyError::CarriesArn(field.clone()));
        }
        serde_json::from_value(body).map_err(SyncUserBodyError::Shape)
    }

    /// The [`UserSync`] this body carries (its one IAM read is always the user's groups),
    /// with the ARN the configuration gives the user, if any.
    pub fn into_user_sync(self, settings: &Settings) -> UserSync {
        UserSync {
            read: IamRead::GroupsForUser {
                user_name: self.user_name.clone(),
            },
            user_arn: configured_user_arn(settings, &self.user_name, self.account_id.as_deref()),
            user_name: self.user_name,
            account_id: self.account_id,
            expect: self.expect.into(),
            clusters: self.clusters,
        }
    }
}

/// The messages an event's decision fans out to: one per affected cluster, in configuration
/// order. `None` when the decision is not fanned out (a direct invoke runs in place; an
/// acknowledged event sends nothing, so gives an empty list).
pub fn messages_for(decision: &Decision, event_key: &str) -> Option<Vec<WorkMessage>> {
    if decision.trigger == Trigger::Invoke {
        return None;
    }
    let message = |cluster: &String, body: Value| WorkMessage {
        deduplication_id: deduplication_id(event_key, cluster),
        cluster: cluster.clone(),
        body,
    };
    Some(match &decision.action {
        // A review is a direct invoke (returned above): it is never queued.
        Action::Acknowledge | Action::Review { .. } => Vec::new(),
        Action::Reconcile { clusters, dry_run } => clusters
            .iter()
            .map(|c| message(c, reconcile_body(c, *dry_run)))
            .collect(),
        Action::SyncUser(sync) => sync
            .clusters
            .iter()
            .map(|c| {
                let cause = decision.trigger.cause();
                let body = SyncUserBody::for_cluster(sync, c, &decision.reason, &cause);
                message(c, serde_json::to_value(body).unwrap_or_default())
            })
            .collect(),
    })
}

/// A direct-invoke payload reconciling one cluster.
pub fn reconcile_body(cluster: &str, dry_run: bool) -> Value {
    if dry_run {
        json!({"action": "reconcile", "dryRun": true, "clusters": [cluster]})
    } else {
        json!({"action": "reconcile", "clusters": [cluster]})
    }
}

/// SHA-256 of the event key and the cluster, in hex: 64 characters from SQS's allowed set.
fn deduplication_id(event_key: &str, cluster: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(event_key.as_bytes());
    hash.update([0u8]);
    hash.update(cluster.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(trigger: Trigger, action: Action) -> Decision {
        Decision {
            trigger,
            action,
            reason: "why".to_owned(),
        }
    }

    fn sync() -> UserSync {
        UserSync {
            user_name: "bob".to_owned(),
            user_arn: None,
            account_id: Some("111122223333".to_owned()),
            read: IamRead::GroupsForUser {
                user_name: "bob".to_owned(),
            },
            expect: Expectation::MemberOf("admins".to_owned()),
            clusters: vec!["a".to_owned(), "b".to_owned()],
        }
    }

    /// The deduplication key classification gives `payload` under `d`'s trigger.
    fn key(d: &Decision, payload: Value) -> String {
        crate::events::event_key(&d.trigger, &payload)
    }

    #[test]
    fn a_schedule_sends_one_direct_invoke_body_per_cluster_grouped_by_cluster() {
        let d = decision(
            Trigger::Schedule,
            Action::Reconcile {
                clusters: vec!["a".to_owned(), "b".to_owned()],
                dry_run: false,
            },
        );
        let sent = messages_for(&d, &key(&d, json!({"id": "e1"}))).unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].cluster, "a");
        assert_eq!(
            sent[1].body,
            json!({"action": "reconcile", "clusters": ["b"]})
        );
        assert_eq!(sent[0].deduplication_id.len(), 64);
        assert_ne!(sent[0].deduplication_id, sent[1].deduplication_id);
    }

    #[test]
    fn the_same_event_gives_the_same_deduplication_ids_and_another_event_others() {
        let d = decision(
            Trigger::Schedule,
            Action::Reconcile {
                clusters: vec!["a".to_owned()],
                dry_run: false,
            },
        );
        let once = messages_for(&d, &key(&d, json!({"id": "e1"}))).unwrap();
        let replay = messages_for(&d, &key(&d, json!({"id": "e1"}))).unwrap();
        let next = messages_for(&d, &key(&d, json!({"id": "e2"}))).unwrap();
        assert_eq!(once, replay);
        assert_ne!(once[0].deduplication_id, next[0].deduplication_id);
    }

    #[test]
    fn an_iam_event_dedups_on_its_cloudtrail_event_id() {
        let trigger = |id: &str| Trigger::IamEvent {
            event_name: "AddUserToGroup".to_owned(),
            event_id: Some(id.to_owned()),
            event_time: None,
            actor: None,
            account: None,
        };
        let d = decision(trigger("ct-1"), Action::SyncUser(sync()));
        let a = messages_for(&d, &key(&d, json!({"id": "envelope-1"}))).unwrap();
        let b = messages_for(&d, &key(&d, json!({"id": "envelope-2"}))).unwrap();
        assert_eq!(a[0].deduplication_id, b[0].deduplication_id);
    }

    #[test]
    fn a_user_event_body_round_trips_to_the_user_sync_of_its_cluster() {
        let d = decision(
            Trigger::IamEvent {
                event_name: "AddUserToGroup".to_owned(),
                event_id: None,
                event_time: None,
                actor: None,
                account: None,
            },
            Action::SyncUser(sync()),
        );
        let sent = messages_for(&d, &key(&d, json!({}))).unwrap();
        assert_eq!(sent[1].body["clusters"], json!(["b"]));
        assert_eq!(sent[1].body["expect"], json!({"memberOf": "admins"}));
        assert_eq!(sent[1].body.get("userArn"), None, "a body carries no ARN");
        let back = SyncUserBody::read(sent[1].body.clone()).unwrap();
        let mut expected = sync();
        expected.clusters = vec!["b".to_owned()];
        assert_eq!(back.reason, "why");
        let settings = crate::config::from_text(
            "clusters:\n  - {name: b, region: eu-west-3}\n",
            "test",
            None,
        )
        .unwrap();
        assert_eq!(back.into_user_sync(&settings), expected);
    }

    #[test]
    fn a_body_naming_an_arn_is_refused_with_the_field_named() {
        let mut body = json!({"action": "syncUser", "clusters": ["a"], "userName": "bob",
            "expect": {"memberOf": "admins"}});
        body["userArn"] = json!("arn:aws:iam::111122223333:user/mallory");
        let error = SyncUserBody::read(body.clone()).unwrap_err();
        assert!(matches!(&error, SyncUserBodyError::CarriesArn(f) if f == "userArn"));
        assert!(
            error.to_string().contains("never carries an ARN"),
            "{error}"
        );
        body.as_object_mut().unwrap().remove("userArn");
        body["principalARN"] = json!("arn:aws:iam::111122223333:role/x");
        assert!(matches!(
            SyncUserBody::read(body),
            Err(SyncUserBodyError::CarriesArn(_))
        ));
    }

    #[test]
    fn direct_invokes_are_not_fanned_out_and_acknowledged_events_send_nothing() {
        let invoke = decision(
            Trigger::Invoke,
            Action::Reconcile {
                clusters: vec!["a".to_owned()],
                dry_run: false,
            },
        );
        assert_eq!(messages_for(&invoke, &key(&invoke, json!({}))), None);
        let ack = decision(Trigger::Schedule, Action::Acknowledge);
        assert_eq!(messages_for(&ack, &key(&ack, json!({}))), Some(Vec::new()));
    }
}
