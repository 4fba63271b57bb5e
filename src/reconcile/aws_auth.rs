//! The aws-auth backend for one cluster: token → Kubernetes client trusting the cluster's
//! CA → GET aws-auth → plan with the core's guards, protecting our own identity → PUT with
//! the resourceVersion read, or POST when aws-auth does not exist. On a 409 (or a transient
//! error) the whole read → plan → write attempt runs again with jittered backoff, at most
//! [`WRITE_ATTEMPTS`] times.
//!
//! Backend selection and the run's fan-out are in the parent module; what the desired set is
//! comes from [`super::desired`]. Nothing is written in a dry run or when a guard refuses.

use std::sync::Arc;
use std::time::Duration;

use crate::aws::eks::ClusterInfo;
use crate::core::aws_auth::AwsAuth;
use crate::core::aws_auth::plan::{MappingWrites, PlanRequest, plan, plan_writes};
use crate::core::desired::DesiredSet;
use crate::core::settings::Cluster;
use crate::kubernetes::{AwsAuthStore, KubeCalls, KubeError};

use super::gather::GatherError;
use super::history::HistoryError;
use super::report::{ApiCalls, ClusterReport, Outcome};
use super::{ClusterError, ClusterRun, Reconciler, WRITE_ATTEMPTS, jitter};

/// Why one read → plan → write attempt stopped.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error(transparent)]
    Gather(#[from] GatherError),
    /// The grants' record could not be written (the removals were still made).
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl From<AttemptError> for ClusterError {
    fn from(error: AttemptError) -> ClusterError {
        match error {
            AttemptError::Kube(e) => ClusterError::Kube(e),
            AttemptError::Gather(e) => ClusterError::Gather(e),
            AttemptError::History(e) => ClusterError::History(e),
        }
    }
}

/// An attempt that may be worth making again.
pub(super) trait Retryable: std::fmt::Display {
    /// Someone else wrote aws-auth (409), or the API was busy.
    fn is_retryable(&self) -> bool;
}

/// Someone else wrote aws-auth (409), or the API was busy.
pub(super) fn kube_retryable(error: &KubeError) -> bool {
    matches!(error, KubeError::Conflict { .. }) || error.is_transient()
}

impl Retryable for AttemptError {
    fn is_retryable(&self) -> bool {
        matches!(self, AttemptError::Kube(e) if kube_retryable(e))
    }
}

/// Runs `attempt` (read → plan → write) until it succeeds, fails for good, or
/// [`WRITE_ATTEMPTS`] are made, with jittered exponential backoff; counts the attempts in
/// `report`.
pub(super) async fn retry_conflicts<T, E: Retryable>(
    cluster: &str,
    report: &mut ClusterReport,
    mut attempt: impl AsyncFnMut(&mut ClusterReport) -> Result<T, E>,
) -> Result<T, E> {
    let mut delay = Duration::from_millis(200);
    loop {
        report.write_attempts += 1;
        match attempt(report).await {
            Err(e) if e.is_retryable() && report.write_attempts < WRITE_ATTEMPTS => {
                tracing::info!(cluster = %cluster, attempt = report.write_attempts, error = %e, "retrying after a conflict or a transient error");
                tokio::time::sleep(jitter(delay)).await;
                delay *= 2;
            }
            other => break other,
        }
    }
}

impl Reconciler {
    /// One aws-auth cluster: connect, then read → plan → write, retrying on conflicts. The
    /// Kubernetes call counts go into `report` whatever the outcome, once connected.
    pub(super) async fn reconcile_aws_auth(
        &self,
        run: ClusterRun<'_>,
        report: &mut ClusterReport,
    ) -> Result<Outcome, ClusterError> {
        let cluster = run.cluster;
        let (store, calls) = self.connect_aws_auth(run.cluster, run.info).await?;
        let result = retry_conflicts(&cluster.name, report, async |report| {
            self.attempt(&store, run, report).await
        })
        .await;
        let (get, put, post) = calls.snapshot();
        report.api_calls = ApiCalls {
            kube_get: get,
            kube_put: put,
            kube_post: post,
            ..ApiCalls::default()
        };
        if let Err(AttemptError::Kube(KubeError::Unauthorized { .. })) = &result {
            self.eks.forget(cluster);
        }
        Ok(result?)
    }

    /// A Kubernetes client for the cluster's aws-auth, authenticated with our token; the
    /// counts of its calls.
    pub(super) async fn connect_aws_auth(
        &self,
        cluster: &Cluster,
        info: &ClusterInfo,
    ) -> Result<(AwsAuthStore, Arc<KubeCalls>), ClusterError> {
        let source = self
            .token_source(cluster)
            .await
            .map_err(ClusterError::Signer)?;
        let token = source
            .token(&cluster.name)
            .await
            .map_err(ClusterError::Token)?;
        let calls = Arc::new(KubeCalls::default());
        let store =
            AwsAuthStore::connect(&info.endpoint, &info.ca_pem, token.token(), calls.clone())
                .inspect_err(|_| self.eks.forget(cluster))?;
        Ok((store, calls))
    }

    /// One read → plan → write attempt.
    async fn attempt(
        &self,
        store: &AwsAuthStore,
        run: ClusterRun<'_>,
        report: &mut ClusterReport,
    ) -> Result<Outcome, AttemptError> {
        let (cluster, dry_run) = (run.cluster, run.dry_run);
        let stored = store.get().await?;
        let current = stored.as_ref().map(|s| &s.content);
        if let Some(read) = report.review_read.as_mut() {
            read.aws_auth = Some(current.cloned());
        }
        let empty = Default::default();
        let aws_auth = AwsAuth::read(current.unwrap_or(&empty));
        report.warnings.clear();
        let (desired_set, mut warnings) = match &aws_auth {
            Ok(aws_auth) => {
                match run
                    .desired
                    .aws_auth_set(self, &cluster.name, aws_auth, report)
                    .await?
                {
                    Some(found) => found,
                    None => return Ok(Outcome::Deferred),
                }
            }
            // The planner reports the unparsable content as a refusal.
            Err(_) => (DesiredSet::default(), Vec::new()),
        };
        if let Some(read) = report.review_read.as_mut() {
            read.desired = Some(desired_set.clone());
        }
        let request = PlanRequest {
            current,
            desired: &desired_set,
            guards: self.guards(),
            protected: run.protected,
            ownership: &self.ownership,
        };
        let plan = plan(&request);
        report.record_plan(&plan);
        warnings.append(&mut report.warnings);
        report.warnings = warnings;
        for change in &plan.changes {
            tracing::info!(cluster = %cluster.name, kind = ?change.kind, section = %change.section, key = %change.key, reason = %change.reason, dry_run, "aws-auth change");
        }
        for refusal in &plan.refusals {
            tracing::warn!(cluster = %cluster.name, guard = %refusal.guard, message = %refusal.message, "write refused by a guard");
        }
        // Counted until the write is made (a refusal, or a write that fails).
        report.not_applied = plan.changes.len() as u64;
        if plan.is_refused() {
            return Ok(Outcome::Refused);
        }
        let Some(write) = &plan.write else {
            return Ok(Outcome::Unchanged);
        };
        if dry_run {
            report.not_applied = 0;
            return Ok(Outcome::Planned);
        }
        if let Some(history) = run.history
            && let Err(error) = history.before_grants(report, Some(write)).await
        {
            // Grants wait for their record; revocations do not.
            let removals = plan_writes(&request, MappingWrites::RemovalsOnly);
            let planned = plan.changes.len() as u64;
            report.record_plan(&removals);
            report.not_applied = planned;
            if let Some(write) = &removals.write {
                write_aws_auth(store, stored.as_ref(), write, report).await?;
                report.not_applied = planned - removals.changes.len() as u64;
            }
            return Err(error.into());
        }
        write_aws_auth(store, stored.as_ref(), write, report).await?;
        report.not_applied = 0;
        Ok(Outcome::Applied)
    }
}

/// Writes `write` over `stored` (or creates aws-auth), noting in `report` what was written.
pub(super) async fn write_aws_auth(
    store: &AwsAuthStore,
    stored: Option<&crate::kubernetes::StoredAwsAuth>,
    write: &crate::core::aws_auth::ConfigMapData,
    report: &mut ClusterReport,
) -> Result<(), KubeError> {
    match stored {
        Some(stored) => store.replace(stored, write, false).await?,
        None => store.create(write, false).await?,
    }
    report.aws_auth_written = Some(write.clone());
    Ok(())
}
