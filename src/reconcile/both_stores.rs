//! A cluster whose authentication mode reads both stores (`API_AND_CONFIG_MAP`): the whole
//! desired set → IAM unique ids → aws-auth and the access entries read → one plan over both
//! ([`crate::core::effective::both`]) → the granting store written first, then the other
//! one's updates and removals. A conflict on aws-auth (409) re-runs the whole read → plan →
//! write; access entries already written are then found in place and not written again.
//!
//! Nothing is written in a dry run or when anything refuses; the report lists each entry under
//! its store and the grants EKS shadows.

use std::sync::Arc;

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryStore};
use crate::core::access_entries::hold_back::{OtherStore, Release, Verdict};
use crate::core::access_entries::{AccessPlanRequest, CurrentEntry};
use crate::core::aws_auth::plan::{PlanRequest, Writes, plan_writes};
use crate::core::desired::DesiredSet;
use crate::core::effective::Store;
use crate::core::effective::both::{BothPlan, BothRequest, plan_both};
use crate::core::guards::AccessView;
use crate::core::names::account_of;
use crate::kubernetes::{AwsAuthStore, KubeError};

use super::access_entries::{log_access_plan, read_entries, record_results};
use super::apply::{apply_despite_refusal, apply_entries, apply_removals};
use super::aws_auth::{Retryable, kube_retryable, retry_conflicts, write_aws_auth};
use super::report::{ApiCalls, ClusterReport, Outcome};
use super::{ClusterError, ClusterRun, Reconciler};

impl Retryable for ClusterError {
    fn is_retryable(&self) -> bool {
        matches!(self, ClusterError::Kube(e) | ClusterError::AwsAuthUnreadable(e) if kube_retryable(e))
    }
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
        let Some((mut desired, mut warnings)) = run.desired.whole(self, cluster, report).await?
        else {
            return Ok(Outcome::Deferred);
        };
        self.resolve_ids(cluster, &mut desired, &mut warnings)
            .await?;
        let (aws_auth, kube_calls) = self.connect_aws_auth(run.cluster, run.info).await?;
        let entry_calls = Arc::new(AccessEntryCalls::default());
        let entries = AccessEntryStore::new(
            self.eks.client_for(cluster),
            &cluster.name,
            entry_calls.clone(),
        );
        let stores = Stores {
            aws_auth: &aws_auth,
            entries: &entries,
        };
        let result = retry_conflicts(&cluster.name, report, async |report| {
            self.attempt_both(stores, run, grants, &desired, report)
                .await
        })
        .await;
        // aws-auth stayed unreadable through the retries: the access entries' safe
        // revocations still happen (also after a 5xx storm: that is when one must not wait).
        let result = match result {
            Err(ClusterError::AwsAuthUnreadable(error)) => Err(self
                .revoke_without_aws_auth(&entries, run, grants, &desired, report, error)
                .await),
            other => other,
        };
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
        stores: Stores<'_>,
        run: ClusterRun<'_>,
        grants: Store,
        desired: &DesiredSet,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        // One store unreadable: the other one's safe revocations still happen (`unreadable`).
        let stored = match stores.aws_auth.get().await {
            Ok(stored) => stored,
            Err(error) => return Err(ClusterError::AwsAuthUnreadable(error)),
        };
        let mut current_entries = match read_entries(stores.entries, desired, run.protected).await {
            Ok(current) => current,
            Err(error) => {
                let stored = stored.as_ref();
                return Err(self
                    .revoke_without_entries(stores.aws_auth, stored, run, desired, report, error)
                    .await);
            }
        };
        let guards = self.guards();
        let aws_auth_request = PlanRequest {
            current: stored.as_ref().map(|s| &s.content),
            desired,
            guards,
            protected: run.protected,
            ownership: &self.ownership,
        };
        let make = |current_entries: &[CurrentEntry]| {
            plan_both(&BothRequest {
                grants,
                aws_auth: aws_auth_request,
                access_entries: AccessPlanRequest {
                    current: current_entries,
                    desired,
                    cluster_account: account_of(&run.info.arn),
                    guards,
                    protected: run.protected,
                },
            })
        };
        if run.review {
            stores
                .entries
                .read_unread_policies(&mut current_entries)
                .await?;
        }
        if let Some(review) = report.review_read.as_mut() {
            review.aws_auth = Some(stored.as_ref().map(|s| s.content.clone()));
            review.entries = Some(current_entries.clone());
            review.desired = Some(desired.clone());
        }
        let mut plan = make(&current_entries);
        if plan.needs_every_policy(&current_entries) {
            stores
                .entries
                .read_unread_policies(&mut current_entries)
                .await?;
            plan = make(&current_entries);
        }
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
            current: &current_entries,
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
            let removals = plan_writes(&aws_auth_request, Writes::RemovalsOnly);
            report.keep_aws_auth_changes(&removals);
            if let Some(write) = &removals.write {
                write_aws_auth(stores.aws_auth, stored.as_ref(), write, report).await?;
            }
            return Err(error.into());
        }
        let mut written = false;
        let aws_auth_write = plan.aws_auth.write.as_ref();
        let put_aws_auth = async |report: &mut ClusterReport| -> Result<bool, KubeError> {
            let Some(write) = aws_auth_write else {
                return Ok(false);
            };
            write_aws_auth(stores.aws_auth, stored.as_ref(), write, report).await?;
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
struct Stores<'a> {
    aws_auth: &'a AwsAuthStore,
    entries: &'a AccessEntryStore,
}
