//! Moving a cluster's managed aws-auth entries to access entries (`migrate`): the plan
//! (additive: access entries are created, nothing is deleted), the check that an entry now
//! in EKS carries what was wanted, and aws-auth without the entries that moved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::model::{CurrentEntry, DesiredEntry, EntrySkip, EntryView};
use super::plan::{
    AccessPlan, AccessPlanRequest, EntryWrites, entry_limit_refusal, plan_entries, proposal,
};
use super::translate::translate;
use crate::core::aws_auth::emit::{EmitError, rewrite};
use crate::core::aws_auth::{
    AwsAuth, ConfigMapData, ItemValue, LEDGER_ANNOTATION, Ledger, OwnershipRules, SectionName,
};
use crate::core::desired::DesiredSet;
use crate::core::guards::{self, Phrasing};
use crate::core::names::principal_key;

/// Moving a cluster's managed aws-auth entries to access entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationPlan {
    /// Access entries to create or bring in line (additive: nothing is deleted).
    pub access: AccessPlan,
    /// Canonical ARNs (lowercase) of the aws-auth mappings that move: removed from aws-auth
    /// once their access entries are verified.
    pub moving: BTreeSet<String>,
    /// What cannot move, and why (stays in aws-auth).
    pub cannot_move: Vec<EntrySkip>,
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
            plan.cannot_move.push(EntrySkip {
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
    plan_entries(
        request.current,
        &movable,
        EntryWrites::Additive,
        &mut access,
    );
    if access.has_changes() {
        let proposal = proposal(request.current, &access.changes);
        access.refusals.extend(guards::check(
            &proposal.proposed(Phrasing::AccessEntries),
            &request.guards,
            request.protected,
        ));
    }
    access
        .refusals
        .extend(entry_limit_refusal(request.current.len(), &access.changes));
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
            if let Err(e) = set.add_aws_auth_entry(name, &place, value, &reason) {
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
