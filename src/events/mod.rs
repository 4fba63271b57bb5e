//! Classifies what the Lambda was invoked with into what it must do, without any I/O.
//!
//! [`classify`] takes the raw payload (`serde_json::Value`) and the validated
//! [`Settings`] and returns a [`Decision`]: an [`Action`] plus a human-readable reason for the
//! logs. It never reads IAM, EKS or the clock; the handler carries the action out.
//!
//! # Payloads
//! - An object with `detail-type` is an EventBridge envelope:
//!   - `Scheduled Event` → [`Action::Reconcile`] of every cluster.
//!   - `AWS API Call via CloudTrail` from IAM (`source` `aws.iam` or `detail.eventSource`
//!     `iam.amazonaws.com`) → the rules below.
//!   - anything else (other sources, other detail types) → [`Action::Acknowledge`].
//!
//!   Envelopes are read leniently from the `Value` (never through `aws_lambda_events`'
//!   `AWSAPICall`, which drops `errorCode` and fails on console events with
//!   `"sessionIssuer": {}`): missing, `null` or oddly typed fields never make classification
//!   fail; at worst they make the event ambiguous.
//! - An object with `action` is a direct invoke, read strictly (`deny_unknown_fields`) because a
//!   typo such as `"dryrun": true` must not turn a dry run into a write:
//!   `{"action": "reconcile", "dryRun": true, "clusters": ["prod"]}`, or
//!   `{"action": "review", "clusters": ["prod"]}` (the access review, written to the
//!   configured `review` bucket: [`Action::Review`]). `clusters` omitted means
//!   every cluster; naming an unknown cluster is an error that lists it. This is also the input
//!   to give an EventBridge *Scheduler* schedule, which sends no envelope.
//! - Anything else is an error ([`ClassifyError::Unrecognized`]) rather than a silent no-op, so
//!   a misconfigured schedule input shows up as failed invocations.
//!
//! An SQS event from the work queue (fleet mode) is read here too ([`sqs_records`]); what each
//! record's body asks for is the batch handler's. No module outside this one reads a raw
//! payload: what the rest needs travels in the [`Decision`] (the IAM event's account, ids,
//! time and actor in its [`Trigger`]) or comes from [`event_key`].
//!
//! # IAM events
//! First, an event with an `errorCode` is a failed call: IAM did not change → acknowledge.
//! Otherwise, with "configured" meaning named in the settings (IAM names compare
//! case-insensitively, as IAM does; user and role ARNs also match on the event's account):
//!
//! | Event | Concerns us when | Action |
//! |---|---|---|
//! | AddUserToGroup, RemoveUserFromGroup | the group is configured | [`Action::SyncUser`] on the group's clusters |
//! | CreateUser | the user is configured in `users` | [`Action::SyncUser`] on that user's clusters (a recreated user needs its access entry recreated); any other new user is in no group yet |
//! | DeleteUser | any group is configured, or the user is | [`Action::SyncUser`] on every group cluster and the user's clusters: the user may still have been a member if the RemoveUserFromGroup events were lost or arrive late |
//! | UpdateUser | `newUserName`/`newPath` given (its ARN changes) and any group or the user (old or new name) is configured | [`Action::Reconcile`] of those clusters; without either, nothing we map changed |
//! | CreateGroup | never: a new group has no members | acknowledge |
//! | DeleteGroup | the group is configured | [`Action::Reconcile`] of the group's clusters |
//! | UpdateGroup | `newGroupName` given and the old or new name is configured | [`Action::Reconcile`] of those clusters; a path change alone changes no membership |
//! | CreateRole, DeleteRole | the role is configured in `roles`, or it is an SSO role `AWSReservedSSO_<Set>_<hex>` of a configured permission set | [`Action::Reconcile`] of those clusters (a re-provisioned SSO role has a new name suffix; a recreated role needs its access entry recreated) |
//! | TagUser, UntagUser, TagRole, UntagRole | never: tags play no part in the mapping | acknowledge |
//! | any other event name | never | acknowledge |
//!
//! When the parameter an event needs (`userName`, `groupName`, `roleName`) is missing, the event
//! is ambiguous: it becomes an [`Action::Reconcile`] of every cluster it could affect (or is
//! acknowledged when nothing configured could be affected).
//!
//! # What a user-level action needs
//! [`UserSync`] says whose entries may change, on which clusters, what the event says happened
//! ([`Expectation`], for re-reading while IAM is eventually consistent), and the one IAM read
//! needed ([`IamRead::GroupsForUser`], `iam:ListGroupsForUser`). `ListGroupsForUser` does not
//! return the user's ARN (its path): [`UserSync::user_arn`] carries it when the configuration
//! (`users`) gives it; otherwise the handler asks IAM (GetUser) when the user needs an entry.
//! The payload is a hint, never a source: no ARN is taken from an event (its
//! `responseElements` are whatever the caller sent), so a forged event can at most make us
//! re-read a user IAM already knows.
//!
//! # Layout
//! This file holds the public API (the types named above and [`classify`]); the reading is
//! split by payload: `invoke` (direct invokes), `envelope` (EventBridge envelopes and the
//! CloudTrail record), `iam_call` (which rule an IAM event name follows), then one file per
//! row group of the table: `users`, `groups`, `roles`, with `clusters` collecting the clusters
//! a rule concerns.

mod clusters;
mod envelope;
mod groups;
mod iam_call;
mod invoke;
mod roles;
mod sqs;
mod users;

use std::fmt;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::core::settings::Settings;
use envelope::{classify_envelope, str_at};
use invoke::classify_invoke;
pub use sqs::{SQS_EVENT_SOURCE, sqs_records};
pub use users::configured_user_arn;

/// `detail-type` of an EventBridge scheduled rule.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";
/// `detail-type` of a CloudTrail management event.
pub const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";

/// The IAM event names that can lead to work. The EventBridge rules in `template.yaml` and
/// `terraform/` list exactly these (a test keeps them in step); the other names the handler
/// accepts (CreateGroup, Tag*/Untag*) are always acknowledged, so routing them would only
/// cost invocations.
pub const IAM_EVENT_NAMES: &[&str] = &[
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "CreateUser",
    "DeleteUser",
    "UpdateUser",
    "DeleteGroup",
    "UpdateGroup",
    "CreateRole",
    "DeleteRole",
];

/// What to do with one invocation, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub trigger: Trigger,
    pub action: Action,
    /// One line for the logs: what the payload was and why it leads to `action`.
    pub reason: String,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// What invoked the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge scheduled rule.
    Schedule,
    /// A direct invoke (`{"action": ...}`), including EventBridge Scheduler input.
    Invoke,
    /// A CloudTrail event from IAM.
    IamEvent {
        event_name: String,
        event_id: Option<String>,
        /// CloudTrail's `eventTime`.
        event_time: Option<String>,
        /// Who made the IAM call: `userIdentity.arn`.
        actor: Option<String>,
        /// The account whose IAM changed: `recipientAccountId`, else the envelope's `account`.
        account: Option<String>,
    },
    /// Any other EventBridge event.
    Other {
        detail_type: String,
        source: Option<String>,
    },
}

impl Trigger {
    /// The cause the change history records for a run this trigger started.
    pub fn cause(&self) -> crate::core::history::Cause {
        use crate::core::history::{Cause, Trigger as Started};
        match self {
            Trigger::Schedule => Cause::of(Started::Schedule),
            Trigger::Invoke | Trigger::Other { .. } => Cause::of(Started::Invoke),
            Trigger::IamEvent {
                event_name,
                event_id,
                event_time,
                actor,
                ..
            } => Cause {
                trigger: Started::Event,
                event_name: Some(event_name.clone()),
                event_id: event_id.clone(),
                event_time: event_time.clone(),
                actor: actor.clone(),
            },
        }
    }
}

/// What identifies an invocation's event, for deduplicating the work it fans out (fleet
/// mode): CloudTrail's `eventID` for IAM events, else EventBridge's `id`, else (a hand-made
/// event with neither) the payload itself.
pub fn event_key(trigger: &Trigger, payload: &Value) -> String {
    let cloudtrail = match trigger {
        Trigger::IamEvent { event_id, .. } => event_id.clone(),
        _ => None,
    };
    cloudtrail
        .or_else(|| {
            payload
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| payload.to_string())
}

/// The work an invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do: no IAM read and no cluster call.
    Acknowledge,
    /// A full reconcile (every mapping) of these clusters, in configuration order.
    Reconcile {
        clusters: Vec<String>,
        dry_run: bool,
    },
    /// Change only one user's managed entries.
    SyncUser(UserSync),
    /// The access review of these clusters, written to the configured `review` bucket (no
    /// cluster write).
    Review { clusters: Vec<String> },
}

/// A user-level action: re-read one user's groups and update only that user's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSync {
    /// The IAM user name (no path).
    pub user_name: String,
    /// The user's ARN when the configuration (`users`) gives it; never taken from the payload.
    pub user_arn: Option<String>,
    /// The account the event happened in, when the event says.
    pub account_id: Option<String>,
    /// The IAM read the action needs.
    pub read: IamRead,
    /// What the event says happened, to re-read against while IAM catches up.
    pub expect: Expectation,
    /// The clusters whose entries for this user can change, in configuration order.
    pub clusters: Vec<String>,
}

/// An IAM read an action needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamRead {
    /// `iam:ListGroupsForUser` for this user: one call (NoSuchEntity means the user is gone).
    GroupsForUser { user_name: String },
}

/// What an IAM event says is now true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The user is a member of this group (AddUserToGroup).
    MemberOf(String),
    /// The user is not a member of this group (RemoveUserFromGroup).
    NotMemberOf(String),
    /// The user exists (CreateUser).
    UserExists,
    /// The user no longer exists (DeleteUser).
    UserGone,
}

/// Why a payload could not be classified. Only direct invokes and unrecognised payloads fail;
/// EventBridge events never do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    /// A direct invoke that does not match `{"action", "dryRun"?, "clusters"?}`.
    #[error(
        "direct invoke: {0} (expected {{\"action\": \"reconcile\", \"dryRun\": true, \"clusters\": [\"NAME\"]}})"
    )]
    Invoke(String),
    /// A direct invoke with an action other than `reconcile` or `review`.
    #[error("direct invoke: unknown action {0:?} (the actions are \"reconcile\" and \"review\")")]
    UnknownAction(String),
    /// `{"action": "review"}` while the configuration has no `review` section.
    #[error(
        "direct invoke: action \"review\" needs `review: {{bucket: NAME}}` in the configuration (where the reports are written)"
    )]
    ReviewNotConfigured,
    /// A direct invoke naming clusters that are not configured.
    #[error("direct invoke: unknown cluster(s) {} (configured: {})", unknown.join(", "), configured.join(", "))]
    UnknownClusters {
        unknown: Vec<String>,
        configured: Vec<String>,
    },
    /// A direct invoke with `"clusters": []`.
    #[error("direct invoke: \"clusters\" is empty; omit it to reconcile every cluster")]
    EmptyClusters,
    /// Neither an EventBridge event nor a direct invoke.
    #[error(
        "unrecognized payload ({0}): expected an EventBridge event (with \"detail-type\") or a direct \
         invoke {{\"action\": \"reconcile\"}}"
    )]
    Unrecognized(String),
}

/// Classifies one Lambda payload against the settings. Pure; see the module documentation.
pub fn classify(payload: &Value, settings: &Settings) -> Result<Decision, ClassifyError> {
    let Some(object) = payload.as_object() else {
        return Err(ClassifyError::Unrecognized(format!(
            "a JSON {}, not an object",
            kind_of(payload)
        )));
    };
    if object.contains_key("detail-type") {
        // The envelope through aws_lambda_events' own type; `detail` stays a Value, read
        // leniently below (its AWSAPICall type drops errorCode and rejects console events).
        return Ok(
            match serde_json::from_value::<EventBridgeEvent<Value>>(payload.clone()) {
                Ok(event) => classify_envelope(payload, &event, settings),
                Err(error) => Decision {
                    trigger: Trigger::Other {
                        detail_type: str_at(payload, "detail-type")
                            .unwrap_or_default()
                            .to_owned(),
                        source: str_at(payload, "source").map(str::to_owned),
                    },
                    action: Action::Acknowledge,
                    reason: format!("malformed EventBridge envelope ({error}): nothing to do"),
                },
            },
        );
    }
    if object.contains_key("action") {
        return classify_invoke(payload, settings);
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).take(5).collect();
    Err(ClassifyError::Unrecognized(if keys.is_empty() {
        "an empty object".to_owned()
    } else {
        format!("keys: {}", keys.join(", "))
    }))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
