//! `eks-iam-sync migrate`'s workflow: move the managed aws-auth entries of an
//! `API_AND_CONFIG_MAP` cluster to access entries.
//!
//! # Expected flow
//! DescribeCluster → our identity (protected) → token → GET aws-auth → the managed entries
//! and their IAM unique ids → list the access entries → the core's migration plan. With
//! `apply`: write the access entries, re-read them, and only then remove from aws-auth the
//! entries whose access entry is verified (one PUT with the resourceVersion read, so a
//! concurrent change fails it).
//!
//! # Guarantees
//! Unmanaged aws-auth entries and the cluster's authentication mode are left alone; an entry
//! leaves aws-auth only once its access entry has been read back as wanted.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryError, AccessEntryStore};
use crate::aws::eks::{AuthenticationMode, EksError};
use crate::core::access_entries::hold_back::Release;
use crate::core::access_entries::{self as entries, AccessPlanRequest};
use crate::core::aws_auth::emit::EmitError;
use crate::core::aws_auth::{AwsAuth, ReadError};
use crate::core::names::account_of;
use crate::core::settings::Backend;
use crate::kubernetes::{AwsAuthStore, KubeCalls, KubeError};
use crate::token_source::TokenSourceError;

use super::Reconciler;
use super::access_entries::log_access_plan;
use super::apply::{ChangeResult, apply_entries};
use super::credentials::{IdentityError, SignerError};
use super::gather::GatherError;

/// What `migrate` found and did on one cluster.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    pub cluster: String,
    /// The migration plan as text (see [`entries::MigrationPlan::describe`]).
    pub plan_text: String,
    /// aws-auth entries that can move.
    pub movable: usize,
    /// Access entries to create or bring in line.
    pub access_changes: usize,
    pub cannot_move: usize,
    pub refused: bool,
    pub applied: bool,
    /// Access-entry changes EKS rejected, with its message.
    pub rejected: Vec<String>,
    /// Movable entries whose access entry could not be verified: they stay in aws-auth.
    pub not_verified: Vec<String>,
    /// aws-auth entries removed (their access entries verified first).
    pub removed_from_aws_auth: Vec<String>,
}

/// Why `migrate` stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cluster {0} is not in the configuration")]
    UnknownCluster(String),
    #[error(
        "cluster {cluster} has authentication mode {mode}: migrate moves aws-auth entries of an API_AND_CONFIG_MAP cluster ({hint})"
    )]
    Mode {
        cluster: String,
        mode: &'static str,
        hint: &'static str,
    },
    #[error(
        "cluster {cluster} is configured with backend aws-auth: EKS's effective store for its grants is aws-auth, so moving them to access entries would be undone by the next reconcile; set backend auto or access-entries first"
    )]
    BackendAwsAuth { cluster: String },
    #[error(transparent)]
    Eks(#[from] EksError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("cluster {cluster}: {source}")]
    Signer {
        cluster: String,
        #[source]
        source: SignerError,
    },
    #[error("cluster {cluster}: EKS token: {source}")]
    Token {
        cluster: String,
        #[source]
        source: TokenSourceError,
    },
    #[error("aws-auth on cluster {cluster}: {source}")]
    Kube {
        cluster: String,
        #[source]
        source: KubeError,
    },
    #[error("aws-auth on cluster {cluster} does not parse ({source}); fix it by hand first")]
    Unparsable {
        cluster: String,
        #[source]
        source: ReadError,
    },
    #[error(transparent)]
    Gather(#[from] GatherError),
    #[error(transparent)]
    AccessEntries(#[from] AccessEntryError),
    #[error("aws-auth on cluster {cluster} cannot be rewritten safely: {source}")]
    Rewrite {
        cluster: String,
        #[source]
        source: EmitError,
    },
}

impl Reconciler {
    /// `eks-iam-sync migrate`: plans moving the managed aws-auth entries of an
    /// API_AND_CONFIG_MAP cluster to access entries; with `apply`, creates the access
    /// entries, re-reads them, and only then removes from aws-auth the entries whose access
    /// entry is verified (one PUT with the resourceVersion read: a concurrent change fails it).
    pub async fn migrate(&self, name: &str, apply: bool) -> Result<MigrationReport, MigrateError> {
        let cluster = self
            .targets(&[name.to_owned()])
            .into_iter()
            .next()
            .ok_or_else(|| MigrateError::UnknownCluster(name.to_owned()))?;
        let info = self.eks.describe(&cluster, Duration::ZERO).await?;
        let mode = |mode, hint| MigrateError::Mode {
            cluster: cluster.name.clone(),
            mode,
            hint,
        };
        match info.authentication_mode {
            AuthenticationMode::ApiAndConfigMap if cluster.backend == Backend::AwsAuth => {
                return Err(MigrateError::BackendAwsAuth {
                    cluster: cluster.name.clone(),
                });
            }
            AuthenticationMode::ApiAndConfigMap => {}
            AuthenticationMode::ConfigMap => {
                return Err(mode(
                    "CONFIG_MAP",
                    "switch it to API_AND_CONFIG_MAP first: aws eks update-cluster-config --access-config authenticationMode=API_AND_CONFIG_MAP",
                ));
            }
            AuthenticationMode::Api => {
                return Err(mode(
                    "API",
                    "EKS no longer reads aws-auth there; there is nothing to move",
                ));
            }
        }
        let protected = vec![self.protected_identity(&cluster).await?];
        let source = self
            .token_source(&cluster)
            .await
            .map_err(|source| MigrateError::Signer {
                cluster: cluster.name.clone(),
                source,
            })?;
        let token = source
            .token(&cluster.name)
            .await
            .map_err(|source| MigrateError::Token {
                cluster: cluster.name.clone(),
                source,
            })?;
        let kube = |source: KubeError| MigrateError::Kube {
            cluster: cluster.name.clone(),
            source,
        };
        let store = AwsAuthStore::connect(
            &info.endpoint,
            &info.ca_pem,
            token.token(),
            Arc::new(KubeCalls::default()),
        )
        .map_err(kube)?;
        let stored = store.get().await.map_err(kube)?;
        let content = stored
            .as_ref()
            .map(|s| s.content.clone())
            .unwrap_or_default();
        let aws_auth = AwsAuth::read(&content).map_err(|source| MigrateError::Unparsable {
            cluster: cluster.name.clone(),
            source,
        })?;
        let (mut desired, mut warnings) = entries::managed_aws_auth(&aws_auth, &self.ownership);
        self.resolve_ids(&cluster, &mut desired, &mut warnings)
            .await?;
        let entry_store = AccessEntryStore::new(
            self.eks.client_for(&cluster),
            &cluster.name,
            Arc::new(AccessEntryCalls::default()),
        );
        let current = entry_store.list().await?;
        let cluster_account = account_of(&info.arn);
        let mut plan = entries::plan_migration(&AccessPlanRequest {
            current: &current,
            desired: &desired,
            cluster_account,
            guards: self.guards(),
            protected: &protected,
        });
        plan.access.warnings.extend(warnings);
        let mut report = MigrationReport {
            cluster: cluster.name.clone(),
            plan_text: plan.describe(),
            movable: plan.moving.len(),
            access_changes: plan.access.changes.len(),
            cannot_move: plan.cannot_move.len(),
            refused: plan.access.is_refused(),
            ..MigrationReport::default()
        };
        log_access_plan(&cluster.name, &plan.access, !apply);
        if !apply || report.refused {
            return Ok(report);
        }
        let applied = apply_entries(
            &entry_store,
            Release {
                current: &current,
                changes: &plan.access.changes,
                progress: &[],
                other: None,
                guards: self.guards(),
                protected: &protected,
            },
        )
        .await;
        for (change, result) in plan.access.changes.iter().zip(&applied.results) {
            match result {
                ChangeResult::Done => {}
                ChangeResult::Failed(why)
                | ChangeResult::HeldBack(why)
                | ChangeResult::NotAttempted(why) => {
                    report
                        .rejected
                        .push(format!("{}: {why}", change.principal_arn));
                }
            }
        }
        if let Some(error) = applied.stopped {
            return Err(error.into());
        }
        let after = entry_store.list().await?;
        let translation = entries::translate(&desired, cluster_account);
        let mut verified = BTreeSet::new();
        for key in &plan.moving {
            match translation.entries.get(key) {
                Some(want) if entries::verified(&after, key, want) => {
                    verified.insert(key.clone());
                }
                _ => report.not_verified.push(key.clone()),
            }
        }
        if let Some(stored) = &stored {
            let rewritten =
                entries::aws_auth_without(&content, &aws_auth, &self.ownership, &verified)
                    .map_err(|source| MigrateError::Rewrite {
                        cluster: cluster.name.clone(),
                        source,
                    })?;
            if let Some(write) = rewritten {
                store.replace(stored, &write, false).await.map_err(kube)?;
                report.removed_from_aws_auth = verified.into_iter().collect();
            }
        }
        for key in &report.removed_from_aws_auth {
            tracing::info!(cluster = %cluster.name, key = %key, "moved from aws-auth to an access entry");
        }
        report.applied = true;
        Ok(report)
    }
}
