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
//!   `{"action": "reconcile", "dryRun": true, "clusters": ["prod"]}`. `clusters` omitted means
//!   every cluster; naming an unknown cluster is an error that lists it. This is also the input
//!   to give an EventBridge *Scheduler* schedule, which sends no envelope.
//! - Anything else is an error ([`ClassifyError::Unrecognized`]) rather than a silent no-op, so
//!   a misconfigured schedule input shows up as failed invocations.
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
//! return the user's ARN (its path): [`UserSync::user_arn`] carries it when the event or the
//! settings know it; otherwise the handler takes it from the user's existing managed entries.

use std::collections::BTreeSet;
use std::fmt;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::config::{PrincipalMapping, Settings, sso_permission_set_of_role};

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
    },
    /// Any other EventBridge event.
    Other {
        detail_type: String,
        source: Option<String>,
    },
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
}

/// A user-level action: re-read one user's groups and update only that user's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSync {
    /// The IAM user name (no path).
    pub user_name: String,
    /// The user's ARN when the event (CreateUser) or the settings (`users`) know it.
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
    /// A direct invoke with an action other than `reconcile`.
    #[error("direct invoke: unknown action {0:?} (the only action is \"reconcile\")")]
    UnknownAction(String),
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

// ---------------------------------------------------------------------------------------------
// Direct invoke
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Invoke {
    action: String,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    clusters: Option<Vec<String>>,
}

fn classify_invoke(payload: &Value, settings: &Settings) -> Result<Decision, ClassifyError> {
    let invoke = Invoke::deserialize(payload).map_err(|e| ClassifyError::Invoke(e.to_string()))?;
    if invoke.action != "reconcile" {
        return Err(ClassifyError::UnknownAction(invoke.action));
    }
    let configured = settings.cluster_names();
    let clusters = match invoke.clusters {
        None => configured,
        Some(names) if names.is_empty() => return Err(ClassifyError::EmptyClusters),
        Some(names) => {
            let mut unknown: Vec<String> = Vec::new();
            for name in names.iter().filter(|n| !configured.contains(n)) {
                if !unknown.contains(name) {
                    unknown.push(name.clone());
                }
            }
            if !unknown.is_empty() {
                return Err(ClassifyError::UnknownClusters {
                    unknown,
                    configured,
                });
            }
            configured
                .into_iter()
                .filter(|c| names.contains(c))
                .collect()
        }
    };
    let mode = if invoke.dry_run {
        " (dry run: plan only, no write)"
    } else {
        ""
    };
    Ok(Decision {
        trigger: Trigger::Invoke,
        reason: format!("direct invoke: reconcile {}{mode}", clusters.join(", ")),
        action: Action::Reconcile {
            clusters,
            dry_run: invoke.dry_run,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// EventBridge envelopes
// ---------------------------------------------------------------------------------------------

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn classify_envelope(
    payload: &Value,
    event: &EventBridgeEvent<Value>,
    settings: &Settings,
) -> Decision {
    let source = Some(event.source.as_str()).filter(|s| !s.is_empty());
    let detail = &event.detail;
    let detail_type = event.detail_type.as_str();
    if detail_type == SCHEDULED_EVENT {
        return Decision {
            trigger: Trigger::Schedule,
            reason: "scheduled event: full reconcile of every cluster".to_owned(),
            action: Action::Reconcile {
                clusters: settings.cluster_names(),
                dry_run: false,
            },
        };
    }
    let is_iam =
        source == Some("aws.iam") || str_at(detail, "eventSource") == Some("iam.amazonaws.com");
    if detail_type != CLOUDTRAIL_API_CALL || !is_iam {
        return Decision {
            trigger: Trigger::Other {
                detail_type: detail_type.to_owned(),
                source: source.map(str::to_owned),
            },
            action: Action::Acknowledge,
            reason: format!(
                "event {detail_type:?} from {}: not an IAM API call, nothing to do",
                source.unwrap_or("an unknown source")
            ),
        };
    }
    let call = ApiCall::read(payload, detail);
    let trigger = Trigger::IamEvent {
        event_name: call.event_name.to_owned(),
        event_id: call.event_id.map(str::to_owned),
    };
    let (action, reason) = classify_call(&call, settings);
    Decision {
        trigger,
        action,
        reason: format!("{}: {reason}", call.event_name),
    }
}

/// The parts of a CloudTrail record that classification looks at, read leniently.
#[derive(Debug)]
struct ApiCall<'a> {
    event_name: &'a str,
    event_id: Option<&'a str>,
    error_code: Option<String>,
    account: Option<&'a str>,
    params: &'a Value,
    response: &'a Value,
}

impl<'a> ApiCall<'a> {
    fn read(payload: &'a Value, detail: &'a Value) -> Self {
        let error_code = match detail.get("errorCode") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        ApiCall {
            event_name: str_at(detail, "eventName").unwrap_or("(no eventName)"),
            event_id: str_at(detail, "eventID").or_else(|| str_at(payload, "id")),
            error_code,
            account: str_at(detail, "recipientAccountId").or_else(|| str_at(payload, "account")),
            params: detail.get("requestParameters").unwrap_or(&Value::Null),
            response: detail.get("responseElements").unwrap_or(&Value::Null),
        }
    }

    fn param(&self, key: &str) -> Option<&'a str> {
        str_at(self.params, key)
    }
}

/// Clusters collected from mappings, returned in configuration order.
struct Clusters<'s> {
    settings: &'s Settings,
    set: BTreeSet<&'s str>,
}

impl<'s> Clusters<'s> {
    fn new(settings: &'s Settings) -> Self {
        Clusters {
            settings,
            set: BTreeSet::new(),
        }
    }
    fn add(&mut self, names: &'s [String]) {
        self.set.extend(names.iter().map(String::as_str));
    }
    fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
    fn ordered(&self) -> Vec<String> {
        self.settings
            .clusters
            .iter()
            .filter(|c| self.set.contains(c.name.as_str()))
            .map(|c| c.name.clone())
            .collect()
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn principal_matches(p: &PrincipalMapping, name: &str, account: Option<&str>) -> bool {
    same_name(p.arn.name(), name) && account.is_none_or(|a| a == p.arn.account_id())
}

fn reconcile(clusters: &Clusters<'_>) -> Action {
    Action::Reconcile {
        clusters: clusters.ordered(),
        dry_run: false,
    }
}

fn classify_call(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
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

fn all_group_clusters(settings: &Settings) -> Clusters<'_> {
    let mut clusters = Clusters::new(settings);
    for g in &settings.groups {
        clusters.add(&g.clusters);
    }
    clusters
}

fn membership(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let added = call.event_name == "AddUserToGroup";
    let Some(group_name) = call.param("groupName") else {
        let clusters = all_group_clusters(settings);
        if clusters.is_empty() {
            return (
                Action::Acknowledge,
                "no groups are configured, so no membership change matters".to_owned(),
            );
        }
        return (
            reconcile(&clusters),
            "no groupName in the event; full reconcile of every group cluster".to_owned(),
        );
    };
    let Some(group) = settings
        .groups
        .iter()
        .find(|g| same_name(&g.iam_group, group_name))
    else {
        return (
            Action::Acknowledge,
            format!("group {group_name} is not configured, so its members get nothing"),
        );
    };
    let mut clusters = Clusters::new(settings);
    clusters.add(&group.clusters);
    let Some(user_name) = call.param("userName") else {
        return (
            reconcile(&clusters),
            format!("no userName in the event; full reconcile of group {group_name}'s clusters"),
        );
    };
    let expect = if added {
        Expectation::MemberOf(group.iam_group.clone())
    } else {
        Expectation::NotMemberOf(group.iam_group.clone())
    };
    let sync = user_sync(call, settings, user_name, expect, &clusters);
    let reason = format!(
        "group {group_name} is configured; re-read {user_name}'s groups and update only their entries on {}",
        sync.clusters.join(", ")
    );
    (Action::SyncUser(sync), reason)
}

fn user_sync(
    call: &ApiCall<'_>,
    settings: &Settings,
    user_name: &str,
    expect: Expectation,
    clusters: &Clusters<'_>,
) -> UserSync {
    let from_event = call
        .response
        .get("user")
        .and_then(|u| str_at(u, "arn"))
        .map(str::to_owned);
    let from_settings = settings
        .users
        .iter()
        .find(|u| principal_matches(u, user_name, call.account))
        .map(|u| u.arn.as_str().to_owned());
    UserSync {
        user_name: user_name.to_owned(),
        user_arn: from_event.or(from_settings),
        account_id: call.account.map(str::to_owned),
        read: IamRead::GroupsForUser {
            user_name: user_name.to_owned(),
        },
        expect,
        clusters: clusters.ordered(),
    }
}

fn static_user_clusters<'s>(
    settings: &'s Settings,
    clusters: &mut Clusters<'s>,
    name: &str,
    account: Option<&str>,
) -> bool {
    let mut found = false;
    for u in settings
        .users
        .iter()
        .filter(|u| principal_matches(u, name, account))
    {
        clusters.add(&u.clusters);
        found = true;
    }
    found
}

fn user_lifecycle(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let created = call.event_name == "CreateUser";
    let Some(user_name) = call.param("userName") else {
        let mut clusters = if created {
            Clusters::new(settings)
        } else {
            all_group_clusters(settings)
        };
        for u in &settings.users {
            clusters.add(&u.clusters);
        }
        if clusters.is_empty() {
            return (
                Action::Acknowledge,
                "no userName in the event, but no user or group is configured".to_owned(),
            );
        }
        return (
            reconcile(&clusters),
            "no userName in the event; full reconcile of every cluster it could affect".to_owned(),
        );
    };
    if created {
        let mut clusters = Clusters::new(settings);
        if !static_user_clusters(settings, &mut clusters, user_name, call.account) {
            return (
                Action::Acknowledge,
                format!(
                    "{user_name} is not configured and a new user is in no group yet; AddUserToGroup will follow"
                ),
            );
        }
        let sync = user_sync(
            call,
            settings,
            user_name,
            Expectation::UserExists,
            &clusters,
        );
        let reason = format!(
            "{user_name} is configured in users and was (re)created; update their entries on {} (an access entry must be recreated)",
            sync.clusters.join(", ")
        );
        return (Action::SyncUser(sync), reason);
    }
    let mut clusters = all_group_clusters(settings);
    let configured = static_user_clusters(settings, &mut clusters, user_name, call.account);
    if clusters.is_empty() {
        return (
            Action::Acknowledge,
            format!("{user_name} is not configured and no groups are configured"),
        );
    }
    let sync = user_sync(call, settings, user_name, Expectation::UserGone, &clusters);
    let why = if configured {
        format!("{user_name} is configured in users")
    } else {
        format!(
            "{user_name} may have been a member of a configured group (RemoveUserFromGroup events can be lost or late)"
        )
    };
    let reason = format!(
        "{why}; re-read their groups and remove their entries on {}",
        sync.clusters.join(", ")
    );
    (Action::SyncUser(sync), reason)
}

fn update_user(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let new_name = call.param("newUserName");
    let new_path = call.param("newPath");
    if new_name.is_none() && new_path.is_none() {
        return (
            Action::Acknowledge,
            "neither newUserName nor newPath: nothing that we map changed".to_owned(),
        );
    }
    let mut clusters = all_group_clusters(settings);
    let old_name = call.param("userName");
    match old_name {
        Some(old) => {
            static_user_clusters(settings, &mut clusters, old, call.account);
        }
        None => {
            for u in &settings.users {
                clusters.add(&u.clusters);
            }
        }
    }
    if let Some(new) = new_name {
        static_user_clusters(settings, &mut clusters, new, call.account);
    }
    let what = match (old_name, new_name) {
        (Some(old), Some(new)) => format!("{old} renamed to {new}"),
        (None, Some(new)) => format!("a user renamed to {new}"),
        (Some(old), None) => format!("{old} moved to path {}", new_path.unwrap_or_default()),
        (None, None) => "a user moved to another path".to_owned(),
    };
    if clusters.is_empty() {
        return (
            Action::Acknowledge,
            format!("{what}, but no group or matching user is configured"),
        );
    }
    let action = reconcile(&clusters);
    (
        action,
        format!(
            "{what}: its ARN changed; full reconcile of {}",
            clusters.ordered().join(", ")
        ),
    )
}

fn delete_group(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let Some(group_name) = call.param("groupName") else {
        let clusters = all_group_clusters(settings);
        if clusters.is_empty() {
            return (
                Action::Acknowledge,
                "no groupName in the event, but no groups are configured".to_owned(),
            );
        }
        return (
            reconcile(&clusters),
            "no groupName in the event; full reconcile of every group cluster".to_owned(),
        );
    };
    let mut clusters = Clusters::new(settings);
    for g in settings
        .groups
        .iter()
        .filter(|g| same_name(&g.iam_group, group_name))
    {
        clusters.add(&g.clusters);
    }
    if clusters.is_empty() {
        return (
            Action::Acknowledge,
            format!("group {group_name} is not configured"),
        );
    }
    let reason = format!(
        "configured group {group_name} was deleted; full reconcile of {}",
        clusters.ordered().join(", ")
    );
    (reconcile(&clusters), reason)
}

fn update_group(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
    let Some(new_name) = call.param("newGroupName") else {
        return (
            Action::Acknowledge,
            "no newGroupName: a group path change does not change membership".to_owned(),
        );
    };
    let old_name = call.param("groupName");
    let mut clusters = Clusters::new(settings);
    for g in &settings.groups {
        if same_name(&g.iam_group, new_name)
            || old_name.is_none_or(|old| same_name(&g.iam_group, old))
        {
            clusters.add(&g.clusters);
        }
    }
    let old = old_name.unwrap_or("a group");
    if clusters.is_empty() {
        return (
            Action::Acknowledge,
            format!("{old} renamed to {new_name}: neither name is configured"),
        );
    }
    let reason = format!(
        "{old} renamed to {new_name}; full reconcile of {}",
        clusters.ordered().join(", ")
    );
    (reconcile(&clusters), reason)
}

fn role_lifecycle(call: &ApiCall<'_>, settings: &Settings) -> (Action, String) {
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
        if clusters.is_empty() {
            return (
                Action::Acknowledge,
                "no roleName in the event, but no role or permission set is configured".to_owned(),
            );
        }
        return (
            reconcile(&clusters),
            "no roleName in the event; full reconcile of every role cluster".to_owned(),
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
    if clusters.is_empty() {
        return (
            Action::Acknowledge,
            format!(
                "role {role_name} is not configured and is not the SSO role of a configured permission set"
            ),
        );
    }
    why.dedup();
    let reason = format!(
        "{} and was {verb}; full reconcile of {}",
        why.join("; "),
        clusters.ordered().join(", ")
    );
    (reconcile(&clusters), reason)
}
