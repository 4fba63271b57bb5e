//! The JSON summary of a run: one [`ClusterReport`] per cluster inside a [`RunSummary`], and
//! how an aws-auth or access-entries plan is recorded into it.
//!
//! Field names and outcome spellings are a contract (the Lambda's response, `plan --json`,
//! dashboards): change them only with a migration note. This module only shapes data; it
//! makes no call and decides no outcome.

use serde::Serialize;

use crate::core::access_entries::{self as entries, AccessPlan};
use crate::core::aws_auth::plan::{MappingChangeKind, Plan};
use crate::core::aws_auth::{ConfigMapData, ItemValue};
use crate::core::effective::both::BothPlan;
use crate::core::effective::{AuthenticationMode, Store};
use crate::core::history::{self, EntryState, PlannedChange};

/// The report section of access-entry changes.
pub(super) const ACCESS_ENTRIES_SECTION: &str = "accessEntries";
const AWS_AUTH_STORE: &str = Store::AwsAuth.as_str();
const ACCESS_ENTRIES_STORE: &str = Store::AccessEntries.as_str();

/// What happened on one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// aws-auth already matched: nothing written.
    Unchanged,
    /// Changes were written.
    Applied,
    /// Dry run: changes planned, nothing written.
    Planned,
    /// A guard refused the write; nothing written.
    Refused,
    /// Not reconciled on purpose (e.g. IAM not yet consistent; left to the schedule).
    Deferred,
    /// An error stopped this cluster.
    Failed,
}

/// One entry change in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryReport {
    /// Which store it is in: `aws-auth` or `access-entries`.
    pub store: &'static str,
    pub section: String,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    pub reason: String,
}

/// API calls made for one cluster (the `eks_*` counts only on the access-entries backend).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCalls {
    pub kube_get: u64,
    pub kube_put: u64,
    pub kube_post: u64,
    /// Access-entry reads (List/Describe/ListAssociatedAccessPolicies).
    #[serde(skip_serializing_if = "is_zero")]
    pub eks_read: u64,
    /// Access-entry writes (Create/Update/Delete, Associate/Disassociate).
    #[serde(skip_serializing_if = "is_zero")]
    pub eks_write: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The JSON summary for one cluster.
/// What a full run read of a cluster's access entries (amortized reads, issue 21).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryReads {
    /// Entries listed (ListAccessEntries).
    pub listed: usize,
    /// Entries described in this run (new to this instance, due for re-reading, or about to
    /// be changed).
    pub described: usize,
    /// Entries taken from what this instance read in an earlier run.
    pub from_memory: usize,
}

/// What a user event read of a cluster's access entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntriesRead {
    /// The principal whose entry the event concerns (their entries were described).
    pub principal: String,
    /// Entries listed (ListAccessEntries), 0 when the list was not needed.
    pub listed: usize,
    /// Other entries described to find another cluster admin (stopping at the first).
    pub others_described: usize,
    /// The other cluster admin found, if one was looked for and found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_admin: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    pub cluster: String,
    pub outcome: Outcome,
    /// The store grants were written to (`aws-auth` or `access-entries`).
    pub backend: &'static str,
    /// The cluster's authentication mode as this run described it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<&'static str>,
    /// `"<before> -> <now>"` when this run found the mode changed since this process last
    /// described the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_changed: Option<String>,
    pub added: Vec<EntryReport>,
    pub changed: Vec<EntryReport>,
    pub removed: Vec<EntryReport>,
    pub skipped: Vec<EntryReport>,
    /// Access entries whose calls EKS rejected (validation errors), each with EKS's message;
    /// the other entries were still written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<EntryReport>,
    pub warnings: Vec<String>,
    pub refusals: Vec<String>,
    /// Grants EKS does not use: aws-auth mappings behind the principal's access entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Planned changes this run did not carry out (failed, held back, not attempted,
    /// refused); a dry run's planned changes are not counted, its refused ones are. Anything
    /// above zero is alarmed (`NotApplied` metric).
    pub not_applied: u64,
    /// Access entries carrying one of our two tags without the other, reported every run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partly_tagged: Vec<String>,
    pub write_attempts: u32,
    pub api_calls: ApiCalls,
    /// A user event on an access-entries cluster: what was read of its entries (only the
    /// principal's, unless the change removed or demoted a cluster admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_read: Option<EntriesRead>,
    /// A full run on an access-entries cluster: what was described and what came from memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_reads: Option<EntryReads>,
    /// The human-readable plan (as `render` prints it).
    #[serde(skip)]
    pub plan_text: String,
    /// A review's dry run: what it read of the cluster.
    #[serde(skip)]
    pub review_read: Option<Box<super::review::ReviewRead>>,
    /// The plan's changes as the change history records them (issue 23); a change that was
    /// not made leaves this list as it leaves `added`/`changed`/`removed`.
    #[serde(skip)]
    pub history: Vec<PlannedChange>,
    /// The cluster's account (from its ARN), once described.
    #[serde(skip)]
    pub account: String,
    /// aws-auth as this run wrote it, once the write succeeded.
    #[serde(skip)]
    pub aws_auth_written: Option<ConfigMapData>,
}

impl ClusterReport {
    pub(super) fn new(cluster: &str) -> ClusterReport {
        ClusterReport {
            cluster: cluster.to_owned(),
            outcome: Outcome::Unchanged,
            backend: "aws-auth",
            authentication_mode: None,
            mode_changed: None,
            added: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
            skipped: Vec::new(),
            rejected: Vec::new(),
            warnings: Vec::new(),
            refusals: Vec::new(),
            shadowed: Vec::new(),
            error: None,
            not_applied: 0,
            partly_tagged: Vec::new(),
            write_attempts: 0,
            api_calls: ApiCalls::default(),
            entries_read: None,
            entry_reads: None,
            review_read: None,
            history: Vec::new(),
            aws_auth_written: None,
            account: String::new(),
            plan_text: String::new(),
        }
    }

    /// This cluster failed with `error` (its message is the report's `error`).
    pub(super) fn failed(mut self, error: impl std::fmt::Display) -> ClusterReport {
        self.fail(error);
        self
    }

    /// In place: this cluster failed with `error`.
    pub(super) fn fail(&mut self, error: impl std::fmt::Display) {
        self.outcome = Outcome::Failed;
        self.error = Some(error.to_string());
    }

    /// The mode DescribeCluster gave, and the one seen before it when it changed.
    pub(super) fn record_mode(
        &mut self,
        mode: AuthenticationMode,
        previous: Option<AuthenticationMode>,
    ) {
        self.authentication_mode = Some(mode.as_str());
        self.mode_changed = previous.map(|before| format!("{before} -> {mode}"));
    }

    /// An aws-auth plan: its changes by kind, skipped entries, warnings and refusals.
    pub(super) fn record_plan(&mut self, plan: &Plan) {
        self.clear_changes();
        self.push_aws_auth(plan);
        self.warnings = plan.warnings.clone();
        self.refusals = plan.refusals.iter().map(ToString::to_string).collect();
        self.plan_text = plan.describe();
    }

    /// The access-entries plan in the same shape: section `accessEntries`, key the principal.
    pub(super) fn record_access_plan(&mut self, plan: &AccessPlan) {
        self.clear_changes();
        self.push_access_entries(plan);
        self.warnings = plan.warnings.clone();
        self.refusals = plan.refusals.iter().map(ToString::to_string).collect();
        self.plan_text = plan.describe();
    }

    /// The plan over both stores: each entry under its store, each warning once.
    /// What a full run read of the access entries: the counts, and for a review the entries
    /// and the desired set.
    pub(super) fn record_entry_reads(
        &mut self,
        read: &super::entry_memory::AmortizedRead,
        desired: &crate::core::desired::DesiredSet,
    ) {
        if let Some(review) = self.review_read.as_mut() {
            review.entries = Some(read.current.clone());
            review.desired = Some(desired.clone());
        }
        self.entry_reads = Some(read.stats);
    }

    pub(super) fn record_both(&mut self, plan: &BothPlan) {
        self.clear_changes();
        self.push_aws_auth(&plan.aws_auth);
        self.push_access_entries(&plan.access_entries);
        self.warnings.clear();
        for warning in plan
            .aws_auth
            .warnings
            .iter()
            .chain(&plan.access_entries.warnings)
        {
            if !self.warnings.contains(warning) {
                self.warnings.push(warning.clone());
            }
        }
        self.refusals = plan.refusals.iter().map(ToString::to_string).collect();
        self.shadowed = plan.shadowed.clone();
        self.plan_text = plan.describe();
    }

    fn push_aws_auth(&mut self, plan: &Plan) {
        let entry = |section: String, key: String, value: Option<&ItemValue>, reason: &str| {
            let (username, groups) = match value {
                Some(ItemValue::Mapping(m)) => (m.username.clone(), Some(m.groups.clone())),
                _ => (None, None),
            };
            EntryReport {
                store: AWS_AUTH_STORE,
                section,
                key,
                username,
                groups,
                reason: reason.to_owned(),
            }
        };
        for c in &plan.changes {
            let value = match c.kind {
                MappingChangeKind::Remove => c.before.as_ref(),
                _ => c.after.as_ref(),
            };
            let report = entry(c.section.to_string(), c.key.clone(), value, &c.reason);
            self.history.push(PlannedChange {
                store: Store::AwsAuth,
                change: match c.kind {
                    MappingChangeKind::Add => history::ChangeKind::Added,
                    MappingChangeKind::Change => history::ChangeKind::Changed,
                    MappingChangeKind::Remove => history::ChangeKind::Removed,
                },
                principal: c.key.clone(),
                before: c.before.as_ref().map(EntryState::of_item),
                after: c.after.as_ref().map(EntryState::of_item),
            });
            match c.kind {
                MappingChangeKind::Add => self.added.push(report),
                MappingChangeKind::Change => self.changed.push(report),
                MappingChangeKind::Remove => self.removed.push(report),
            }
        }
        self.skipped.extend(
            plan.skipped
                .iter()
                .map(|s| entry(s.section.to_string(), s.key.clone(), None, &s.reason)),
        );
    }

    fn push_access_entries(&mut self, plan: &AccessPlan) {
        self.partly_tagged = plan.partly_tagged.clone();
        let entry = |key: &str, view: Option<&entries::EntryView>, reason: &str| EntryReport {
            store: ACCESS_ENTRIES_STORE,
            section: ACCESS_ENTRIES_SECTION.to_owned(),
            key: key.to_owned(),
            username: view.and_then(|v| v.username.clone()),
            groups: view.map(|v| v.groups.clone()),
            reason: reason.to_owned(),
        };
        for c in &plan.changes {
            self.history.push(PlannedChange {
                store: Store::AccessEntries,
                change: match c.kind {
                    entries::EntryChangeKind::Create => history::ChangeKind::Added,
                    entries::EntryChangeKind::Update | entries::EntryChangeKind::Recreate => {
                        history::ChangeKind::Changed
                    }
                    entries::EntryChangeKind::Delete => history::ChangeKind::Removed,
                },
                principal: c.principal_arn.clone(),
                before: c.before.as_ref().map(EntryState::of_entry),
                after: c.after.as_ref().map(EntryState::of_entry),
            });
            match c.kind {
                entries::EntryChangeKind::Create => {
                    self.added
                        .push(entry(&c.principal_arn, c.after.as_ref(), &c.reason));
                }
                entries::EntryChangeKind::Update | entries::EntryChangeKind::Recreate => {
                    self.changed
                        .push(entry(&c.principal_arn, c.after.as_ref(), &c.reason));
                }
                entries::EntryChangeKind::Delete => {
                    self.removed
                        .push(entry(&c.principal_arn, c.before.as_ref(), &c.reason));
                }
            }
        }
        self.skipped
            .extend(plan.skipped.iter().map(|s| entry(&s.key, None, &s.reason)));
    }

    /// An access-entry change that was not made: it leaves added/changed/removed and is
    /// listed under `rejected` with why.
    pub(super) fn record_rejected(&mut self, principal_arn: &str, why: String) {
        for list in [&mut self.added, &mut self.changed, &mut self.removed] {
            list.retain(|e| e.key != principal_arn);
        }
        self.history
            .retain(|c| c.store != Store::AccessEntries || c.principal != principal_arn);
        self.rejected.push(EntryReport {
            store: ACCESS_ENTRIES_STORE,
            section: ACCESS_ENTRIES_SECTION.to_owned(),
            key: principal_arn.to_owned(),
            username: None,
            groups: None,
            reason: why,
        });
    }

    /// Only the aws-auth changes of `kept` stay listed (the others were not made); the
    /// access-entry changes are left as they are.
    pub(super) fn keep_aws_auth_changes(&mut self, kept: &Plan) {
        let kept: Vec<&str> = kept.changes.iter().map(|c| c.key.as_str()).collect();
        for list in [&mut self.added, &mut self.changed, &mut self.removed] {
            list.retain(|e| e.store != AWS_AUTH_STORE || kept.contains(&e.key.as_str()));
        }
        self.history
            .retain(|c| c.store != Store::AwsAuth || kept.contains(&c.principal.as_str()));
    }

    fn clear_changes(&mut self) {
        self.history.clear();
        self.added.clear();
        self.changed.clear();
        self.removed.clear();
        self.skipped.clear();
        self.shadowed.clear();
        self.partly_tagged.clear();
    }
}

/// The JSON summary of one invocation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub reason: String,
    pub dry_run: bool,
    pub clusters: Vec<ClusterReport>,
    /// IAM calls made by this run.
    pub iam_calls: u64,
    /// EKS calls made by this run.
    pub eks_calls: u64,
    /// S3 and EventBridge calls the change history made in this run (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub history_calls: u64,
}

impl RunSummary {
    /// True when some cluster failed (the invocation then fails, so EventBridge retries).
    pub fn failed(&self) -> bool {
        self.clusters.iter().any(|c| c.outcome == Outcome::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> EntryReport {
        EntryReport {
            store: ACCESS_ENTRIES_STORE,
            section: ACCESS_ENTRIES_SECTION.to_owned(),
            key: key.to_owned(),
            username: Some("alice".to_owned()),
            groups: Some(vec!["system:masters".to_owned()]),
            reason: "member of IAM group eks-admins".to_owned(),
        }
    }

    #[test]
    fn a_new_report_serializes_with_the_contract_s_field_names() {
        let json = serde_json::to_value(ClusterReport::new("prod")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "cluster": "prod", "outcome": "unchanged", "backend": "aws-auth",
                "added": [], "changed": [], "removed": [], "skipped": [],
                "warnings": [], "refusals": [], "notApplied": 0, "writeAttempts": 0,
                "apiCalls": {"kube_get": 0, "kube_put": 0, "kube_post": 0},
            }),
            "rejected, error and the eks_* counts appear only when set; plan_text never"
        );
    }

    #[test]
    fn a_failed_report_carries_the_error_message() {
        let report = ClusterReport::new("prod").failed("IAM read failed: denied");
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(report.error.as_deref(), Some("IAM read failed: denied"));
    }

    #[test]
    fn a_rejected_change_leaves_the_change_lists_for_rejected() {
        let mut report = ClusterReport::new("prod");
        report
            .added
            .push(entry("arn:aws:iam::111122223333:user/alice"));
        report
            .added
            .push(entry("arn:aws:iam::111122223333:user/bob"));
        report.record_rejected(
            "arn:aws:iam::111122223333:user/alice",
            "InvalidParameterException".to_owned(),
        );
        let keys: Vec<&str> = report.added.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["arn:aws:iam::111122223333:user/bob"]);
        assert_eq!(
            report.rejected,
            [EntryReport {
                store: "access-entries",
                section: "accessEntries".to_owned(),
                key: "arn:aws:iam::111122223333:user/alice".to_owned(),
                username: None,
                groups: None,
                reason: "InvalidParameterException".to_owned(),
            }]
        );
    }

    #[test]
    fn a_run_fails_when_any_cluster_failed() {
        let mut summary = RunSummary {
            reason: "test".to_owned(),
            dry_run: false,
            clusters: vec![ClusterReport::new("a"), ClusterReport::new("b")],
            iam_calls: 0,
            eks_calls: 0,
            history_calls: 0,
        };
        assert!(!summary.failed());
        summary.clusters[1].outcome = Outcome::Refused;
        assert!(!summary.failed(), "a refusal is reported, not retried");
        summary.clusters[0].outcome = Outcome::Failed;
        assert!(summary.failed());
    }
}
