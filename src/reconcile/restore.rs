//! `eks-iam-sync restore` on one cluster: read aws-auth, plan putting the recorded ConfigMap
//! back ([`crate::core::aws_auth::restore`], guarded), and with `apply` write it (with the
//! resourceVersion read: a concurrent writer makes the restore fail, never lose its write),
//! then record the restore in the change history as the operator's change.

use std::time::Duration;

use crate::core::aws_auth::ConfigMapData;
use crate::core::aws_auth::restore::{RestorePlan, plan_restore};
use crate::core::history::{Cause, RecordContext, RecordState, RunRecord, keys};
use crate::core::names::account_of;
use crate::core::settings::Cluster;

use super::{ClusterError, Reconciler};

/// What `restore` found and did.
#[derive(Debug)]
pub struct RestoreOutcome {
    pub plan: RestorePlan,
    /// The recorded ConfigMap was written.
    pub applied: bool,
    /// The restore was made but its history record was not written (why).
    pub not_recorded: Option<String>,
}

impl Reconciler {
    /// Restores `recorded` as `cluster`'s aws-auth (a plan only unless `apply`).
    pub async fn restore_aws_auth(
        &self,
        cluster: &Cluster,
        recorded: &ConfigMapData,
        apply: bool,
        cause: &Cause,
    ) -> Result<RestoreOutcome, ClusterError> {
        let info = self.eks.describe(cluster, Duration::ZERO).await?;
        let protected = [self.protected_identity(cluster).await?];
        let (store, _calls) = self.connect_aws_auth(cluster, &info).await?;
        let stored = store.get().await?;
        let plan = plan_restore(
            stored.as_ref().map(|s| &s.content),
            recorded,
            &self.guards(),
            &protected,
        );
        let Some(write) = plan.write.as_ref().filter(|_| apply) else {
            return Ok(RestoreOutcome {
                plan,
                applied: false,
                not_recorded: None,
            });
        };
        match &stored {
            Some(stored) => store.replace(stored, write, false).await?,
            None => store.create(write, false).await?,
        }
        let mut not_recorded = None;
        if let Some(history) = &self.history
            && !plan.changes.is_empty()
        {
            let now = jiff::Timestamp::now();
            let run_id = keys::run_id(now, rand::random());
            let record = RunRecord::new(
                RecordContext {
                    run_id: &run_id,
                    time: now,
                    cluster: &cluster.name,
                    account: account_of(&info.arn).unwrap_or_default(),
                    cause,
                },
                RecordState::Applied,
                &plan.changes,
                Some(write),
            );
            match history.write(&record, now).await {
                Ok(failures) => {
                    for failure in failures {
                        tracing::error!(error = %failure, "change events not sent");
                    }
                }
                Err(error) => {
                    tracing::error!(error = %error, record = %serde_json::json!(record), "history record of the restore not written");
                    not_recorded = Some(error.to_string());
                }
            }
        }
        Ok(RestoreOutcome {
            plan,
            applied: true,
            not_recorded,
        })
    }
}
