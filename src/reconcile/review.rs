//! `review`: a dry run of every target cluster that reads each store in full and keeps what
//! it read ([`ReviewRead`]), the IAM listings the existence checks need (one ListUsers and
//! one ListRoles per account), and the core's review of each cluster
//! ([`crate::core::review`]). Nothing is written: the run is a dry run, and the listings
//! are reads.

use std::collections::BTreeMap;

use crate::aws::eks::ClusterInfo;
use crate::aws::iam::IamDirectory;
use crate::core::access_entries::CurrentEntry;
use crate::core::aws_auth::ConfigMapData;
use crate::core::desired::DesiredSet;
use crate::core::effective::{AuthenticationMode, Store};
use crate::core::review::{
    ClusterRead, ClusterReview, Drift, Inventory, StoreRead, review_cluster,
};
use crate::core::settings::Cluster;

use super::desired_source::RunRead;
use super::report::{ClusterReport, EntryReport};
use super::{IAM_READ_CONCURRENCY, Pass, Reconciler};
use futures::StreamExt;

/// What a review's dry run read of one cluster (kept on its report, never serialized).
#[derive(Debug, Clone)]
pub struct ReviewRead {
    cluster_arn: String,
    mode: AuthenticationMode,
    /// `Some(None)`: the cluster has no aws-auth; `None`: not read.
    pub(super) aws_auth: Option<Option<ConfigMapData>>,
    pub(super) entries: Option<Vec<CurrentEntry>>,
    pub(super) desired: Option<DesiredSet>,
}

impl ReviewRead {
    pub(super) fn of(info: &ClusterInfo) -> ReviewRead {
        ReviewRead {
            cluster_arn: info.arn.clone(),
            mode: info.authentication_mode,
            aws_auth: None,
            entries: None,
            desired: None,
        }
    }
}

/// A review of the target clusters, and what it cost.
#[derive(Debug, Clone)]
pub struct ReviewRun {
    /// In configuration order.
    pub clusters: Vec<ClusterReview>,
    pub iam_calls: u64,
    pub eks_calls: u64,
}

impl Reconciler {
    /// Reviews `clusters` (all configured ones when empty): the IAM read of a full run, a
    /// dry run of each cluster as `plan` makes it (every entry read in full), then IAM's users
    /// and roles of each account involved, listed once.
    pub async fn review(&self, clusters: &[String]) -> ReviewRun {
        let (iam_before, eks_before) = self.call_counts();
        let targets = self.targets(clusters);
        let read = RunRead::Full(self.read_iam(&targets).await);
        let pass = Pass {
            dry_run: true,
            review: true,
            history: None,
        };
        let reports = self.fan_out(&targets, &read, pass).await;
        let inventory = self.inventory(&targets).await;
        let clusters = targets
            .iter()
            .zip(&reports)
            .map(|(cluster, report)| self.review_of(cluster, report, &inventory))
            .collect();
        ReviewRun {
            clusters,
            iam_calls: self.iam.calls() - iam_before,
            eks_calls: self.eks.calls() - eks_before,
        }
    }

    /// The users and roles of every account the review can list: the synced IAM account
    /// and each target cluster's account, each once.
    async fn inventory(&self, targets: &[Cluster]) -> Inventory {
        let mut accounts: BTreeMap<String, IamDirectory> = BTreeMap::new();
        let own = self.own_account().await.ok();
        let synced = match &self.settings.iam_assume_role_arn {
            Some(role) => Some(role.account_id().to_owned()),
            None => own.clone(),
        };
        if let Some(account) = synced {
            accounts.insert(account, self.iam.clone());
        }
        for cluster in targets {
            let account = match &cluster.assume_role_arn {
                Some(role) => Some(role.account_id().to_owned()),
                None => own.clone(),
            };
            if let Some(account) = account {
                accounts
                    .entry(account)
                    .or_insert_with(|| self.roles_directory(cluster));
            }
        }
        let listed: Vec<_> = futures::stream::iter(accounts)
            .map(|(account, directory)| async move { (account, directory.every_principal().await) })
            .buffer_unordered(IAM_READ_CONCURRENCY)
            .collect()
            .await;
        let mut inventory = Inventory::default();
        for (account, principals) in listed {
            match principals {
                Ok(principals) => inventory.add_account(&account, principals),
                Err(e) => {
                    tracing::warn!(account = %account, error = %e, "IAM users and roles could not be listed for the review");
                    inventory.unreadable(&account, &e.to_string());
                }
            }
        }
        inventory
    }

    /// One cluster's review from its dry run's report.
    fn review_of(
        &self,
        cluster: &Cluster,
        report: &ClusterReport,
        inventory: &Inventory,
    ) -> ClusterReview {
        let read = report.review_read.as_deref();
        let mode = read.map(|r| r.mode);
        let why = report.error.as_deref().unwrap_or("not read");
        let reads = |store: Store| mode.is_some_and(|m| m.reads(store));
        let aws_auth = match read.and_then(|r| r.aws_auth.as_ref()) {
            Some(data) => StoreRead::Read(data.as_ref()),
            None if reads(Store::AwsAuth) => StoreRead::Unreadable(why),
            None => StoreRead::NotRead,
        };
        let entries = match read.and_then(|r| r.entries.as_deref()) {
            Some(entries) => StoreRead::Read(entries),
            None if reads(Store::AccessEntries) => StoreRead::Unreadable(why),
            None => StoreRead::NotRead,
        };
        let account = read
            .and_then(|r| crate::core::names::account_of(&r.cluster_arn))
            .map(str::to_owned)
            .or_else(|| {
                cluster
                    .assume_role_arn
                    .as_ref()
                    .map(|r| r.account_id().to_owned())
            })
            .unwrap_or_default();
        let drift = drift(report);
        review_cluster(&ClusterRead {
            name: &cluster.name,
            region: &cluster.region,
            account: &account,
            mode,
            aws_auth,
            entries,
            desired: read.and_then(|r| r.desired.as_ref()),
            drift: &drift,
            refusals: &report.refusals,
            error: report.error.as_deref(),
            ownership: &self.ownership,
            inventory,
        })
    }
}

/// The changes the dry run planned: what the next run would change.
fn drift(report: &ClusterReport) -> Vec<Drift> {
    let of = |change: &'static str, entries: &[EntryReport]| {
        entries
            .iter()
            .map(|e| Drift {
                store: if e.store == Store::AccessEntries.as_str() {
                    Store::AccessEntries
                } else {
                    Store::AwsAuth
                },
                principal: e.key.clone(),
                change,
                reason: e.reason.clone(),
            })
            .collect::<Vec<_>>()
    };
    let mut drift = of("added", &report.added);
    drift.extend(of("changed", &report.changed));
    drift.extend(of("removed", &report.removed));
    drift
}
