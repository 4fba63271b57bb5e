//! A cluster that reads both stores (`API_AND_CONFIG_MAP`) when one of them cannot be read:
//! the other store's revocations that cannot lock anyone out still happen, judged with the
//! unreadable store granting nothing; grants wait; the cluster then fails with the read's
//! error (so the run is retried and alarmed), its report listing what was revoked.
//!
//! - aws-auth unreadable (its GET failed for good): the access entries' removals, released
//!   by [`crate::core::access_entries::hold_back::release_despite_refusal`]. A full run reads
//!   every entry for it; a user event only the user's (the plan then covers that user alone).
//! - access entries unreadable: aws-auth's removals only
//!   ([`crate::core::aws_auth::plan::MappingWrites::RemovalsOnly`]), the guards judging aws-auth alone.
//!
//! Nothing is written in a dry run.

use crate::aws::access_entries::{AccessEntryError, AccessEntryStore};
use crate::core::access_entries::CurrentEntry;
use crate::core::access_entries::hold_back::Release;
use crate::core::access_entries::{self as entries, AccessPlanRequest};
use crate::core::aws_auth::plan::{MappingWrites, PlanRequest, plan_writes};
use crate::core::desired::DesiredSet;
use crate::core::effective::Store;
use crate::core::guards::{Guard, Refusal};
use crate::core::names::account_of;
use crate::kubernetes::{AwsAuthStore, KubeError, StoredAwsAuth};

use super::access_entries::{log_access_plan, read_entries, record_results};
use super::apply::apply_despite_refusal;
use super::aws_auth::write_aws_auth;
use super::both_stores::BothScope;
use super::report::ClusterReport;
use super::{ClusterError, ClusterRun, Reconciler};

impl Reconciler {
    /// aws-auth could not be read (`error`): revoke in the access entries what cannot lock
    /// anyone out, then fail with `error`.
    pub(super) async fn revoke_without_aws_auth(
        &self,
        entries_store: &AccessEntryStore,
        run: ClusterRun<'_>,
        grants: Store,
        scope: &BothScope,
        report: &mut ClusterReport,
        error: KubeError,
    ) -> ClusterError {
        if run.dry_run {
            return error.into();
        }
        // What is planned (`current`) and what the guards judge by (`read`).
        let read: Result<(DesiredSet, Vec<CurrentEntry>, Vec<CurrentEntry>), _> = match scope {
            BothScope::Whole(desired) => read_entries(entries_store, desired, run.protected)
                .await
                .map(|all| (desired.clone(), all.clone(), all)),
            BothScope::Principal { entry, user } => self
                .entries_of_user(entries_store, entry, user, account_of(&run.info.arn))
                .await
                .map(|read| (entry.clone(), read.own.clone(), read.all())),
        };
        let Ok((desired, current, read)) = read else {
            return error.into(); // neither store readable: nothing to judge by
        };
        let desired = &desired;
        let writes = match grants {
            Store::AccessEntries => entries::EntryWrites::Sync,
            Store::AwsAuth => entries::EntryWrites::ExistingOnly,
        };
        let (plan, _) = entries::plan_unguarded(
            &AccessPlanRequest {
                current: &current,
                desired,
                cluster_account: account_of(&run.info.arn),
                guards: self.guards(),
                protected: run.protected,
            },
            writes,
        );
        report.record_access_plan(&plan);
        log_access_plan(&run.cluster.name, &plan, false);
        let unreadable = Refusal {
            guard: Guard::Unparsable,
            message: format!("aws-auth could not be read: {error}"),
        };
        let refusals: Vec<Refusal> = plan.refusals.iter().cloned().chain([unreadable]).collect();
        let applied = apply_despite_refusal(
            entries_store,
            Release {
                current: &read,
                changes: &plan.changes,
                progress: &[],
                other: None,
                guards: self.guards(),
                protected: run.protected,
            },
            &refusals,
        )
        .await;
        record_results(&run.cluster.name, &plan.changes, &applied, report);
        if applied.done() > 0 {
            report.warnings.push(format!(
                "{} access-entry revocation(s) made although aws-auth could not be read: they cannot lock anyone out, even taking aws-auth as granting nothing",
                applied.done()
            ));
        }
        match applied.stopped {
            Some(stopped) => stopped.into(),
            None => error.into(),
        }
    }

    /// The access entries could not be read (`error`): revoke in aws-auth what cannot lock
    /// anyone out (aws-auth judged alone), then fail with `error`.
    pub(super) async fn revoke_without_entries(
        &self,
        aws_auth: &AwsAuthStore,
        stored: Option<&StoredAwsAuth>,
        run: ClusterRun<'_>,
        desired: &DesiredSet,
        report: &mut ClusterReport,
        error: AccessEntryError,
    ) -> ClusterError {
        let plan = plan_writes(
            &PlanRequest {
                current: stored.map(|s| &s.content),
                desired,
                guards: self.guards(),
                protected: run.protected,
                ownership: &self.ownership,
            },
            MappingWrites::RemovalsOnly,
        );
        let (Some(write), false) = (&plan.write, run.dry_run) else {
            return error.into();
        };
        report.record_plan(&plan);
        for change in &plan.changes {
            tracing::info!(cluster = %run.cluster.name, kind = ?change.kind, section = %change.section, key = %change.key, reason = %change.reason, "aws-auth revocation while the access entries cannot be read");
        }
        match write_aws_auth(aws_auth, stored, write, report).await {
            Ok(()) => {
                report.warnings.push(format!(
                    "{} aws-auth revocation(s) made although the access entries could not be read: they cannot lock anyone out, judged on aws-auth alone",
                    plan.changes.len()
                ));
                error.into()
            }
            Err(write_error) => {
                report.not_applied += plan.changes.len() as u64;
                write_error.into()
            }
        }
    }
}
