//! The access-entries backend for one cluster in a full run (a user event reads only its
//! principal's entry: `one_principal`): the whole desired set → IAM unique ids of
//! configured users and roles (GetUser/GetRole; group members and SSO roles come with
//! theirs) → list and describe the entries → the core's access-entries plan and guards →
//! the calls in plan order. EKS rejecting one entry is reported for that entry (`rejected`);
//! the others go on.
//!
//! Backend selection is the parent module's; `migrate` reuses [`log_access_plan`]. Nothing
//! is written in a dry run or when a guard refuses.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryError, AccessEntryStore};
use crate::core::access_entries::hold_back::Release;
use crate::core::access_entries::{
    self as entries, AccessPlan, AccessPlanRequest, CurrentEntry, EntryChange, principal_key,
};
use crate::core::aws_auth::SectionName;
use crate::core::desired::DesiredSet;
use crate::core::names::account_of;

use super::apply::{Applied, ChangeResult, apply_entries, apply_removals};
use super::entry_memory::{EntryMemory, PlanFacts};
use super::report::{ApiCalls, ClusterReport, Outcome};
use super::{ClusterError, ClusterRun, Reconciler};

impl Reconciler {
    /// One cluster on the access-entries backend: desired set → unique ids → entries →
    /// plan → calls in order (none in a dry run or on a refusal).
    pub(super) async fn reconcile_access_entries(
        &self,
        run: ClusterRun<'_>,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let cluster = run.cluster;
        let Some((mut desired_set, mut warnings)) =
            run.desired.whole(self, cluster, report).await?
        else {
            return Ok(Outcome::Deferred);
        };
        self.resolve_ids(cluster, &mut desired_set, &mut warnings)
            .await?;
        let calls = Arc::new(AccessEntryCalls::default());
        let store =
            AccessEntryStore::new(self.eks.client_for(cluster), &cluster.name, calls.clone());
        let outcome = self.access_attempt(&store, run, &desired_set, report).await;
        finish_report(&calls, warnings, report);
        outcome
    }

    async fn access_attempt(
        &self,
        store: &AccessEntryStore,
        run: ClusterRun<'_>,
        desired: &DesiredSet,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let (info, protected) = (run.info, run.protected);
        report.write_attempts = 1;
        let wanted = wanted_policies(desired, protected);
        let interval = self.settings.drift_repair_interval;
        let mut read = match self
            .entry_memory
            .read(store, &info.name, interval, &wanted)
            .await
        {
            Ok(read) => read,
            Err(e) => {
                self.entry_memory.forget(&info.name);
                return Err(e.into());
            }
        };
        let make = |current: &[CurrentEntry]| {
            entries::plan(&AccessPlanRequest {
                current,
                desired,
                cluster_account: account_of(&info.arn),
                guards: self.guards(),
                protected,
            })
        };
        // No write rests on memory (`EntryMemory::settle`).
        let plan = EntryMemory::settle(store, &mut read, run.review, make, |plan, current| {
            PlanFacts {
                changes: &plan.changes,
                refused: plan.is_refused(),
                takes_from_other_store: false,
                needs_every_policy: plan.needs_every_policy(current),
            }
        })
        .await?;
        report.record_entry_reads(&read, desired);
        let changed: BTreeSet<String> = plan
            .changes
            .iter()
            .map(|c| principal_key(&c.principal_arn))
            .collect();
        let outcome = self
            .carry_out(store, run, &read.current, plan, report)
            .await;
        match &outcome {
            Ok(_) => self.entry_memory.remember(&info.name, &read, &changed),
            Err(_) => self.entry_memory.forget(&info.name),
        }
        outcome
    }

    /// Records, logs and (unless a dry run or a refusal) carries out `plan` on the access
    /// entries of `run`'s cluster, `current` being what was read of them; a full run and a
    /// user event (`one_principal`) alike.
    pub(super) async fn carry_out(
        &self,
        store: &AccessEntryStore,
        run: ClusterRun<'_>,
        current: &[CurrentEntry],
        plan: AccessPlan,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let cluster = &run.cluster.name;
        report.record_access_plan(&plan);
        log_access_plan(cluster, &plan, run.dry_run);
        if plan.is_refused() {
            report.not_applied = plan.changes.len() as u64;
            return Ok(Outcome::Refused);
        }
        if !plan.has_changes() {
            return Ok(Outcome::Unchanged);
        }
        if run.dry_run {
            return Ok(Outcome::Planned);
        }
        let release = Release {
            current,
            changes: &plan.changes,
            progress: &[],
            other: None,
            guards: self.guards(),
            protected: run.protected,
        };
        if let Some(history) = run.history
            && let Err(error) = history.before_grants(report, None).await
        {
            // Grants wait for their record; revocations do not.
            let applied = apply_removals(store, release, &[], &error.to_string()).await;
            record_results(cluster, &plan.changes, &applied, report);
            return Err(match applied.stopped {
                Some(stopped) => stopped.into(),
                None => error.into(),
            });
        }
        let applied = apply_entries(store, release).await;
        record_results(cluster, &plan.changes, &applied, report);
        if let Some(error) = applied.stopped {
            return Err(error.into());
        }
        Ok(if applied.done() > 0 {
            Outcome::Applied
        } else {
            Outcome::Unchanged
        })
    }
}

/// Finishes an access-entries cluster's report: the EKS calls `calls` counted, and the
/// `warnings` found before planning ahead of the plan's own.
pub(super) fn finish_report(
    calls: &AccessEntryCalls,
    mut warnings: Vec<String>,
    report: &mut ClusterReport,
) {
    let (reads, writes) = calls.snapshot();
    report.api_calls = ApiCalls {
        eks_read: reads,
        eks_write: writes,
        ..ApiCalls::default()
    };
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
}

/// The cluster's access entries, with the policies of those a plan needs read: ours, and
/// those of desired principals and of the protected identity. The others are unmanaged entries
/// of principals nobody desires, which a plan never touches (see
/// [`CurrentEntry::policies_unread`]).
pub(super) async fn read_entries(
    store: &AccessEntryStore,
    desired: &DesiredSet,
    protected: &[String],
) -> Result<Vec<CurrentEntry>, AccessEntryError> {
    store.list_for(&wanted_policies(desired, protected)).await
}

/// Whose policies a read needs: ours, and those of desired principals and of the protected
/// identity (see [`read_entries`]).
pub(super) fn wanted_policies(
    desired: &DesiredSet,
    protected: &[String],
) -> impl Fn(&CurrentEntry) -> bool + Sync + use<> {
    let keys: BTreeSet<String> = [SectionName::MapRoles, SectionName::MapUsers]
        .into_iter()
        .flat_map(|section| desired.mappings(section))
        .map(|m| principal_key(&m.arn))
        .chain(protected.iter().map(|p| principal_key(p)))
        .collect();
    move |entry: &CurrentEntry| {
        entry.is_managed() || keys.contains(&principal_key(&entry.principal_arn))
    }
}

/// Records in `report` each change that was not made (failed, held back, not attempted),
/// with why, and counts them in `notApplied`.
pub(super) fn record_results(
    cluster: &str,
    changes: &[EntryChange],
    applied: &Applied,
    report: &mut ClusterReport,
) {
    for (change, result) in changes.iter().zip(&applied.results) {
        let why = match result {
            ChangeResult::Done => continue,
            ChangeResult::Failed(why)
            | ChangeResult::HeldBack(why)
            | ChangeResult::NotAttempted(why) => why.clone(),
        };
        tracing::warn!(cluster = %cluster, key = %change.principal_arn, error = %why, "access entry change not made");
        report.record_rejected(&change.principal_arn, why);
        report.not_applied += 1;
    }
}

/// Logs each planned access-entry change and each guard refusal.
pub(super) fn log_access_plan(cluster: &str, plan: &AccessPlan, dry_run: bool) {
    for change in &plan.changes {
        tracing::info!(cluster = %cluster, kind = ?change.kind, section = "accessEntries", key = %change.principal_arn, reason = %change.reason, dry_run, "access entry change");
    }
    for refusal in &plan.refusals {
        tracing::warn!(cluster = %cluster, guard = %refusal.guard, message = %refusal.message, "write refused by a guard");
    }
}
