//! A cluster whose authentication mode reads both stores (`API_AND_CONFIG_MAP`): aws-auth and
//! the access entries read → one plan over both ([`crate::core::effective::both`]) → the
//! granting store written first, then the other one's updates and removals. A conflict on
//! aws-auth (409) re-runs the whole read → plan → write; access entries already written are
//! then found in place and not written again.
//!
//! What is read depends on the run ([`BothScope`]): a full run reads every access entry (a
//! warm instance takes what is not due from its memory, `entry_memory`, and reads again
//! whatever the plan would change); a user event reads aws-auth and that user's own entry
//! only, and more entries only when the guards need another cluster admin
//! (`one_principal`).
//!
//! Nothing is written in a dry run or when anything refuses; the report lists each entry under
//! its store and the grants EKS shadows.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryStore};
use crate::core::access_entries::hold_back::{OtherStore, Release, Verdict};
use crate::core::access_entries::{AccessPlanRequest, CurrentEntry, principal_key};
use crate::core::aws_auth::AwsAuth;
use crate::core::aws_auth::plan::MappingChangeKind;
use crate::core::aws_auth::plan::{MappingWrites, PlanRequest, plan_writes};
use crate::core::desired::DesiredSet;
use crate::core::desired::user_event::{UserFacts, desired_for_user_event};
use crate::core::effective::Store;
use crate::core::effective::both::{
    BothPlan, BothRequest, PrincipalRead, plan_both, plan_both_for_principal,
};
use crate::core::guards::AccessView;
use crate::core::names::account_of;
use crate::kubernetes::{AwsAuthStore, KubeError, StoredAwsAuth};

use super::access_entries::{log_access_plan, record_results, wanted_policies};
use super::apply::{apply_despite_refusal, apply_entries, apply_removals};
use super::aws_auth::{Retryable, kube_retryable, retry_conflicts, write_aws_auth};
use super::desired_source::DesiredSource;
use super::entry_memory::{EntryMemory, PlanFacts};
use super::one_principal::{PrincipalEntries, no_aws_auth};
use super::report::{ApiCalls, ClusterReport, Outcome};
use super::{ClusterError, ClusterRun, Reconciler};

impl Retryable for ClusterError {
    fn is_retryable(&self) -> bool {
        matches!(self, ClusterError::Kube(e) | ClusterError::AwsAuthUnreadable(e) if kube_retryable(e))
    }
}

/// What one run on a both-stores cluster reads and plans.
pub(super) enum BothScope {
    /// A full run: the cluster's whole desired set.
    Whole(DesiredSet),
    /// A user event: that user's desired access entry alone (aws-auth's desired set is its
    /// current managed entries with the user's worked out again, per attempt).
    Principal { entry: DesiredSet, user: UserFacts },
}

impl Reconciler {
    /// One cluster on both stores, granting through `grants`.
    pub(super) async fn reconcile_both_stores(
        &self,
        run: ClusterRun<'_>,
        grants: Store,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let cluster = run.cluster;
        let (scope, mut warnings) = match run.desired {
            DesiredSource::User { user, arn, .. } => {
                let Some((entry, user, warnings)) =
                    self.desired_entry_of(run, user, arn, report).await?
                else {
                    return Ok(Outcome::Deferred);
                };
                (BothScope::Principal { entry, user }, warnings)
            }
            DesiredSource::Full(_) => {
                let Some((mut desired, mut warnings)) =
                    run.desired.whole(self, cluster, report).await?
                else {
                    return Ok(Outcome::Deferred);
                };
                self.resolve_ids(cluster, &mut desired, &mut warnings)
                    .await?;
                (BothScope::Whole(desired), warnings)
            }
        };
        let (aws_auth, kube_calls) = self.connect_aws_auth(run.cluster, run.info).await?;
        let entry_calls = Arc::new(AccessEntryCalls::default());
        let entries = AccessEntryStore::new(
            self.eks.client_for(cluster),
            &cluster.name,
            entry_calls.clone(),
        );
        let stores = StoreClients {
            aws_auth: &aws_auth,
            entries: &entries,
        };
        let result = retry_conflicts(&cluster.name, report, async |report| {
            self.attempt_both(stores, run, grants, &scope, report).await
        })
        .await;
        // aws-auth stayed unreadable through the retries: the access entries' safe
        // revocations still happen (also after a 5xx storm: that is when one must not wait).
        let result = match result {
            Err(ClusterError::AwsAuthUnreadable(error)) => Err(self
                .revoke_without_aws_auth(&entries, run, grants, &scope, report, error)
                .await),
            other => other,
        };
        if result.is_err() {
            self.entry_memory.forget(&cluster.name);
        }
        let (get, put, post) = kube_calls.snapshot();
        let (reads, writes) = entry_calls.snapshot();
        report.api_calls = ApiCalls {
            kube_get: get,
            kube_put: put,
            kube_post: post,
            eks_read: reads,
            eks_write: writes,
        };
        warnings.append(&mut report.warnings);
        report.warnings = warnings;
        if let Err(ClusterError::Kube(KubeError::Unauthorized { .. })) = &result {
            self.eks.forget(cluster);
        }
        result
    }

    /// One read → plan → write attempt over both stores.
    async fn attempt_both(
        &self,
        stores: StoreClients<'_>,
        run: ClusterRun<'_>,
        grants: Store,
        scope: &BothScope,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        // One store unreadable: the other one's safe revocations still happen (`unreadable`).
        let stored = match stores.aws_auth.get().await {
            Ok(stored) => stored,
            Err(error) => return Err(ClusterError::AwsAuthUnreadable(error)),
        };
        let aws_auth_desired = match scope {
            BothScope::Whole(desired) => Cow::Borrowed(desired),
            BothScope::Principal { entry, user } => {
                Cow::Owned(self.aws_auth_desired_for(run, stored.as_ref(), entry, user))
            }
        };
        let aws_auth_request = PlanRequest {
            current: stored.as_ref().map(|s| &s.content),
            desired: &aws_auth_desired,
            guards: self.guards(),
            protected: run.protected,
            ownership: &self.ownership,
        };
        if let Some(review) = report.review_read.as_mut() {
            review.aws_auth = Some(stored.as_ref().map(|s| s.content.clone()));
        }
        let read = match scope {
            BothScope::Whole(desired) => {
                self.plan_whole(stores, run, grants, desired, aws_auth_request, report)
                    .await
            }
            BothScope::Principal { entry, user } => {
                self.plan_principal(stores, run, grants, entry, user, aws_auth_request, report)
                    .await
            }
        };
        let (read, plan) = match read {
            Ok(read) => read,
            Err(ReadError::Entries(error)) => {
                return Err(self
                    .revoke_without_entries(
                        stores.aws_auth,
                        stored.as_ref(),
                        run,
                        &aws_auth_desired,
                        report,
                        error,
                    )
                    .await);
            }
        };
        let changed: BTreeSet<String> = (plan.access_entries.changes.iter())
            .map(|c| principal_key(&c.principal_arn))
            .collect();
        let outcome = self
            .write_both(
                stores,
                run,
                grants,
                aws_auth_request,
                stored.as_ref(),
                read.current(),
                plan,
                report,
            )
            .await;
        if outcome.is_ok()
            && let BothRead::Whole(read) = &read
        {
            self.entry_memory
                .remember(&run.cluster.name, read, &changed);
        }
        outcome
    }

    /// A full run's read and plan: every access entry, a warm instance taking those not due
    /// from its memory. No write rests on memory: what the plan would change is read again,
    /// and a plan that takes admin or node access from anyone (in either store) or is refused
    /// is made again on a fresh read of every entry.
    async fn plan_whole(
        &self,
        stores: StoreClients<'_>,
        run: ClusterRun<'_>,
        grants: Store,
        desired: &DesiredSet,
        aws_auth: PlanRequest<'_>,
        report: &mut ClusterReport,
    ) -> Result<(BothRead, BothPlan), ReadError> {
        let wanted = wanted_policies(desired, run.protected);
        let interval = self.settings.drift_repair_interval;
        let mut read = self
            .entry_memory
            .read(stores.entries, &run.cluster.name, interval, &wanted)
            .await
            .map_err(ReadError::Entries)?;
        let make = |current: &[CurrentEntry]| {
            plan_both(&BothRequest {
                grants,
                aws_auth,
                access_entries: AccessPlanRequest {
                    current,
                    desired,
                    cluster_account: account_of(&run.info.arn),
                    guards: self.guards(),
                    protected: run.protected,
                },
            })
        };
        let plan = EntryMemory::settle(
            stores.entries,
            &mut read,
            run.review,
            make,
            |plan, current| PlanFacts {
                changes: &plan.access_entries.changes,
                refused: plan.is_refused(),
                takes_from_other_store: revokes(plan),
                needs_every_policy: plan.needs_every_policy(current),
            },
        )
        .await?;
        report.record_entry_reads(&read, desired);
        Ok((BothRead::Whole(read), plan))
    }

    /// A user event's read and plan: the user's own entries; then, while the plan changes an
    /// aws-auth mapping of a principal whose entry is not known, that entry (an entry would
    /// win over the mapping); then, while the guards need another cluster admin, aws-auth's
    /// admins' entries and the listed entries one at a time, stopping at the first admin.
    #[allow(clippy::too_many_arguments)]
    async fn plan_principal(
        &self,
        stores: StoreClients<'_>,
        run: ClusterRun<'_>,
        grants: Store,
        entry: &DesiredSet,
        user: &UserFacts,
        aws_auth: PlanRequest<'_>,
        report: &mut ClusterReport,
    ) -> Result<(BothRead, BothPlan), ReadError> {
        let cluster_account = account_of(&run.info.arn);
        let mut read = self
            .entries_of_user(stores.entries, entry, user, cluster_account)
            .await?;
        read.queue_candidates(aws_auth_admins(aws_auth.current));
        let make = |read: &PrincipalEntries| {
            plan_both_for_principal(
                &BothRequest {
                    grants,
                    aws_auth,
                    access_entries: AccessPlanRequest {
                        current: &read.own,
                        desired: entry,
                        cluster_account,
                        guards: self.guards(),
                        protected: run.protected,
                    },
                },
                PrincipalRead {
                    others: &read.others,
                    without_entry: &read.without_entry,
                },
            )
        };
        let mut plan = make(&read);
        loop {
            let unknown: Vec<String> = (plan.aws_auth.changes.iter())
                .map(|c| c.key.clone())
                .filter(|key| key.starts_with("arn:") && !read.knows(key))
                .collect();
            if !unknown.is_empty() {
                for arn in &unknown {
                    read.look_up(stores.entries, arn).await?;
                }
            } else if !(plan.needs_another_admin() && read.describe_next(stores.entries).await?) {
                break;
            }
            plan = make(&read);
        }
        report.entries_read = Some(read.summary());
        tracing::info!(cluster = %run.cluster.name, principal = %read.principal, own = read.own.len(), others = read.others.len(), "user event: access entries read");
        Ok((BothRead::Principal(read.all()), plan))
    }

    /// aws-auth's desired set for a user event: its current managed entries, with the user's
    /// worked out again (from an empty aws-auth when it does not parse: the plan then refuses
    /// to write over it).
    fn aws_auth_desired_for(
        &self,
        run: ClusterRun<'_>,
        stored: Option<&StoredAwsAuth>,
        entry: &DesiredSet,
        user: &UserFacts,
    ) -> DesiredSet {
        let current = stored
            .and_then(|s| AwsAuth::read(&s.content).ok())
            .unwrap_or_else(no_aws_auth);
        let settings = &self.settings;
        let found =
            desired_for_user_event(settings, &run.cluster.name, &current, &self.ownership, user);
        let (desired, _) = found.unwrap_or_else(|| (entry.clone(), Vec::new()));
        desired
    }

    /// Records, logs and (unless a dry run or a refusal) carries out `plan` on both stores:
    /// the granting store first, then the other one's updates and removals.
    #[allow(clippy::too_many_arguments)]
    async fn write_both(
        &self,
        stores: StoreClients<'_>,
        run: ClusterRun<'_>,
        grants: Store,
        aws_auth_request: PlanRequest<'_>,
        stored: Option<&StoredAwsAuth>,
        current_entries: &[CurrentEntry],
        plan: BothPlan,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let guards = self.guards();
        report.record_both(&plan);
        let cluster = &run.cluster.name;
        for change in &plan.aws_auth.changes {
            tracing::info!(cluster = %cluster, kind = ?change.kind, section = %change.section, key = %change.key, reason = %change.reason, dry_run = run.dry_run, "aws-auth change");
        }
        log_access_plan(cluster, &plan.access_entries, run.dry_run);
        for shadowed in &plan.shadowed {
            tracing::info!(cluster = %cluster, shadowed = %shadowed, "grant shadowed by an access entry");
        }
        let release = Release {
            current: current_entries,
            changes: &plan.access_entries.changes,
            progress: &[],
            other: None,
            guards,
            protected: run.protected,
        };
        if plan.is_refused() {
            for refusal in &plan.refusals {
                tracing::warn!(cluster = %cluster, guard = %refusal.guard, message = %refusal.message, "write refused by a guard");
            }
            report.not_applied = plan.aws_auth.changes.len() as u64;
            if run.dry_run || !plan.access_entries.has_changes() {
                report.not_applied += plan.access_entries.changes.len() as u64;
                return Ok(Outcome::Refused);
            }
            // Revocations that cannot lock anyone out still happen; grants wait.
            let applied = apply_despite_refusal(stores.entries, release, &plan.refusals).await;
            record_results(cluster, &plan.access_entries.changes, &applied, report);
            if applied.done() > 0 {
                report.warnings.push(format!(
                    "{} access-entry revocation(s) made although the plan was refused: they cannot lock anyone out, even taking aws-auth as granting nothing",
                    applied.done()
                ));
            }
            if let Some(error) = applied.stopped {
                return Err(error.into());
            }
            return Ok(Outcome::Refused);
        }
        if !plan.has_changes() {
            return Ok(Outcome::Unchanged);
        }
        if run.dry_run {
            return Ok(Outcome::Planned);
        }
        if let Some(history) = run.history
            && let Err(error) = history
                .before_grants(report, plan.aws_auth.write.as_ref())
                .await
        {
            // Grants wait for their record; revocations do not: the access entries' that
            // cannot lock anyone out (aws-auth taken as granting nothing), then aws-auth's
            // (judged on aws-auth alone), as when a store cannot be read.
            let applied = apply_removals(stores.entries, release, &[], &error.to_string()).await;
            record_results(cluster, &plan.access_entries.changes, &applied, report);
            if let Some(stopped) = applied.stopped {
                return Err(stopped.into());
            }
            let removals = plan_writes(&aws_auth_request, MappingWrites::RemovalsOnly);
            report.keep_aws_auth_changes(&removals);
            if let Some(write) = &removals.write {
                write_aws_auth(stores.aws_auth, stored, write, report).await?;
            }
            return Err(error.into());
        }
        let mut written = false;
        let aws_auth_write = plan.aws_auth.write.as_ref();
        let put_aws_auth = async |report: &mut ClusterReport| -> Result<bool, KubeError> {
            let Some(write) = aws_auth_write else {
                return Ok(false);
            };
            write_aws_auth(stores.aws_auth, stored, write, report).await?;
            Ok(true)
        };
        if grants == Store::AwsAuth {
            written |= put_aws_auth(report).await?;
        }
        let mut other_write = Verdict::Run;
        if plan.access_entries.has_changes() {
            // aws-auth parses here (an unparsable one refuses the plan above).
            let nothing = AccessView::default();
            let (before, after) = plan
                .aws_auth_proposal
                .as_ref()
                .map_or((&nothing, &nothing), |p| (&p.before, &p.after));
            let applied = apply_entries(
                stores.entries,
                Release {
                    other: Some(OtherStore { before, after }),
                    ..release
                },
            )
            .await;
            record_results(cluster, &plan.access_entries.changes, &applied, report);
            written |= applied.done() > 0;
            if let Some(error) = applied.stopped {
                report.not_applied += aws_auth_pending(grants, &plan);
                return Err(error.into());
            }
            other_write = applied.other_write;
        }
        if grants == Store::AccessEntries {
            match other_write {
                Verdict::Run => written |= put_aws_auth(report).await?,
                Verdict::HeldBack(why) => {
                    tracing::warn!(cluster = %cluster, why = %why, "aws-auth write held back");
                    report.warnings.push(format!("aws-auth write {why}"));
                    report.not_applied += plan.aws_auth.changes.len() as u64;
                }
            }
        }
        Ok(if written {
            Outcome::Applied
        } else {
            Outcome::Unchanged
        })
    }
}

/// The aws-auth changes not yet written when the run stops in the access entries.
fn aws_auth_pending(grants: Store, plan: &BothPlan) -> u64 {
    match grants {
        Store::AccessEntries => plan.aws_auth.changes.len() as u64,
        Store::AwsAuth => 0,
    }
}

/// The two stores of one cluster.
#[derive(Clone, Copy)]
struct StoreClients<'a> {
    aws_auth: &'a AwsAuthStore,
    entries: &'a AccessEntryStore,
}

/// What a run read of the access entries.
enum BothRead {
    /// A full run's read (remembered after a successful run).
    Whole(super::entry_memory::AmortizedRead),
    /// A user event's: the user's own entries and those read for the guards.
    Principal(Vec<CurrentEntry>),
}

impl BothRead {
    fn current(&self) -> &[CurrentEntry] {
        match self {
            BothRead::Whole(read) => &read.current,
            BothRead::Principal(entries) => entries,
        }
    }
}

/// Why reading the stores for a plan stopped.
enum ReadError {
    /// The access entries could not be read: aws-auth's safe revocations still happen.
    Entries(crate::aws::access_entries::AccessEntryError),
}

impl From<crate::aws::access_entries::AccessEntryError> for ReadError {
    fn from(error: crate::aws::access_entries::AccessEntryError) -> ReadError {
        ReadError::Entries(error)
    }
}

/// Whether the plan takes anything from aws-auth (a mapping removed or changed): the guards
/// then judge it against the access entries, which must be read fresh.
fn revokes(plan: &BothPlan) -> bool {
    plan.aws_auth
        .changes
        .iter()
        .any(|c| c.kind != MappingChangeKind::Add)
}

/// The ARNs aws-auth maps to `system:masters` (as written), where aws-auth parses.
fn aws_auth_admins(content: Option<&crate::core::aws_auth::ConfigMapData>) -> Vec<String> {
    let Some(aws_auth) = content.and_then(|c| AwsAuth::read(c).ok()) else {
        return Vec::new();
    };
    [
        crate::core::aws_auth::SectionName::MapRoles,
        crate::core::aws_auth::SectionName::MapUsers,
    ]
    .into_iter()
    .flat_map(|name| aws_auth.section(name).values().cloned().collect::<Vec<_>>())
    .filter_map(|value| match value {
        crate::core::aws_auth::ItemValue::Mapping(m)
            if m.groups.iter().any(|g| g == crate::core::guards::MASTERS) =>
        {
            Some(m.arn)
        }
        _ => None,
    })
    .collect()
}
