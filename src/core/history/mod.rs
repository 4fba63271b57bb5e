//! The change history (issue 23): what one run changed on one cluster, why, and (for aws-auth)
//! what the ConfigMap held after it, as the JSON records kept in S3.
//!
//! Pure: the records are values, built from the plans' changes and the run's [`Cause`]; the
//! object keys and the date prefixes a query lists are functions of their inputs (`keys`);
//! filtering and ordering a query's records is `query`'s. Writing and reading the bucket is
//! the shell's (`crate::aws::bucket`, `crate::reconcile`, `crate::cli::history`).
//!
//! The JSON field names are a contract (`history --format json`, people's SIEM rules on the
//! change events): extend them, never rename them.
//!
//! # One object per run and cluster
//! A run that changes a cluster writes one object, `{prefix}{cluster}/YYYY/MM/DD/...json`,
//! never read-modify-write, so concurrent runs lose no record. Before a grant is made the
//! object is written in state [`RecordState::Intended`] (the grants wait for it); once the
//! run's writes are done it is written again, at the same key, in state
//! [`RecordState::Applied`] with exactly the changes made (a versioned bucket keeps both).

pub mod keys;
pub mod query;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::access_entries::{EntryView, PolicyGrant};
use crate::core::aws_auth::{ConfigMapData, ItemValue};
use crate::core::effective::Store;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A CloudTrail IAM event.
    Event,
    /// The scheduled full reconcile.
    Schedule,
    /// A direct invoke of the Lambda.
    Invoke,
    /// An operator's `eks-iam-sync apply` or `restore --apply`.
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Event => "event",
            Trigger::Schedule => "schedule",
            Trigger::Invoke => "invoke",
            Trigger::Cli => "cli",
        }
    }
}

/// Why a run made its changes: the trigger and, for an IAM event, the CloudTrail facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cause {
    pub trigger: Trigger,
    /// The IAM call (`AddUserToGroup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// CloudTrail's `eventID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// CloudTrail's `eventTime` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    /// Who made the IAM call (`userIdentity.arn`), or, for the CLI, the operator's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Cause {
    /// A cause with only its trigger known.
    pub fn of(trigger: Trigger) -> Cause {
        Cause {
            trigger,
            event_name: None,
            event_id: None,
            event_time: None,
            actor: None,
        }
    }
}

/// What kind of change a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }

    /// Whether the change can give access (a grant waits for its record; a removal never).
    pub fn may_grant(self) -> bool {
        self != ChangeKind::Removed
    }
}

/// A principal's entry before or after a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub access_policies: Vec<PolicyGrant>,
}

impl EntryState {
    /// An aws-auth item (`mapAccounts` items have no username or groups).
    pub fn of_item(item: &ItemValue) -> EntryState {
        match item {
            ItemValue::Mapping(m) => EntryState {
                username: m.username.clone(),
                groups: m.groups.clone(),
                access_policies: Vec::new(),
            },
            ItemValue::Account(_) => EntryState::default(),
        }
    }

    /// An access entry.
    pub fn of_entry(view: &EntryView) -> EntryState {
        EntryState {
            username: view.username.clone(),
            groups: view.groups.clone(),
            access_policies: view.policies.iter().map(PolicyGrant::of).collect(),
        }
    }
}

/// One change as a plan states it, before it is tied to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    pub store: Store,
    pub change: ChangeKind,
    /// The ARN (or account id for `mapAccounts`).
    pub principal: String,
    pub before: Option<EntryState>,
    pub after: Option<EntryState>,
}

/// One change of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub run_id: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub cluster: String,
    pub account: String,
    /// `aws-auth` or `access-entries`.
    pub store: String,
    pub change: ChangeKind,
    pub principal: String,
    pub before: Option<EntryState>,
    pub after: Option<EntryState>,
    pub cause: Cause,
    /// `applied`, or `intended` when only the intent of its run is recorded (the run stopped
    /// between its intent and its writes: the change may not have been made).
    pub state: RecordState,
}

/// Whether a record's changes are made yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordState {
    /// Written before the run's grants: they are about to be made.
    Intended,
    /// Written after the run's writes: exactly the changes made.
    Applied,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Intended => "intended",
            RecordState::Applied => "applied",
        }
    }
}

/// The aws-auth ConfigMap as a run left it (for `restore`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsAuthSnapshot {
    pub data: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl AwsAuthSnapshot {
    pub fn of(content: &ConfigMapData) -> AwsAuthSnapshot {
        AwsAuthSnapshot {
            data: content.data.clone(),
            annotations: content.annotations.clone(),
        }
    }

    pub fn content(&self) -> ConfigMapData {
        ConfigMapData {
            data: self.data.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// One object of the history: one run's changes on one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub run_id: String,
    /// When the run started on this cluster (RFC 3339, UTC).
    pub time: String,
    pub cluster: String,
    pub account: String,
    pub state: RecordState,
    pub cause: Cause,
    pub changes: Vec<ChangeRecord>,
    /// The aws-auth ConfigMap as the run left it (intended: as the run is about to write it),
    /// when the run wrote aws-auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_auth: Option<AwsAuthSnapshot>,
}

/// Where a record is about: the run, the cluster, the time.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    pub run_id: &'a str,
    pub time: jiff::Timestamp,
    pub cluster: &'a str,
    pub account: &'a str,
    pub cause: &'a Cause,
}

impl RunRecord {
    /// The record of `changes` in `state`, with aws-auth as `aws_auth` left it.
    pub fn new(
        context: RecordContext<'_>,
        state: RecordState,
        changes: &[PlannedChange],
        aws_auth: Option<&ConfigMapData>,
    ) -> RunRecord {
        let time = keys::rfc3339(context.time);
        RunRecord {
            run_id: context.run_id.to_owned(),
            time: time.clone(),
            cluster: context.cluster.to_owned(),
            account: context.account.to_owned(),
            state,
            cause: context.cause.clone(),
            changes: changes
                .iter()
                .map(|c| ChangeRecord {
                    run_id: context.run_id.to_owned(),
                    time: time.clone(),
                    cluster: context.cluster.to_owned(),
                    account: context.account.to_owned(),
                    store: c.store.as_str().to_owned(),
                    change: c.change,
                    principal: c.principal.clone(),
                    before: c.before.clone(),
                    after: c.after.clone(),
                    cause: context.cause.clone(),
                    state,
                })
                .collect(),
            aws_auth: aws_auth.map(AwsAuthSnapshot::of),
        }
    }
}

#[cfg(test)]
mod tests;
