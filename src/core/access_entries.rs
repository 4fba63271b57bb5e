//! The access-entries backend, pure: the desired set translated by EKS's rules, and the
//! planner that compares it with a cluster's current access entries.
//!
//! It owns the translation ([`translate`]), the plan ([`plan`], [`AccessPlan`]) with its
//! guards, and the aws-auth → access-entries migration plan ([`plan_migration`]). It does
//! not call EKS: [`crate::aws::access_entries`] reads entries into [`CurrentEntry`] values
//! and carries out [`Operation`]s.
//!
//! # Translation (EKS's rules)
//! - `system:masters` → `AmazonEKSClusterAdminPolicy` at cluster scope (as eksctl's migrator
//!   does); the group itself is not sent.
//! - A mapping whose groups include `system:nodes` → an `EC2_LINUX` entry with no username,
//!   groups or policies. Only a role of the cluster's account can be one.
//! - Any other `system:` group, or a username starting with a reserved prefix (`system:`,
//!   `eks:`, `aws:`, `amazon:`, `iam:`), cannot be expressed on a `STANDARD` entry: the entry
//!   is reported as skipped, with the reason, and never sent.
//! - Role ARNs are sent as configured (path kept); entries are matched by canonical ARN.
//! - `mapAccounts` has no equivalent: each account is reported as skipped.
//!
//! # Ownership and policies
//! An entry is ours when it carries the tag [`MANAGED_TAG`]`=true` (set when we create it);
//! any other entry is never updated, deleted, or given policies. On a managed entry we own
//! the policies our translation can produce ([`OWNED_POLICIES`]: today only
//! `AmazonEKSClusterAdminPolicy`): they are associated, rescoped or disassociated to match
//! the configuration. Every other policy associated with a managed entry (by hand) is left
//! alone, whatever the configuration says.
//!
//! # Guarantees
//! - Type and principal are immutable: a type change, or a new IAM unique id (the principal
//!   was deleted and recreated: EKS keeps the old id, so the old entry no longer works), is a
//!   delete + create of that entry.
//! - Guards as for aws-auth, refusing the whole plan: `protected-principal` (our identity
//!   keeps its entry and its cluster-admin policy), `last-cluster-admin` (some entry keeps
//!   `AmazonEKSClusterAdminPolicy` at cluster scope), `node-role` (no managed node entry goes
//!   without a replacement), `mass-removal` (same fraction and override), and
//!   `ambiguous-entries` (two current entries for one principal, one ours: refuse rather than
//!   guess which one EKS uses).
//! - No change → no operation; any refusal → no operation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use crate::core::arn::{account_of, canonical_principal_arn};
use crate::core::aws_auth::emit::{EmitError, rewrite};
use crate::core::aws_auth::{
    AwsAuth, ConfigMapData, ItemValue, LEDGER_ANNOTATION, Ledger, OwnershipRules, SectionName,
};
use crate::core::desired::{DesiredMapping, DesiredSet};
use crate::core::guards::{Guard, GuardSettings, MASTERS, NODES, Refusal};

/// The tag that marks an access entry as ours.
pub const MANAGED_TAG: &str = "eks-iam-sync/managed";
/// The value of [`MANAGED_TAG`].
pub const MANAGED_VALUE: &str = "true";
/// The tag recording the IAM unique id the entry was created for.
pub const PRINCIPAL_ID_TAG: &str = "eks-iam-sync/principal-id";
/// The policy `system:masters` becomes.
pub const CLUSTER_ADMIN_POLICY_NAME: &str = "AmazonEKSClusterAdminPolicy";
/// The access policies eks-iam-sync owns on a managed entry (what its translation produces).
pub const OWNED_POLICIES: &[&str] = &[CLUSTER_ADMIN_POLICY_NAME];
/// Username prefixes EKS reserves on STANDARD entries.
pub const RESERVED_USERNAME_PREFIXES: &[&str] = &["system:", "eks:", "aws:", "amazon:", "iam:"];
/// The entry type of general principals.
pub const STANDARD: &str = "STANDARD";
/// The entry type of Linux EC2 node roles.
pub const EC2_LINUX: &str = "EC2_LINUX";

/// The ARN of an access policy in a partition.
pub fn policy_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:eks::aws:cluster-access-policy/{name}")
}

/// The name of an access policy ARN (`.../AmazonEKSViewPolicy` → `AmazonEKSViewPolicy`).
pub fn policy_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Where an associated policy applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Cluster,
    Namespaces(Vec<String>),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Cluster => f.write_str("cluster"),
            Scope::Namespaces(ns) => write!(f, "namespaces {}", ns.join(",")),
        }
    }
}

/// A policy associated with an entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Policy {
    pub policy_arn: String,
    pub scope: Scope,
}

/// An access entry as read from EKS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentEntry {
    pub principal_arn: String,
    pub entry_type: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub policies: Vec<Policy>,
}

impl CurrentEntry {
    pub fn is_managed(&self) -> bool {
        self.tags.get(MANAGED_TAG).map(String::as_str) == Some(MANAGED_VALUE)
    }

    fn is_admin(&self) -> bool {
        self.policies.iter().any(is_cluster_admin)
    }
}

fn is_cluster_admin(p: &Policy) -> bool {
    policy_name(&p.policy_arn) == CLUSTER_ADMIN_POLICY_NAME && p.scope == Scope::Cluster
}

/// An access entry as the configuration wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredEntry {
    /// The ARN sent to EKS (role path kept).
    pub principal_arn: String,
    pub entry_type: String,
    /// `None` for node entries (EKS's default).
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub policies: Vec<Policy>,
    pub principal_id: Option<String>,
    pub reason: String,
}

impl DesiredEntry {
    /// The tags a new entry is created with.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = BTreeMap::from([(MANAGED_TAG.to_owned(), MANAGED_VALUE.to_owned())]);
        if let Some(id) = &self.principal_id {
            tags.insert(PRINCIPAL_ID_TAG.to_owned(), id.clone());
        }
        tags
    }
}

/// A desired entry (or account) that is not sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub key: String,
    pub reason: String,
}

/// The desired set in access-entry terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    /// By lowercase canonical principal ARN.
    pub entries: BTreeMap<String, DesiredEntry>,
    pub skipped: Vec<Skip>,
}

/// Lowercase canonical ARN: how entries are matched (EKS compares roles without their path).
pub fn principal_key(arn: &str) -> String {
    canonical_principal_arn(arn)
        .map(|c| c.arn)
        .unwrap_or_else(|_| arn.to_owned())
        .to_ascii_lowercase()
}

/// Translates a desired set by EKS's rules. `cluster_account` (from the cluster ARN) decides
/// which roles can be node entries.
pub fn translate(desired: &DesiredSet, cluster_account: Option<&str>) -> Translation {
    let mut out = Translation::default();
    for (section, is_role) in [
        (SectionName::MapRoles, true),
        (SectionName::MapUsers, false),
    ] {
        for mapping in desired.mappings(section) {
            match translate_one(mapping, is_role, cluster_account) {
                Ok(entry) => {
                    out.entries.insert(principal_key(&mapping.arn), entry);
                }
                Err(reason) => out.skipped.push(Skip {
                    key: mapping.configured_arn.clone(),
                    reason,
                }),
            }
        }
    }
    for (account, _) in desired.accounts() {
        out.skipped.push(Skip {
            key: account.clone(),
            reason:
                "mapAccounts has no access-entry equivalent (each principal needs its own entry)"
                    .to_owned(),
        });
    }
    out
}

fn translate_one(
    mapping: &DesiredMapping,
    is_role: bool,
    cluster_account: Option<&str>,
) -> Result<DesiredEntry, String> {
    let partition = mapping.arn.split(':').nth(1).unwrap_or("aws");
    if mapping.groups.iter().any(|g| g == NODES) {
        if !is_role {
            return Err(format!(
                "{NODES} needs a node entry ({EC2_LINUX}), which only an IAM role can have"
            ));
        }
        let account = account_of(&mapping.arn);
        if let (Some(cluster), Some(role)) = (cluster_account, account)
            && cluster != role
        {
            return Err(format!(
                "a node entry ({EC2_LINUX}) needs a role of the cluster's account {cluster}, not {role}"
            ));
        }
        return Ok(DesiredEntry {
            principal_arn: mapping.configured_arn.clone(),
            entry_type: EC2_LINUX.to_owned(),
            username: None,
            groups: Vec::new(),
            policies: Vec::new(),
            principal_id: mapping.principal_id.clone(),
            reason: format!("{} (node role: {EC2_LINUX})", mapping.reason),
        });
    }
    if let Some(prefix) = RESERVED_USERNAME_PREFIXES
        .iter()
        .find(|p| mapping.username.starts_with(**p))
    {
        return Err(format!(
            "username {} starts with {prefix}, which EKS reserves on {STANDARD} entries",
            mapping.username
        ));
    }
    let mut groups = Vec::new();
    let mut policies = Vec::new();
    for group in &mapping.groups {
        if group == MASTERS {
            policies.push(Policy {
                policy_arn: policy_arn(partition, CLUSTER_ADMIN_POLICY_NAME),
                scope: Scope::Cluster,
            });
        } else if group.starts_with("system:") {
            return Err(format!(
                "group {group} cannot be given on a {STANDARD} entry (EKS rejects system: groups; only {MASTERS} has a policy equivalent)"
            ));
        } else if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    Ok(DesiredEntry {
        principal_arn: mapping.configured_arn.clone(),
        entry_type: STANDARD.to_owned(),
        username: Some(mapping.username.clone()),
        groups,
        policies,
        principal_id: mapping.principal_id.clone(),
        reason: mapping.reason.clone(),
    })
}

/// One EKS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Create {
        principal_arn: String,
        entry_type: String,
        username: Option<String>,
        groups: Vec<String>,
        tags: BTreeMap<String, String>,
    },
    Update {
        principal_arn: String,
        username: Option<String>,
        groups: Vec<String>,
    },
    Delete {
        principal_arn: String,
    },
    Associate {
        principal_arn: String,
        policy: Policy,
    },
    Disassociate {
        principal_arn: String,
        policy_arn: String,
    },
}

impl Operation {
    /// The EKS API name.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create { .. } => "CreateAccessEntry",
            Operation::Update { .. } => "UpdateAccessEntry",
            Operation::Delete { .. } => "DeleteAccessEntry",
            Operation::Associate { .. } => "AssociateAccessPolicy",
            Operation::Disassociate { .. } => "DisassociateAccessPolicy",
        }
    }

    pub fn principal_arn(&self) -> &str {
        match self {
            Operation::Create { principal_arn, .. }
            | Operation::Update { principal_arn, .. }
            | Operation::Delete { principal_arn }
            | Operation::Associate { principal_arn, .. }
            | Operation::Disassociate { principal_arn, .. } => principal_arn,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    /// Delete + create (type changed, or the principal was recreated).
    Recreate,
    Delete,
}

/// What an entry looks like (for reports and `describe()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryView {
    pub entry_type: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub policies: Vec<Policy>,
}

impl EntryView {
    fn of_current(e: &CurrentEntry) -> EntryView {
        EntryView {
            entry_type: e.entry_type.clone(),
            username: e.username.clone(),
            groups: e.groups.clone(),
            policies: e.policies.clone(),
        }
    }

    fn of_desired(e: &DesiredEntry) -> EntryView {
        EntryView {
            entry_type: e.entry_type.clone(),
            username: e.username.clone(),
            groups: e.groups.clone(),
            policies: e.policies.clone(),
        }
    }

    /// `type=STANDARD username=alice groups=[devs] policies=[AmazonEKSClusterAdminPolicy (cluster)]`.
    pub fn summary(&self) -> String {
        let mut out = format!("type={}", self.entry_type);
        if let Some(u) = &self.username {
            let _ = write!(out, " username={u}");
        }
        if !self.groups.is_empty() {
            let _ = write!(out, " groups=[{}]", self.groups.join(", "));
        }
        if !self.policies.is_empty() {
            let policies: Vec<String> = self
                .policies
                .iter()
                .map(|p| format!("{} ({})", policy_name(&p.policy_arn), p.scope))
                .collect();
            let _ = write!(out, " policies=[{}]", policies.join(", "));
        }
        out
    }
}

/// One planned change to one managed entry, with the EKS calls that make it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub principal_arn: String,
    pub before: Option<EntryView>,
    pub after: Option<EntryView>,
    pub reason: String,
    pub operations: Vec<Operation>,
}

/// The planner's answer for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPlan {
    /// Creates first, then updates and recreates, then deletes: access is granted before
    /// any is taken away.
    pub changes: Vec<Change>,
    pub skipped: Vec<Skip>,
    pub warnings: Vec<String>,
    pub refusals: Vec<Refusal>,
}

impl AccessPlan {
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The operations to run, in order; empty when refused.
    pub fn operations(&self) -> Vec<&Operation> {
        if self.is_refused() {
            return Vec::new();
        }
        self.changes.iter().flat_map(|c| &c.operations).collect()
    }

    /// The human-readable plan (`+` create, `~` update or recreate, `-` delete), then skips,
    /// warnings and refusals, as the aws-auth plan prints.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let (sign, shown) = match change.kind {
                ChangeKind::Create => ('+', change.after.as_ref()),
                ChangeKind::Delete => ('-', change.before.as_ref()),
                ChangeKind::Update | ChangeKind::Recreate => ('~', change.after.as_ref()),
            };
            let _ = writeln!(
                out,
                "{sign} access entry {}  {}  ({})",
                change.principal_arn,
                shown.map(EntryView::summary).unwrap_or_default(),
                change.reason
            );
        }
        if !self.has_changes() && !self.is_refused() {
            out.push_str(
                "No changes: the access entries already hold the desired managed entries.\n",
            );
        }
        for skip in &self.skipped {
            let _ = writeln!(out, "skipped access entry {}: {}", skip.key, skip.reason);
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        for refusal in &self.refusals {
            let _ = writeln!(out, "{refusal}");
        }
        out
    }
}

/// Everything the planner needs.
#[derive(Debug, Clone, Copy)]
pub struct AccessPlanRequest<'a> {
    pub current: &'a [CurrentEntry],
    pub desired: &'a DesiredSet,
    /// The cluster's account (node entries need a role of it).
    pub cluster_account: Option<&'a str>,
    pub guards: GuardSettings,
    /// Principals that must never lose access (the tool's own identity).
    pub protected: &'a [String],
}

/// Plans one run. Pure.
pub fn plan(request: &AccessPlanRequest<'_>) -> AccessPlan {
    let translation = translate(request.desired, request.cluster_account);
    let mut plan = AccessPlan {
        skipped: translation.skipped.clone(),
        warnings: request.desired.warnings().to_vec(),
        ..AccessPlan::default()
    };
    plan_entries(
        request.current,
        &translation.entries,
        true,
        request,
        &mut plan,
    );
    plan
}

/// The shared planner: `remove_unlisted` is false for migration (additive only).
fn plan_entries(
    current: &[CurrentEntry],
    desired: &BTreeMap<String, DesiredEntry>,
    remove_unlisted: bool,
    request: &AccessPlanRequest<'_>,
    plan: &mut AccessPlan,
) {
    let mut by_key: BTreeMap<String, Vec<&CurrentEntry>> = BTreeMap::new();
    for entry in current {
        by_key
            .entry(principal_key(&entry.principal_arn))
            .or_default()
            .push(entry);
    }
    let (mut creates, mut updates, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
    for (key, entries) in &by_key {
        if entries.len() > 1 && entries.iter().any(|e| e.is_managed()) {
            let arns: Vec<&str> = entries.iter().map(|e| e.principal_arn.as_str()).collect();
            plan.refusals.push(Refusal {
                guard: Guard::Ambiguous,
                message: format!(
                    "{} access entries name the same principal {key} ({}), one of them managed; remove the extra one by hand",
                    entries.len(),
                    arns.join(", ")
                ),
            });
        }
    }
    for (key, want) in desired {
        let found = by_key.get(key).and_then(|e| e.last().copied());
        match found {
            None => creates.push(create_change(want, want.reason.clone(), ChangeKind::Create)),
            Some(entry) if !entry.is_managed() => {
                plan.skipped.push(Skip {
                    key: want.principal_arn.clone(),
                    reason: format!(
                        "an unmanaged access entry ({}) already exists for this principal; it is left as it is",
                        entry.principal_arn
                    ),
                });
                plan.warnings.push(format!(
                    "desired access entry {} ({}) collides with unmanaged entry {}; left as it is",
                    want.principal_arn, want.reason, entry.principal_arn
                ));
            }
            Some(entry) => {
                if let Some(change) = compare(entry, want) {
                    updates.push(change);
                }
            }
        }
    }
    if remove_unlisted {
        for (key, entries) in &by_key {
            for entry in entries.iter().filter(|e| e.is_managed()) {
                if !desired.contains_key(key) {
                    deletes.push(Change {
                        kind: ChangeKind::Delete,
                        principal_arn: entry.principal_arn.clone(),
                        before: Some(EntryView::of_current(entry)),
                        after: None,
                        reason: "managed by eks-iam-sync and no longer desired".to_owned(),
                        operations: vec![Operation::Delete {
                            principal_arn: entry.principal_arn.clone(),
                        }],
                    });
                }
            }
        }
    }
    plan.changes.extend(creates);
    plan.changes.extend(updates);
    plan.changes.extend(deletes);
    if plan.has_changes() {
        let managed_before = current.iter().filter(|e| e.is_managed()).count();
        let refusals = check_guards(current, &plan.changes, managed_before, request);
        plan.refusals.extend(refusals);
    }
}

fn create_change(want: &DesiredEntry, reason: String, kind: ChangeKind) -> Change {
    let mut operations = vec![Operation::Create {
        principal_arn: want.principal_arn.clone(),
        entry_type: want.entry_type.clone(),
        username: want.username.clone(),
        groups: want.groups.clone(),
        tags: want.tags(),
    }];
    operations.extend(want.policies.iter().map(|p| Operation::Associate {
        principal_arn: want.principal_arn.clone(),
        policy: p.clone(),
    }));
    Change {
        kind,
        principal_arn: want.principal_arn.clone(),
        before: None,
        after: Some(EntryView::of_desired(want)),
        reason,
        operations,
    }
}

/// How a managed entry must change to match `want` (`None`: it already does).
fn compare(entry: &CurrentEntry, want: &DesiredEntry) -> Option<Change> {
    let recreate_why = if entry.entry_type != want.entry_type {
        Some(format!(
            "type {} → {} (the type is immutable: the entry is deleted and created again)",
            entry.entry_type, want.entry_type
        ))
    } else {
        match (entry.tags.get(PRINCIPAL_ID_TAG), &want.principal_id) {
            (Some(had), Some(now)) if had != now => Some(format!(
                "the principal was deleted and recreated (IAM unique id {had} → {now}); EKS keeps the old id, so the entry is deleted and created again"
            )),
            _ => None,
        }
    };
    if let Some(why) = recreate_why {
        let mut change = create_change(
            want,
            format!("{why} ({})", want.reason),
            ChangeKind::Recreate,
        );
        change.before = Some(EntryView::of_current(entry));
        change.operations.insert(
            0,
            Operation::Delete {
                principal_arn: entry.principal_arn.clone(),
            },
        );
        return Some(change);
    }
    let mut differences = Vec::new();
    let mut operations = Vec::new();
    if want.entry_type == STANDARD {
        let username_differs = want.username.is_some() && entry.username != want.username;
        let (mut have, mut need) = (entry.groups.clone(), want.groups.clone());
        have.sort();
        need.sort();
        if username_differs {
            differences.push(format!(
                "username {} → {}",
                entry.username.as_deref().unwrap_or("(none)"),
                want.username.as_deref().unwrap_or("(none)")
            ));
        }
        if have != need {
            differences.push(format!(
                "groups [{}] → [{}]",
                entry.groups.join(", "),
                want.groups.join(", ")
            ));
        }
        if username_differs || have != need {
            operations.push(Operation::Update {
                principal_arn: entry.principal_arn.clone(),
                username: want.username.clone(),
                groups: want.groups.clone(),
            });
        }
    }
    for policy in &want.policies {
        let name = policy_name(&policy.policy_arn);
        match entry
            .policies
            .iter()
            .find(|p| policy_name(&p.policy_arn) == name)
        {
            Some(p) if p.scope == policy.scope => {}
            Some(p) => {
                differences.push(format!("{name} scope {} → {}", p.scope, policy.scope));
                operations.push(Operation::Associate {
                    principal_arn: entry.principal_arn.clone(),
                    policy: policy.clone(),
                });
            }
            None => {
                differences.push(format!("{name} associated"));
                operations.push(Operation::Associate {
                    principal_arn: entry.principal_arn.clone(),
                    policy: policy.clone(),
                });
            }
        }
    }
    for p in &entry.policies {
        let name = policy_name(&p.policy_arn);
        let ours = OWNED_POLICIES.contains(&name);
        let wanted = want
            .policies
            .iter()
            .any(|w| policy_name(&w.policy_arn) == name);
        if ours && !wanted {
            differences.push(format!("{name} disassociated"));
            operations.push(Operation::Disassociate {
                principal_arn: entry.principal_arn.clone(),
                policy_arn: p.policy_arn.clone(),
            });
        }
    }
    if operations.is_empty() {
        return None;
    }
    let mut after = EntryView::of_desired(want);
    // Policies associated by hand stay, and are shown.
    after.policies.extend(
        entry
            .policies
            .iter()
            .filter(|p| !OWNED_POLICIES.contains(&policy_name(&p.policy_arn)))
            .cloned(),
    );
    Some(Change {
        kind: ChangeKind::Update,
        principal_arn: entry.principal_arn.clone(),
        before: Some(EntryView::of_current(entry)),
        after: Some(after),
        reason: format!("{} ({})", differences.join("; "), want.reason),
        operations,
    })
}

/// What each principal holds, by key: (is a node entry, is a cluster admin).
type Access = BTreeMap<String, (bool, bool)>;

fn access_before(current: &[CurrentEntry]) -> Access {
    current
        .iter()
        .map(|e| {
            (
                principal_key(&e.principal_arn),
                (e.entry_type != STANDARD, e.is_admin()),
            )
        })
        .collect()
}

fn access_after(current: &[CurrentEntry], changes: &[Change]) -> Access {
    let mut access = access_before(current);
    for change in changes {
        let key = principal_key(&change.principal_arn);
        match &change.after {
            None => {
                access.remove(&key);
            }
            Some(view) => {
                let admin = view.policies.iter().any(is_cluster_admin);
                access.insert(key, (view.entry_type != STANDARD, admin));
            }
        }
    }
    access
}

fn check_guards(
    current: &[CurrentEntry],
    changes: &[Change],
    managed_before: usize,
    request: &AccessPlanRequest<'_>,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let before = access_before(current);
    let after = access_after(current, changes);

    let admins_before: Vec<&String> = before.iter().filter(|(_, a)| a.1).map(|(k, _)| k).collect();
    if !admins_before.is_empty() && !after.values().any(|a| a.1) {
        refusals.push(Refusal {
            guard: Guard::LastClusterAdmin,
            message: format!(
                "no access entry would keep {CLUSTER_ADMIN_POLICY_NAME} at cluster scope; today it is held by {}",
                list(admins_before.iter().map(|k| k.to_string()))
            ),
        });
    }

    let lost_nodes: Vec<String> = current
        .iter()
        .filter(|e| e.is_managed() && e.entry_type != STANDARD)
        .map(|e| principal_key(&e.principal_arn))
        .filter(|k| after.get(k).is_none_or(|a| !a.0))
        .collect();
    if !lost_nodes.is_empty() {
        refusals.push(Refusal {
            guard: Guard::NodeRole,
            message: format!(
                "node entries would be removed or lose their node type (their nodes would leave the cluster): {}",
                list(lost_nodes.into_iter())
            ),
        });
    }

    for principal in request.protected {
        let key = principal_key(principal);
        let Some(&(_, was_admin)) = before.get(&key) else {
            continue;
        };
        match after.get(&key) {
            None => refusals.push(Refusal {
                guard: Guard::ProtectedPrincipal,
                message: format!("{principal} would lose its access entry"),
            }),
            Some(&(_, admin)) if was_admin && !admin => refusals.push(Refusal {
                guard: Guard::ProtectedPrincipal,
                message: format!("{principal} would lose {CLUSTER_ADMIN_POLICY_NAME}"),
            }),
            Some(_) => {}
        }
    }

    let removed: Vec<&Change> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Delete)
        .collect();
    if !request.guards.allow_mass_removal && managed_before >= 4 {
        let fraction = removed.len() as f64 / managed_before as f64;
        if fraction > request.guards.max_removal_fraction {
            refusals.push(Refusal {
                guard: Guard::MassRemoval,
                message: format!(
                    "{} of {managed_before} managed access entries ({:.0}%) would be deleted, more than maxRemovalFraction {} allows: {} (override with --allow-mass-removal if this is intended)",
                    removed.len(),
                    fraction * 100.0,
                    request.guards.max_removal_fraction,
                    list(removed.iter().map(|c| c.principal_arn.clone()))
                ),
            });
        }
    }
    refusals
}

/// At most ten items, then a count of the rest.
fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let shown = items
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match items.len() {
        n if n > 10 => format!("{shown} and {} more", n - 10),
        _ => shown,
    }
}

/// Moving a cluster's managed aws-auth entries to access entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationPlan {
    /// Access entries to create or bring in line (additive: nothing is deleted).
    pub access: AccessPlan,
    /// Canonical ARNs (lowercase) of the aws-auth mappings that move: removed from aws-auth
    /// once their access entries are verified.
    pub moving: BTreeSet<String>,
    /// What cannot move, and why (stays in aws-auth).
    pub cannot_move: Vec<Skip>,
}

impl MigrationPlan {
    /// The plan as text: the access entries to write, what moves, what stays and why.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Access entries:");
        for change in &self.access.changes {
            let _ = writeln!(
                out,
                "+ access entry {}  {}  ({})",
                change.principal_arn,
                change
                    .after
                    .as_ref()
                    .map(EntryView::summary)
                    .unwrap_or_default(),
                change.reason
            );
        }
        if self.access.changes.is_empty() {
            out.push_str("  (none to write)\n");
        }
        let _ = writeln!(
            out,
            "Removed from aws-auth once their access entries exist:"
        );
        for key in &self.moving {
            let _ = writeln!(out, "- aws-auth {key}");
        }
        if self.moving.is_empty() {
            out.push_str("  (none)\n");
        }
        for skip in &self.cannot_move {
            let _ = writeln!(out, "cannot move {}: {}", skip.key, skip.reason);
        }
        for warning in &self.access.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        for refusal in &self.access.refusals {
            let _ = writeln!(out, "{refusal}");
        }
        out
    }
}

/// Plans a migration: `managed` holds the managed aws-auth mappings (as a desired set),
/// `current` the cluster's access entries. An entry moves when it translates and its
/// principal has no unmanaged access entry; a managed access entry that already matches
/// counts as moved.
pub fn plan_migration(request: &AccessPlanRequest<'_>) -> MigrationPlan {
    let translation = translate(request.desired, request.cluster_account);
    let mut plan = MigrationPlan {
        cannot_move: translation.skipped.clone(),
        ..MigrationPlan::default()
    };
    let unmanaged: BTreeMap<String, &CurrentEntry> = request
        .current
        .iter()
        .filter(|e| !e.is_managed())
        .map(|e| (principal_key(&e.principal_arn), e))
        .collect();
    let mut movable = BTreeMap::new();
    for (key, entry) in translation.entries {
        if let Some(holder) = unmanaged.get(&key) {
            plan.cannot_move.push(Skip {
                key: entry.principal_arn.clone(),
                reason: format!(
                    "an unmanaged access entry ({}) already exists for this principal; removing the aws-auth entry would change its access",
                    holder.principal_arn
                ),
            });
            continue;
        }
        plan.moving.insert(key.clone());
        movable.insert(key, entry);
    }
    let mut access = AccessPlan {
        warnings: request.desired.warnings().to_vec(),
        ..AccessPlan::default()
    };
    plan_entries(request.current, &movable, false, request, &mut access);
    plan.access = access;
    plan
}

/// Whether the entries now in EKS carry what `want` needs (the migration's check before
/// aws-auth entries are removed): a managed entry of the right type, with the wanted
/// policies at the wanted scope.
pub fn verified(current: &[CurrentEntry], key: &str, want: &DesiredEntry) -> bool {
    current.iter().any(|e| {
        principal_key(&e.principal_arn) == key
            && e.is_managed()
            && e.entry_type == want.entry_type
            && want.policies.iter().all(|p| e.policies.contains(p))
    })
}

/// The managed aws-auth mappings (and accounts) of a cluster as a desired set: what
/// `migrate` tries to move. Unmanaged entries are never moved.
pub fn managed_aws_auth(
    aws_auth: &AwsAuth,
    ownership: &OwnershipRules,
) -> (DesiredSet, Vec<String>) {
    let mut set = DesiredSet::default();
    let mut warnings = Vec::new();
    for name in SectionName::ALL {
        let section = aws_auth.section(name);
        let flags = ownership.managed_flags(section, aws_auth.ledger.as_ref());
        for (index, (value, managed)) in section.values().zip(flags).enumerate() {
            if !managed {
                continue;
            }
            let place = format!("{name}[{index}]");
            let reason = format!("managed aws-auth entry {place}");
            let result = match value {
                ItemValue::Account(id) => set.add_account(&place, id, &reason),
                ItemValue::Mapping(m) => {
                    let username = m.username.clone().unwrap_or_default();
                    if name == SectionName::MapRoles {
                        set.add_role(&place, &m.arn, &username, &m.groups, &reason)
                    } else {
                        set.add_user(&place, &m.arn, &username, &m.groups, &reason)
                    }
                }
            };
            if let Err(e) = result {
                warnings.push(format!("{e} (it stays in aws-auth)"));
            }
        }
    }
    (set, warnings)
}

/// aws-auth without the managed mappings whose principals (lowercase canonical ARNs) are in
/// `moved`, every other byte kept, the ownership ledger rewritten for what stays managed.
/// `Ok(None)` when nothing is removed.
///
/// # Errors
/// The section cannot be rewritten safely (the emitter's own check).
pub fn aws_auth_without(
    current: &ConfigMapData,
    aws_auth: &AwsAuth,
    ownership: &OwnershipRules,
    moved: &BTreeSet<String>,
) -> Result<Option<ConfigMapData>, EmitError> {
    let mut data = current.data.clone();
    let mut ledger = Ledger::default();
    let mut removed_any = false;
    for name in SectionName::ALL {
        let section = aws_auth.section(name);
        let flags = ownership.managed_flags(section, aws_auth.ledger.as_ref());
        let mut keep = Vec::with_capacity(flags.len());
        for (value, managed) in section.values().zip(flags) {
            let goes = managed
                && matches!(value, ItemValue::Mapping(_))
                && moved.contains(&principal_key(value.key()));
            if managed && !goes {
                ledger.insert(name, value.key());
            }
            keep.push(!goes);
        }
        if keep.iter().any(|k| !k) {
            removed_any = true;
            data.insert(name.key().to_owned(), rewrite(section, &keep, &[])?);
        }
    }
    if !removed_any {
        return Ok(None);
    }
    let mut annotations = current.annotations.clone();
    if ledger.is_empty() {
        annotations.remove(LEDGER_ANNOTATION);
    } else {
        annotations.insert(LEDGER_ANNOTATION.to_owned(), ledger.to_annotation());
    }
    Ok(Some(ConfigMapData { data, annotations }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const BOB: &str = "arn:aws:iam::111122223333:user/bob";
    const DEPLOY: &str = "arn:aws:iam::111122223333:role/team/deployer";
    const NODES_ROLE: &str = "arn:aws:iam::111122223333:role/nodes";
    const ME: &str = "arn:aws:iam::111122223333:role/eks-iam-sync";

    fn admin() -> Policy {
        Policy {
            policy_arn: policy_arn("aws", CLUSTER_ADMIN_POLICY_NAME),
            scope: Scope::Cluster,
        }
    }

    fn view_policy() -> Policy {
        Policy {
            policy_arn: policy_arn("aws", "AmazonEKSViewPolicy"),
            scope: Scope::Cluster,
        }
    }

    fn groups(list: &[&str]) -> Vec<String> {
        list.iter().map(|g| (*g).to_owned()).collect()
    }

    /// A desired set builder: `Want::new().user(ALICE, "alice", &["system:masters"])`.
    struct Want(DesiredSet);

    impl Want {
        fn new() -> Want {
            Want(DesiredSet::default())
        }
        fn user(mut self, arn: &str, username: &str, g: &[&str]) -> Want {
            self.0
                .add_user("users", arn, username, &groups(g), "configured in users")
                .unwrap();
            self
        }
        fn role(mut self, arn: &str, username: &str, g: &[&str]) -> Want {
            self.0
                .add_role("roles", arn, username, &groups(g), "configured in roles")
                .unwrap();
            self
        }
        fn id(mut self, arn: &str, id: &str) -> Want {
            assert!(self.0.set_principal_id(arn, id));
            self
        }
    }

    fn entry(arn: &str, username: &str, g: &[&str]) -> CurrentEntry {
        CurrentEntry {
            principal_arn: arn.to_owned(),
            entry_type: STANDARD.to_owned(),
            username: Some(username.to_owned()),
            groups: groups(g),
            ..CurrentEntry::default()
        }
    }

    impl CurrentEntry {
        fn managed(mut self) -> CurrentEntry {
            self.tags
                .insert(MANAGED_TAG.to_owned(), MANAGED_VALUE.to_owned());
            self
        }
        fn with(mut self, policy: Policy) -> CurrentEntry {
            self.policies.push(policy);
            self
        }
        fn id(mut self, id: &str) -> CurrentEntry {
            self.tags.insert(PRINCIPAL_ID_TAG.to_owned(), id.to_owned());
            self
        }
        fn node(mut self) -> CurrentEntry {
            self.entry_type = EC2_LINUX.to_owned();
            self.username = Some("system:node:{{EC2PrivateDNSName}}".to_owned());
            self.groups.clear();
            self
        }
    }

    fn plan_with(current: &[CurrentEntry], want: &Want, protected: &[String]) -> AccessPlan {
        plan(&AccessPlanRequest {
            current,
            desired: &want.0,
            cluster_account: Some(ACCOUNT),
            guards: GuardSettings::default(),
            protected,
        })
    }

    fn kinds(plan: &AccessPlan) -> Vec<(ChangeKind, &str)> {
        plan.changes
            .iter()
            .map(|c| (c.kind, c.principal_arn.as_str()))
            .collect()
    }

    fn guards_of(plan: &AccessPlan) -> Vec<Guard> {
        plan.refusals.iter().map(|r| r.guard).collect()
    }

    #[test]
    fn system_masters_becomes_the_cluster_admin_policy_at_cluster_scope() {
        let t = translate(
            &Want::new()
                .user(ALICE, "alice", &["system:masters", "devs"])
                .0,
            Some(ACCOUNT),
        );
        let e = &t.entries[&ALICE.to_ascii_lowercase()];
        assert_eq!(e.entry_type, STANDARD);
        assert_eq!(e.groups, groups(&["devs"]));
        assert_eq!(e.policies, vec![admin()]);
        assert_eq!(e.username.as_deref(), Some("alice"));
    }

    #[test]
    fn other_system_groups_are_skipped_per_entry_and_never_sent() {
        let t = translate(
            &Want::new()
                .user(ALICE, "alice", &["system:bootstrappers"])
                .user(BOB, "bob", &["devs"])
                .0,
            Some(ACCOUNT),
        );
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.skipped.len(), 1);
        assert_eq!(t.skipped[0].key, ALICE);
        assert!(t.skipped[0].reason.contains("system:bootstrappers"));
    }

    #[test]
    fn reserved_username_prefixes_are_skipped() {
        for prefix in RESERVED_USERNAME_PREFIXES {
            let t = translate(
                &Want::new()
                    .user(ALICE, &format!("{prefix}alice"), &["devs"])
                    .0,
                Some(ACCOUNT),
            );
            assert!(t.entries.is_empty(), "{prefix}");
            assert!(t.skipped[0].reason.contains(prefix), "{:?}", t.skipped);
        }
    }

    #[test]
    fn node_roles_become_ec2_linux_entries_without_username_groups_or_policies() {
        let t = translate(
            &Want::new()
                .role(
                    NODES_ROLE,
                    "system:node:{{EC2PrivateDNSName}}",
                    &["system:bootstrappers", "system:nodes"],
                )
                .0,
            Some(ACCOUNT),
        );
        let e = &t.entries[&NODES_ROLE.to_ascii_lowercase()];
        assert_eq!(e.entry_type, EC2_LINUX);
        assert_eq!(e.username, None);
        assert!(e.groups.is_empty() && e.policies.is_empty());
    }

    #[test]
    fn node_entries_need_a_role_of_the_cluster_account() {
        let other = "arn:aws:iam::999999999999:role/nodes";
        let t = translate(
            &Want::new()
                .user(ALICE, "alice", &["system:nodes"])
                .role(
                    other,
                    "system:node:{{EC2PrivateDNSName}}",
                    &["system:nodes"],
                )
                .0,
            Some(ACCOUNT),
        );
        assert!(t.entries.is_empty());
        assert_eq!(t.skipped.len(), 2);
        assert!(
            t.skipped
                .iter()
                .any(|s| s.reason.contains("only an IAM role"))
        );
        assert!(t.skipped.iter().any(|s| s.reason.contains("999999999999")));
    }

    #[test]
    fn role_arns_keep_their_path_and_are_matched_without_it() {
        let want = Want::new().role(DEPLOY, "deployer", &["deployers"]);
        let t = translate(&want.0, Some(ACCOUNT));
        let e = &t.entries["arn:aws:iam::111122223333:role/deployer"];
        assert_eq!(e.principal_arn, DEPLOY);
        // An existing managed entry written without the path is the same principal.
        let current = [entry(
            "arn:aws:iam::111122223333:role/deployer",
            "deployer",
            &["deployers"],
        )
        .managed()];
        assert!(!plan_with(&current, &want, &[]).has_changes());
    }

    #[test]
    fn accounts_have_no_equivalent_and_are_reported() {
        let mut set = DesiredSet::default();
        set.add_account("accounts", ACCOUNT, "configured").unwrap();
        let t = translate(&set, Some(ACCOUNT));
        assert_eq!(t.skipped[0].key, ACCOUNT);
        assert!(t.skipped[0].reason.contains("mapAccounts"));
    }

    #[test]
    fn a_new_entry_is_created_tagged_then_its_policy_associated() {
        let p = plan_with(
            &[],
            &Want::new()
                .user(ALICE, "alice", &["system:masters"])
                .id(ALICE, "AIDAALICE"),
            &[],
        );
        assert_eq!(kinds(&p), [(ChangeKind::Create, ALICE)]);
        let ops = p.operations();
        let Operation::Create { tags, username, .. } = ops[0] else {
            panic!("{ops:?}")
        };
        assert_eq!(tags[MANAGED_TAG], MANAGED_VALUE);
        assert_eq!(tags[PRINCIPAL_ID_TAG], "AIDAALICE");
        assert_eq!(username.as_deref(), Some("alice"));
        assert_eq!(
            ops[1],
            &Operation::Associate {
                principal_arn: ALICE.to_owned(),
                policy: admin()
            }
        );
        assert!(p.describe().starts_with("+ access entry arn:aws:iam::111122223333:user/alice  type=STANDARD username=alice policies=[AmazonEKSClusterAdminPolicy (cluster)]"), "{}", p.describe());
    }

    #[test]
    fn steady_state_plans_nothing() {
        let current = [entry(ALICE, "alice", &["devs"]).managed().with(admin())];
        let p = plan_with(
            &current,
            &Want::new().user(ALICE, "alice", &["system:masters", "devs"]),
            &[],
        );
        assert!(!p.has_changes() && !p.is_refused(), "{}", p.describe());
        assert!(p.operations().is_empty());
        assert!(p.describe().starts_with("No changes"));
    }

    #[test]
    fn username_and_groups_are_updated_in_place() {
        let current = [
            entry(ALICE, "old", &["devs"]).managed(),
            entry(BOB, "bob", &["a"]).managed(),
        ];
        let want = Want::new()
            .user(ALICE, "alice", &["devs"])
            .user(BOB, "bob", &["a", "b"]);
        let p = plan_with(&current, &want, &[]);
        assert_eq!(
            kinds(&p),
            [(ChangeKind::Update, ALICE), (ChangeKind::Update, BOB)]
        );
        assert!(p.changes[0].reason.contains("username old → alice"));
        assert!(p.changes[1].reason.contains("groups [a] → [a, b]"));
        assert_eq!(
            p.operations()[1],
            &Operation::Update {
                principal_arn: BOB.to_owned(),
                username: Some("bob".to_owned()),
                groups: groups(&["a", "b"])
            }
        );
    }

    #[test]
    fn unmanaged_entries_are_never_changed_or_deleted() {
        let current = [
            entry(ALICE, "hand-written", &["x"]),
            entry(BOB, "bob", &[]).with(admin()),
        ];
        let p = plan_with(&current, &Want::new().user(ALICE, "alice", &["devs"]), &[]);
        assert!(!p.has_changes(), "{}", p.describe());
        assert_eq!(p.skipped[0].key, ALICE);
        assert!(p.warnings[0].contains("collides with unmanaged"));
    }

    #[test]
    fn managed_entries_no_longer_desired_are_deleted_after_creates() {
        let current = [entry(BOB, "bob", &["devs"]).managed()];
        let p = plan_with(&current, &Want::new().user(ALICE, "alice", &["devs"]), &[]);
        assert_eq!(
            kinds(&p),
            [(ChangeKind::Create, ALICE), (ChangeKind::Delete, BOB)]
        );
        assert!(
            p.describe()
                .contains("- access entry arn:aws:iam::111122223333:user/bob")
        );
    }

    #[test]
    fn a_type_change_is_a_delete_then_a_create() {
        let current = [entry(NODES_ROLE, "nodes", &["devs"]).managed()];
        let want = Want::new().role(
            NODES_ROLE,
            "system:node:{{EC2PrivateDNSName}}",
            &["system:nodes"],
        );
        let p = plan_with(&current, &want, &[]);
        assert_eq!(kinds(&p), [(ChangeKind::Recreate, NODES_ROLE)]);
        let ops = p.operations();
        assert_eq!(ops[0].name(), "DeleteAccessEntry");
        assert!(matches!(ops[1], Operation::Create { entry_type, .. } if entry_type == EC2_LINUX));
        assert!(p.changes[0].reason.contains("type STANDARD → EC2_LINUX"));
    }

    #[test]
    fn a_recreated_principal_gets_its_entry_recreated() {
        let current = [entry(ALICE, "alice", &["devs"]).managed().id("AIDAOLD")];
        let want = Want::new()
            .user(ALICE, "alice", &["devs"])
            .id(ALICE, "AIDANEW");
        let p = plan_with(&current, &want, &[]);
        assert_eq!(kinds(&p), [(ChangeKind::Recreate, ALICE)]);
        assert!(p.changes[0].reason.contains("AIDAOLD → AIDANEW"));
        let Operation::Create { tags, .. } = p.operations()[1] else {
            panic!()
        };
        assert_eq!(tags[PRINCIPAL_ID_TAG], "AIDANEW");
        // Same id, or an entry that never recorded one: nothing to do.
        let same = Want::new()
            .user(ALICE, "alice", &["devs"])
            .id(ALICE, "AIDAOLD");
        assert!(!plan_with(&current, &same, &[]).has_changes());
        let untagged = [entry(ALICE, "alice", &["devs"]).managed()];
        assert!(!plan_with(&untagged, &want, &[]).has_changes());
    }

    #[test]
    fn policies_associated_by_hand_are_left_alone_owned_ones_follow_the_config() {
        // A hand-associated view policy stays; the admin policy the config no longer lists goes.
        let current = [
            entry(ALICE, "alice", &["devs"])
                .managed()
                .with(view_policy())
                .with(admin()),
            entry(ME, "me", &[]).with(admin()),
        ];
        let p = plan_with(&current, &Want::new().user(ALICE, "alice", &["devs"]), &[]);
        assert_eq!(
            p.operations(),
            [&Operation::Disassociate {
                principal_arn: ALICE.to_owned(),
                policy_arn: admin().policy_arn
            }]
        );
        assert!(
            p.changes[0]
                .after
                .as_ref()
                .unwrap()
                .policies
                .contains(&view_policy())
        );
        // The config lists the admin policy: a hand-narrowed scope is put back to cluster.
        let narrowed = Policy {
            scope: Scope::Namespaces(vec!["dev".to_owned()]),
            ..admin()
        };
        let current = [entry(ALICE, "alice", &[])
            .managed()
            .with(narrowed)
            .with(view_policy())];
        let p = plan_with(
            &current,
            &Want::new().user(ALICE, "alice", &["system:masters"]),
            &[],
        );
        assert_eq!(
            p.operations(),
            [&Operation::Associate {
                principal_arn: ALICE.to_owned(),
                policy: admin()
            }]
        );
        assert!(
            p.changes[0]
                .reason
                .contains("scope namespaces dev → cluster")
        );
    }

    #[test]
    fn guard_last_cluster_admin() {
        let current = [entry(ALICE, "alice", &[]).managed().with(admin())];
        let p = plan_with(&current, &Want::new().user(ALICE, "alice", &["devs"]), &[]);
        assert_eq!(guards_of(&p), [Guard::LastClusterAdmin]);
        assert!(p.operations().is_empty());
        // An unmanaged admin elsewhere keeps the cluster administrable.
        let current = [
            entry(ALICE, "alice", &[]).managed().with(admin()),
            entry(ME, "me", &[]).with(admin()),
        ];
        let p = plan_with(&current, &Want::new().user(ALICE, "alice", &["devs"]), &[]);
        assert!(!p.is_refused(), "{}", p.describe());
    }

    #[test]
    fn guard_protected_principal_keeps_its_entry_and_admin() {
        let protected = [ME.to_owned()];
        let other_admin = entry(ALICE, "alice", &[]).with(admin());
        let current = [
            entry(ME, "me", &[]).managed().with(admin()),
            other_admin.clone(),
        ];
        let gone = plan_with(&current, &Want::new(), &protected);
        assert_eq!(guards_of(&gone), [Guard::ProtectedPrincipal]);
        assert!(
            gone.refusals[0]
                .message
                .contains("would lose its access entry")
        );
        let demoted = plan_with(&current, &Want::new().role(ME, "me", &["devs"]), &protected);
        assert_eq!(guards_of(&demoted), [Guard::ProtectedPrincipal]);
        assert!(
            demoted.refusals[0]
                .message
                .contains("would lose AmazonEKSClusterAdminPolicy")
        );
    }

    #[test]
    fn guard_node_role() {
        let current = [
            entry(NODES_ROLE, "", &[]).managed().node(),
            entry(ALICE, "alice", &[]).with(admin()),
        ];
        let p = plan_with(&current, &Want::new(), &[]);
        assert_eq!(guards_of(&p), [Guard::NodeRole]);
    }

    #[test]
    fn guard_mass_removal_and_its_override() {
        let users: Vec<String> = (0..4)
            .map(|i| format!("arn:aws:iam::111122223333:user/u{i}"))
            .collect();
        let current: Vec<CurrentEntry> = users
            .iter()
            .map(|u| entry(u, "u", &["devs"]).managed())
            .collect();
        let want = Want::new().user(&users[0], "u", &["devs"]);
        let p = plan_with(&current, &want, &[]);
        assert_eq!(guards_of(&p), [Guard::MassRemoval]);
        assert!(p.refusals[0].message.contains("3 of 4"));
        let allowed = plan(&AccessPlanRequest {
            current: &current,
            desired: &want.0,
            cluster_account: Some(ACCOUNT),
            guards: GuardSettings {
                allow_mass_removal: true,
                ..GuardSettings::default()
            },
            protected: &[],
        });
        assert!(!allowed.is_refused());
        assert_eq!(allowed.operations().len(), 3);
    }

    #[test]
    fn guard_ambiguous_entries_refuse_rather_than_guess() {
        let current = [
            entry("arn:aws:iam::111122223333:role/deployer", "d", &[]).managed(),
            entry(DEPLOY, "d", &[]),
        ];
        let p = plan_with(&current, &Want::new().role(DEPLOY, "deployer", &[]), &[]);
        assert_eq!(guards_of(&p), [Guard::Ambiguous]);
        assert!(
            p.describe()
                .contains("refused by guard `ambiguous-entries`")
        );
    }

    #[test]
    fn migration_removes_only_moved_managed_aws_auth_entries_keeping_the_rest_byte_for_byte() {
        let users = "# hand-written first\n- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob   # keep me\n  groups: [x]\n- userarn: arn:aws:iam::111122223333:user/alice\n  username: alice\n  groups: [system:masters]\n  managedBy: eks-iam-sync\n- userarn: arn:aws:iam::111122223333:user/carol\n  username: carol\n  groups: [system:bootstrappers]\n  managedBy: eks-iam-sync\n";
        let current = ConfigMapData {
            data: BTreeMap::from([("mapUsers".to_owned(), users.to_owned())]),
            annotations: BTreeMap::new(),
        };
        let aws_auth = AwsAuth::read(&current).unwrap();
        let ownership = OwnershipRules::default();
        let (desired, warnings) = managed_aws_auth(&aws_auth, &ownership);
        assert!(warnings.is_empty());
        assert_eq!(desired.len(), 2);
        let moved = BTreeSet::from([ALICE.to_ascii_lowercase()]);
        let written = aws_auth_without(&current, &aws_auth, &ownership, &moved)
            .unwrap()
            .unwrap();
        let text = &written.data["mapUsers"];
        assert!(text.starts_with("# hand-written first\n- userarn: arn:aws:iam::111122223333:user/bob\n  username: bob   # keep me\n"), "{text}");
        assert!(
            !text.contains("user/alice") && text.contains("user/carol"),
            "{text}"
        );
        assert!(written.annotations[LEDGER_ANNOTATION].contains("carol"));
        assert!(!written.annotations[LEDGER_ANNOTATION].contains("alice"));
        let none = BTreeSet::new();
        assert_eq!(
            aws_auth_without(&current, &aws_auth, &ownership, &none),
            Ok(None)
        );
    }

    #[test]
    fn migration_moves_what_translates_lists_the_rest_and_deletes_nothing() {
        let want = Want::new()
            .user(ALICE, "alice", &["system:masters"])
            .user(BOB, "bob", &["devs"])
            .role(DEPLOY, "deployer", &["system:bootstrappers"]);
        let current = [
            entry(BOB, "hand", &[]),
            entry(ME, "me", &[]).managed().with(admin()),
        ];
        let m = plan_migration(&AccessPlanRequest {
            current: &current,
            desired: &want.0,
            cluster_account: Some(ACCOUNT),
            guards: GuardSettings::default(),
            protected: &[],
        });
        assert_eq!(
            m.moving.iter().collect::<Vec<_>>(),
            [&ALICE.to_ascii_lowercase()]
        );
        assert_eq!(kinds(&m.access), [(ChangeKind::Create, ALICE)]);
        let cannot: Vec<&str> = m.cannot_move.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(cannot, [DEPLOY, BOB]);
        assert!(
            m.describe().contains(
                "cannot move arn:aws:iam::111122223333:user/bob: an unmanaged access entry"
            )
        );
        let after = [entry(ALICE, "alice", &[]).managed().with(admin())];
        let t = translate(&want.0, Some(ACCOUNT));
        let key = ALICE.to_ascii_lowercase();
        assert!(verified(&after, &key, &t.entries[&key]));
        assert!(!verified(
            &[entry(ALICE, "alice", &[]).managed()],
            &key,
            &t.entries[&key]
        ));
    }
}
