//! The access-entries planner: the translated desired set compared with a cluster's current
//! entries → the changes (with their EKS calls, creates before deletes), skips, warnings and
//! refusals. The guards are [`crate::core::guards`]'; this module only tells them what each
//! principal holds before and after, and refuses ambiguous entries itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{
    CurrentEntry, DesiredEntry, EntryChange, EntryChangeKind, EntrySkip, EntryView, MANAGED_TAG,
    MANAGED_VALUE, MAX_ACCESS_ENTRIES, Operation, PRINCIPAL_ID_TAG, STANDARD, Scope,
    is_cluster_admin, policy_name,
};
use super::translate::translate;
use crate::core::desired::DesiredSet;
use crate::core::guards::{
    self, AccessView, Guard, GuardSettings, Holding, Phrasing, Refusal, StoreProposal,
};
use crate::core::names::principal_key;

/// The planner's answer for one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPlan {
    /// Creates first, then updates and recreates, then deletes: access is granted before
    /// any is taken away.
    pub changes: Vec<EntryChange>,
    pub skipped: Vec<EntrySkip>,
    pub warnings: Vec<String>,
    pub refusals: Vec<Refusal>,
    /// Entries that carry one of our two tags without the other (reported every run by
    /// name; see the README "Ownership of access entries").
    pub partly_tagged: Vec<String>,
}

impl AccessPlan {
    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Whether this plan must be made again with every entry's policies read: the
    /// last-cluster-admin guard refused it while some entry's policies were not read (one of
    /// them may hold the admin policy that makes the write safe).
    pub fn needs_every_policy(&self, current: &[CurrentEntry]) -> bool {
        refused_for_want_of_policies(&self.refusals, current)
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
                EntryChangeKind::Create => ('+', change.after.as_ref()),
                EntryChangeKind::Delete => ('-', change.before.as_ref()),
                EntryChangeKind::Update | EntryChangeKind::Recreate => ('~', change.after.as_ref()),
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
    let (mut plan, proposal) = plan_unguarded(request, EntryWrites::Sync);
    if plan.has_changes() {
        plan.refusals.extend(guards::check(
            &proposal.proposed(Phrasing::AccessEntries),
            &request.guards,
            request.protected,
        ));
    }
    plan
}

/// Which desired entries a plan writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryWrites {
    /// The store grants: desired entries are created, updated, and the others deleted.
    Sync,
    /// Migration: desired entries are created and updated; nothing is deleted.
    Additive,
    /// EKS reads the store besides the one that grants: managed entries are updated and
    /// deleted like [`EntryWrites::Sync`]'s, but nothing is created (see [`crate::core::effective`]).
    ExistingOnly,
}

/// Plans one run without the guards: the plan, and the write as the guards see it.
pub fn plan_unguarded(
    request: &AccessPlanRequest<'_>,
    writes: EntryWrites,
) -> (AccessPlan, StoreProposal) {
    let translation = translate(request.desired, request.cluster_account);
    let mut plan = AccessPlan::default();
    if writes != EntryWrites::ExistingOnly {
        plan.skipped = translation.skipped.clone();
        plan.warnings = request.desired.warnings().to_vec();
    }
    plan_entries(request.current, &translation.entries, writes, &mut plan);
    plan.refusals
        .extend(entry_limit_refusal(request.current.len(), &plan.changes));
    let proposal = proposal(request.current, &plan.changes);
    (plan, proposal)
}

/// Whether `refusals` include last-cluster-admin while some entry's policies were not read.
pub fn refused_for_want_of_policies(refusals: &[Refusal], current: &[CurrentEntry]) -> bool {
    refusals.iter().any(|r| r.guard == Guard::LastClusterAdmin)
        && current.iter().any(|e| e.policies_unread)
}

/// EKS's quota guard: a plan that would take the cluster past [`MAX_ACCESS_ENTRIES`] is
/// refused (EKS would reject the creates past it halfway through the run), naming the count.
pub(super) fn entry_limit_refusal(current: usize, changes: &[EntryChange]) -> Option<Refusal> {
    let created = changes
        .iter()
        .filter(|c| c.kind == EntryChangeKind::Create)
        .count();
    let deleted = changes
        .iter()
        .filter(|c| c.kind == EntryChangeKind::Delete)
        .count();
    let after = (current + created).saturating_sub(deleted);
    (created > 0 && after > MAX_ACCESS_ENTRIES).then(|| Refusal {
        guard: Guard::SizeLimit,
        message: format!(
            "the plan would take the cluster to {after} access entries ({current} now, {created} to create, {deleted} to delete); EKS allows at most {MAX_ACCESS_ENTRIES} per cluster"
        ),
    })
}

/// The shared planner.
pub(super) fn plan_entries(
    current: &[CurrentEntry],
    desired: &BTreeMap<String, DesiredEntry>,
    writes: EntryWrites,
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
        if writes == EntryWrites::ExistingOnly && !found.is_some_and(CurrentEntry::is_managed) {
            continue; // this store only keeps what it holds
        }
        match found {
            None => creates.push(create_change(
                want,
                want.reason.clone(),
                EntryChangeKind::Create,
            )),
            Some(entry) if !entry.is_managed() => {
                plan.skipped.push(EntrySkip {
                    key: want.principal_arn.clone(),
                    reason: format!(
                        "an unmanaged access entry ({}) already exists for this principal; it is left as it is",
                        entry.principal_arn
                    ),
                });
                // EKS tags can be removed after creation: an entry of ours that lost its tag
                // looks like this one, so it is reported on every run until someone acts.
                let lost_tag = if entry.tags.contains_key(PRINCIPAL_ID_TAG) {
                    format!(
                        " (it carries {PRINCIPAL_ID_TAG} but not {MANAGED_TAG}={MANAGED_VALUE}: eks-iam-sync created it and its tag was removed; tag it again to manage it, or delete it)"
                    )
                } else {
                    String::new()
                };
                plan.warnings.push(format!(
                    "desired access entry {} ({}) collides with unmanaged entry {}; left as it is{lost_tag}",
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
    for (key, entries) in &by_key {
        for entry in entries
            .iter()
            .filter(|e| partly_tagged(e, desired.get(key)))
        {
            plan.partly_tagged.push(entry.principal_arn.clone());
            if entry.is_managed() {
                plan.warnings.push(format!(
                    "access entry {} carries {MANAGED_TAG}={MANAGED_VALUE} but not {PRINCIPAL_ID_TAG}: it is managed, but a deleted and recreated principal cannot be told apart; tag it with its IAM unique id",
                    entry.principal_arn
                ));
            } else if !desired.contains_key(key) {
                plan.warnings.push(format!(
                    "access entry {} carries {PRINCIPAL_ID_TAG} but not {MANAGED_TAG}={MANAGED_VALUE}, and IAM no longer grants this principal access: eks-iam-sync created it, its tag was removed, so it is left in place; delete it, or tag it {MANAGED_TAG}={MANAGED_VALUE} again so the next run revokes it",
                    entry.principal_arn
                ));
            }
        }
    }
    if writes != EntryWrites::Additive {
        for (key, entries) in &by_key {
            for entry in entries.iter().filter(|e| e.is_managed()) {
                if !desired.contains_key(key) {
                    deletes.push(EntryChange {
                        kind: EntryChangeKind::Delete,
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
}

/// An entry that carries one of our two tags without the other: the principal-id tag without
/// the managed tag (ours once, its tag removed: a Terraform import with `tags = {}`), or the
/// managed tag without the principal-id tag on an entry whose principal's id we know.
fn partly_tagged(entry: &CurrentEntry, want: Option<&DesiredEntry>) -> bool {
    let has_id = entry.tags.contains_key(PRINCIPAL_ID_TAG);
    match entry.is_managed() {
        false => has_id,
        true => !has_id && want.is_some_and(|w| w.principal_id.is_some()),
    }
}

fn create_change(want: &DesiredEntry, reason: String, kind: EntryChangeKind) -> EntryChange {
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
    EntryChange {
        kind,
        principal_arn: want.principal_arn.clone(),
        before: None,
        after: Some(EntryView::of_desired(want)),
        reason,
        operations,
    }
}

/// How a managed entry must change to match `want` (`None`: it already does).
fn compare(entry: &CurrentEntry, want: &DesiredEntry) -> Option<EntryChange> {
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
            EntryChangeKind::Recreate,
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
    let (policy_differences, policy_operations) = compare_policies(entry, want);
    differences.extend(policy_differences);
    operations.extend(policy_operations);
    if operations.is_empty() {
        return None;
    }
    let after = EntryView::of_desired(want);
    Some(EntryChange {
        kind: EntryChangeKind::Update,
        principal_arn: entry.principal_arn.clone(),
        before: Some(EntryView::of_current(entry)),
        after: Some(after),
        reason: format!("{} ({})", differences.join("; "), want.reason),
        operations,
    })
}

/// The policy calls that make a managed entry's associated policies exactly `want`'s:
/// associate what is missing, re-scope what changed, disassociate everything else (associated
/// by hand, or no longer configured). With the differences, for the change's reason.
fn compare_policies(entry: &CurrentEntry, want: &DesiredEntry) -> (Vec<String>, Vec<Operation>) {
    let (mut differences, mut operations) = (Vec::new(), Vec::new());
    for policy in &want.policies {
        let name = policy_name(&policy.policy_arn);
        let associate = Operation::Associate {
            principal_arn: entry.principal_arn.clone(),
            policy: policy.clone(),
        };
        match entry
            .policies
            .iter()
            .find(|p| policy_name(&p.policy_arn) == name)
        {
            Some(p) if same_scope(&p.scope, &policy.scope) => {}
            Some(p) => {
                differences.push(format!("{name} scope {} → {}", p.scope, policy.scope));
                operations.push(associate);
            }
            None => {
                differences.push(format!("{name} associated"));
                operations.push(associate);
            }
        }
    }
    for p in &entry.policies {
        let name = policy_name(&p.policy_arn);
        if want
            .policies
            .iter()
            .any(|w| policy_name(&w.policy_arn) == name)
        {
            continue;
        }
        differences.push(format!(
            "{name} ({}) disassociated: not configured for this managed entry (drift reverted)",
            p.scope
        ));
        operations.push(Operation::Disassociate {
            principal_arn: entry.principal_arn.clone(),
            policy_arn: p.policy_arn.clone(),
        });
    }
    (differences, operations)
}

/// Scopes compared as EKS holds them: namespaces as a set.
fn same_scope(a: &Scope, b: &Scope) -> bool {
    match (a, b) {
        (Scope::Namespaces(x), Scope::Namespaces(y)) => {
            let (mut x, mut y) = (x.clone(), y.clone());
            x.sort();
            x.dedup();
            y.sort();
            y.dedup();
            x == y
        }
        _ => a == b,
    }
}

/// What the guards see of the current entries: each principal's last entry.
pub(super) fn view_before(current: &[CurrentEntry]) -> AccessView {
    let mut view = AccessView::default();
    for entry in current {
        let key = principal_key(&entry.principal_arn);
        view.set(
            key.clone(),
            Holding {
                label: key,
                username: entry.username.clone(),
                admin: entry.is_admin(),
                node: entry.entry_type != STANDARD,
            },
        );
    }
    view
}

/// What the guards would see once `changes` are made.
pub(super) fn view_after(mut view: AccessView, changes: &[EntryChange]) -> AccessView {
    for change in changes {
        let key = principal_key(&change.principal_arn);
        match &change.after {
            None => view.remove(&key),
            Some(after) => view.set(
                key.clone(),
                Holding {
                    label: key,
                    username: after.username.clone(),
                    admin: after.policies.iter().any(is_cluster_admin),
                    node: after.entry_type != STANDARD,
                },
            ),
        }
    }
    view
}

/// What the guards see of `changes` to the `current` entries.
pub(crate) fn proposal(current: &[CurrentEntry], changes: &[EntryChange]) -> StoreProposal {
    let before = view_before(current);
    let after = view_after(before.clone(), changes);
    let removed: Vec<String> = changes
        .iter()
        .filter(|c| c.kind == EntryChangeKind::Delete)
        .map(|c| c.principal_arn.clone())
        .collect();
    StoreProposal {
        before,
        after,
        managed_before: current.iter().filter(|e| e.is_managed()).count(),
        removed,
        data_size: None,
    }
}
