//! The reconcile loop: read IAM, then for each cluster read aws-auth or its access entries,
//! plan, and write — or, in a dry run, only plan.
//!
//! # Map
//! - here: [`Reconciler`], the one fan-out driver shared by full runs and user events, and
//!   backend selection;
//! - `gather`: IAM reads; `desired_source`: where a cluster's desired set comes from (full
//!   run or one user's event);
//! - `aws_auth`, `access_entries` and `both_stores`: one cluster on each backend;
//!   `entry_memory`: what full runs remember of access entries between runs (amortized
//!   reads); `one_principal`: what a user event reads of the access entries (that principal's
//!   entry, and more only for the guards), on `API` here and on `API_AND_CONFIG_MAP` through
//!   `both_stores`; `apply`: carries out an access-entries plan (grants, then the removals no
//!   failure holds back);
//! - `credentials`: token cache and the protected identity; `report`: the JSON summary;
//! - `migrate`: `eks-iam-sync migrate`; `unreadable`: revocations on a cluster that reads
//!   both stores while one of them cannot be read; `review`, `history`, `restore`: the access
//!   review, the change history and a restore from it.

//! # Stores (effective access)
//! The cluster's authentication mode, as DescribeCluster says it now, decides which stores
//! EKS reads ([`crate::core::effective::stores`]): `CONFIG_MAP` → aws-auth, `API` → access
//! entries, `API_AND_CONFIG_MAP` → both (an access entry wins, otherwise aws-auth). Grants go
//! to the configured backend (`auto`: the mode's store, access entries when both are read);
//! where both are read, the other store's managed entries are kept in step and removed when
//! no longer desired, in the same run, under one guard check (`both_stores`). A backend the
//! mode does not read fails the cluster with a message naming the switch.
//!
//! # Fresh facts
//! Every run, scheduled or event-driven, describes each cluster it touches again: a mode
//! remembered from an earlier invocation would send grants to a store EKS no longer reads
//! (one DescribeCluster per cluster and run is the whole price). A mode change is logged and
//! reported (`modeChanged`).
//!
//! # Expected flow (one run)
//! IAM read for the run (full: every group the targets need; user event: that user's groups)
//! → per cluster, at most the cluster concurrency at a time (default [`CLUSTER_CONCURRENCY`],
//! see [`Reconciler::with_cluster_concurrency`]): DescribeCluster → the stores' reads → plan
//! → write.
//!
//! # Guarantees
//! - Level-triggered: an event only narrows what is looked at; the truth is always re-read.
//! - No write when nothing changed. A failed IAM read fails the clusters that needed it (it
//!   is never taken for "no members"); a missing group counts as empty, with a warning.
//! - Clusters are independent: one failing does not stop the others.
//! - Bounded by the invocation's deadline: run inside [`until_deadline`] (the Lambda handler
//!   does, with the invocation's deadline), no cluster is started in the last
//!   [`DEADLINE_MARGIN`] before it (or the last quarter of the invocation's time, when that is
//!   shorter); each cluster not started is reported as failed
//!   ([`ClusterError::DeadlineNear`]), so the run answers instead of being cut off. A cluster
//!   already started finishes, its calls bounded by their timeouts (`aws::timeouts`,
//!   `kubernetes`).

mod access_entries;
mod apply;
mod aws_auth;
mod both_stores;
mod credentials;
mod desired_source;
mod entry_memory;
mod gather;
mod history;
mod migrate;
mod one_principal;
mod report;
mod restore;
mod review;
mod unreadable;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{Mutex, OnceCell};

use crate::aws::access_entries::AccessEntryError;
use crate::aws::eks::{ClusterInfo, EksClusters, EksError, assumed_role_credentials};
use crate::aws::iam::IamDirectory;
use crate::core::aws_auth::OwnershipRules;
use crate::core::effective::{Store, StoreError, Stores, stores};
use crate::core::guards::GuardSettings;
use crate::core::history::Cause;
use crate::core::settings::{Backend, Cluster, Settings};
use crate::events::UserSync;
use crate::kubernetes::KubeError;
use crate::token_source::{TokenSource, TokenSourceError};

pub use credentials::{IdentityError, SignerError};
pub use gather::GatherError;
pub use history::{EVENT_DETAIL_TYPE, EVENT_SOURCE, HistoryError, HistoryWriter};
pub use migrate::{MigrateError, MigrationReport};
pub use report::{
    ApiCalls, ClusterReport, EntriesRead, EntryReads, EntryReport, Outcome, RunSummary,
};
pub use restore::RestoreOutcome;
pub use review::{ReviewRead, ReviewRun};

use desired_source::{DesiredSource, RunRead};

/// Clusters reconciled at the same time, unless set otherwise
/// ([`Reconciler::with_cluster_concurrency`]).
pub const CLUSTER_CONCURRENCY: usize = 4;
/// IAM reads (one group each) in flight at the same time in a full reconcile: the wall time
/// of reading many groups is then close to the slowest reads, not their sum, while staying
/// well inside IAM's request rate.
pub const IAM_READ_CONCURRENCY: usize = 8;
/// Attempts at writing aws-auth when others keep writing it (409 Conflict).
pub const WRITE_ATTEMPTS: u32 = 5;
/// How long a user event waits for IAM to show what the event says happened.
pub const CONSISTENCY_WAIT: Duration = Duration::from_secs(8);
/// No cluster is started this close to the invocation's deadline: time for a cluster started
/// just before it to finish its usual calls, and for the invocation to answer. An invocation
/// given less than four times this keeps the last quarter of its time instead (a 3 s
/// function still starts its clusters).
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

tokio::task_local! {
    /// The last instant the running invocation may start a cluster at ([`until_deadline`]).
    static LAST_START: Instant;
}

/// Runs `run` (an invocation's handling) with `deadline` as its deadline: the runs it makes
/// start no cluster in the last [`DEADLINE_MARGIN`] (or quarter of the time left now) before
/// it.
pub async fn until_deadline<F: Future>(deadline: Instant, run: F) -> F::Output {
    let now = Instant::now();
    let margin = DEADLINE_MARGIN.min(deadline.saturating_duration_since(now) / 4);
    LAST_START.scope(deadline - margin, run).await
}

/// Whether the running invocation's deadline (if it has one) is too near to start a cluster.
fn deadline_near() -> bool {
    LAST_START
        .try_with(|last_start| Instant::now() >= *last_start)
        .unwrap_or(false)
}

/// Why one cluster could not be reconciled; its message is the report's `error`.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Describe(#[from] EksError),
    /// The configured backend is not a store the cluster's mode reads.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("EKS token: {0}")]
    Signer(#[source] SignerError),
    #[error("EKS token: {0}")]
    Token(#[source] TokenSourceError),
    /// Connecting to, reading or writing aws-auth.
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// aws-auth could not be read on a cluster that reads both stores (retried as `Kube` is;
    /// then the access entries' safe revocations are made, see `unreadable`).
    #[error(transparent)]
    AwsAuthUnreadable(KubeError),
    #[error(transparent)]
    Gather(#[from] GatherError),
    #[error(transparent)]
    AccessEntries(#[from] AccessEntryError),
    /// The change history could not record the grants: they were not made.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// Not started: the invocation had too little time left ([`DEADLINE_MARGIN`]).
    #[error("not started: the invocation's deadline was near")]
    DeadlineNear,
}

/// How a run treats its clusters: writes (unless a dry run), or reviews them.
#[derive(Debug, Clone, Copy)]
struct Pass<'a> {
    dry_run: bool,
    /// A review: a dry run that reads every entry in full and keeps what it read.
    review: bool,
    /// The run's change history, when one is kept and the run writes.
    history: Option<&'a history::RunHistory<'a>>,
}

impl<'a> Pass<'a> {
    fn writing(dry_run: bool, history: Option<&'a history::RunHistory<'a>>) -> Pass<'a> {
        Pass {
            dry_run,
            review: false,
            history,
        }
    }
}

/// One cluster of a run, as a backend sees it.
#[derive(Debug, Clone, Copy)]
struct ClusterRun<'a> {
    cluster: &'a Cluster,
    /// DescribeCluster's answer: endpoint, CA, authentication mode.
    info: &'a ClusterInfo,
    dry_run: bool,
    /// A review's dry run: every entry is read in full and what was read is kept on the
    /// report ([`review::ReviewRead`]).
    review: bool,
    desired: &'a DesiredSource<'a>,
    /// The identity that must keep its access (see [`Reconciler::protected_identity`]).
    protected: &'a [String],
    /// The run's change history, when one is kept and the run writes.
    history: Option<&'a history::RunHistory<'a>>,
}

/// The AWS clients a reconciler talks through. [`Clients::from_sdk_config`] is production;
/// tests build one from mocked clients (aws-smithy-mocks).
#[derive(Debug, Clone)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    /// DescribeCluster, per-cluster EKS clients and the credentials tokens are signed with.
    pub eks: EksClusters,
    /// Our own identity (GetCallerIdentity), protected from removal.
    pub sts: aws_sdk_sts::Client,
    /// The review's reports and the change history's records.
    pub s3: aws_sdk_s3::Client,
    /// The change events (`history.eventBus`).
    pub events: aws_sdk_eventbridge::Client,
}

impl Clients {
    /// Every client from one configuration loaded by aws-config.
    pub fn from_sdk_config(base: &aws_config::SdkConfig) -> Clients {
        Clients {
            iam: aws_sdk_iam::Client::new(base),
            eks: EksClusters::new(base.clone()),
            sts: aws_sdk_sts::Client::new(base),
            s3: crate::aws::bucket::s3_client(base),
            events: aws_sdk_eventbridge::Client::new(base),
        }
    }
}

/// Everything a reconcile needs, built once per Lambda instance (or CLI run).
#[derive(Debug)]
pub struct Reconciler {
    settings: Arc<Settings>,
    iam: IamDirectory,
    eks: EksClusters,
    sts: aws_sdk_sts::Client,
    /// One token source per cluster, signing as the cluster's EKS client does.
    tokens: Mutex<HashMap<String, Arc<TokenSource>>>,
    identity: OnceCell<String>,
    ownership: OwnershipRules,
    allow_mass_removal: bool,
    cluster_concurrency: usize,
    /// What full runs read of each cluster's access entries (amortized reads).
    entry_memory: entry_memory::EntryMemory,
    /// The review's reports go through this client (`review.bucket`).
    s3: aws_sdk_s3::Client,
    /// Where changes are recorded (`history`), when configured.
    history: Option<HistoryWriter>,
}

impl Reconciler {
    pub fn new(
        settings: Arc<Settings>,
        base: aws_config::SdkConfig,
        ownership: OwnershipRules,
    ) -> Reconciler {
        let mut clients = Clients::from_sdk_config(&base);
        if let Some(role) = &settings.iam_assume_role_arn {
            // The synced IAM account (issue 14): users and groups read through its role.
            let credentials = assumed_role_credentials(role.as_str(), base.clone());
            let config = aws_sdk_iam::config::Builder::from(&base)
                .credentials_provider(credentials)
                .build();
            clients.iam = aws_sdk_iam::Client::from_conf(config);
        }
        Reconciler::with_clients(settings, clients, ownership)
    }

    /// A reconciler talking through `clients` (tests pass mocked ones).
    pub fn with_clients(
        settings: Arc<Settings>,
        clients: Clients,
        ownership: OwnershipRules,
    ) -> Reconciler {
        let history = settings
            .history
            .as_ref()
            .map(|h| HistoryWriter::new(h, clients.s3.clone(), clients.events.clone()));
        Reconciler {
            history,
            s3: clients.s3,
            iam: IamDirectory::new(clients.iam),
            eks: clients.eks,
            sts: clients.sts,
            settings,
            tokens: Mutex::new(HashMap::new()),
            identity: OnceCell::new(),
            ownership,
            allow_mass_removal: false,
            cluster_concurrency: CLUSTER_CONCURRENCY,
            entry_memory: entry_memory::EntryMemory::default(),
        }
    }

    /// Reconciles at most `clusters` clusters at the same time (at least one).
    pub fn with_cluster_concurrency(mut self, clusters: usize) -> Reconciler {
        self.cluster_concurrency = clusters.max(1);
        self
    }

    /// Clusters reconciled at the same time.
    pub fn cluster_concurrency(&self) -> usize {
        self.cluster_concurrency
    }

    /// Lifts the mass-removal guard for this reconciler (the CLI's `--allow-mass-removal`).
    pub fn allow_mass_removal(mut self, allow: bool) -> Reconciler {
        self.allow_mass_removal = allow;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The S3 client of the review's reports.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// Where changes are recorded, when `history` is configured.
    pub fn history(&self) -> Option<&HistoryWriter> {
        self.history.as_ref()
    }

    /// Full reconcile of `clusters` (all configured ones when empty); `cause` is what the
    /// change history records as the reason of its changes.
    pub async fn reconcile(
        &self,
        clusters: &[String],
        dry_run: bool,
        reason: &str,
        cause: &Cause,
    ) -> RunSummary {
        let before = self.run_counts();
        let targets = self.targets(clusters);
        let read = RunRead::Full(self.read_iam(&targets).await);
        let history = self.run_history(dry_run, cause);
        let pass = Pass::writing(dry_run, history.as_ref());
        let reports = self.fan_out(&targets, &read, pass).await;
        self.summary(reason, dry_run, reports, before)
    }

    /// The change history of a run that writes, when one is kept.
    fn run_history<'a>(
        &'a self,
        dry_run: bool,
        cause: &'a Cause,
    ) -> Option<history::RunHistory<'a>> {
        let writer = self.history.as_ref().filter(|_| !dry_run)?;
        Some(history::RunHistory::start(writer, cause))
    }

    /// A user-level event: one IAM read (that user's groups), then only that user's entries
    /// change on each affected cluster. A user who has no entry yet and whose ARN the event
    /// does not give costs one more read (GetUser), shared by all clusters.
    pub async fn user_event(
        &self,
        sync: &UserSync,
        dry_run: bool,
        reason: &str,
        cause: &Cause,
    ) -> RunSummary {
        let before = self.run_counts();
        let targets = self.targets(&sync.clusters);
        let read = RunRead::User {
            sync,
            user: self.read_user(sync).await,
            arn: OnceCell::new(),
        };
        let history = self.run_history(dry_run, cause);
        let pass = Pass::writing(dry_run, history.as_ref());
        let reports = self.fan_out(&targets, &read, pass).await;
        self.summary(reason, dry_run, reports, before)
    }

    /// The one driver of both kinds of run: every target cluster, at most
    /// [`Reconciler::cluster_concurrency`] at a time, reports in configuration order. A
    /// cluster whose turn comes when the deadline is near is not started.
    async fn fan_out(
        &self,
        targets: &[Cluster],
        read: &RunRead<'_>,
        pass: Pass<'_>,
    ) -> Vec<ClusterReport> {
        futures::stream::iter(targets)
            .map(|cluster| async move {
                let mut report = ClusterReport::new(&cluster.name);
                if deadline_near() {
                    tracing::warn!(cluster = %cluster.name, "not started: the invocation's deadline is near");
                    return report.failed(ClusterError::DeadlineNear);
                }
                match read.source(self, cluster, &mut report) {
                    Some(desired) => {
                        self.reconcile_cluster(cluster, pass, report, &desired)
                            .await
                    }
                    None => report,
                }
            })
            .buffered(self.cluster_concurrency)
            .collect()
            .await
    }

    /// One cluster: its report, whatever happened.
    async fn reconcile_cluster(
        &self,
        cluster: &Cluster,
        pass: Pass<'_>,
        mut report: ClusterReport,
        desired: &DesiredSource<'_>,
    ) -> ClusterReport {
        match self
            .cluster_outcome(cluster, pass, &mut report, desired)
            .await
        {
            Ok(outcome) => report.outcome = outcome,
            Err(e) => report.fail(e),
        }
        // Whatever the outcome: the changes made are recorded (a failed run may have made some).
        if let Some(history) = pass.history {
            history.after_writes(&mut report).await;
        }
        report
    }

    /// Describe the cluster, decide its stores, learn the identity to protect, then
    /// reconcile through them.
    async fn cluster_outcome(
        &self,
        cluster: &Cluster,
        Pass {
            dry_run,
            review,
            history,
        }: Pass<'_>,
        report: &mut ClusterReport,
        desired: &DesiredSource<'_>,
    ) -> Result<Outcome, ClusterError> {
        let info = self.eks.describe(cluster, Duration::ZERO).await?;
        report.record_mode(info.authentication_mode, info.previous_mode);
        report.account = crate::core::names::account_of(&info.arn)
            .unwrap_or_default()
            .to_owned();
        if review {
            report.review_read = Some(Box::new(review::ReviewRead::of(&info)));
        }
        if let Some(before) = info.previous_mode {
            tracing::warn!(cluster = %cluster.name, from = %before, to = %info.authentication_mode, "authentication mode changed");
        }
        if cluster.backend == Backend::AccessEntries {
            report.backend = Store::AccessEntries.as_str(); // also when the mode refuses it
        }
        let stores: Stores = stores(&cluster.name, cluster.backend, info.authentication_mode)?;
        report.backend = stores.grants.as_str();
        let protected = [self.protected_identity(cluster).await?];
        let run = ClusterRun {
            cluster,
            info: &info,
            dry_run,
            review,
            desired,
            protected: &protected,
            history,
        };
        match (stores.grants, stores.also_reads) {
            (_, Some(_)) => self.reconcile_both_stores(run, stores.grants, report).await,
            (Store::AwsAuth, None) => self.reconcile_aws_auth(run, report).await,
            (Store::AccessEntries, None) => match desired {
                DesiredSource::User { user, arn, .. } => {
                    self.reconcile_user_entry(run, user, arn, report).await
                }
                DesiredSource::Full(_) => self.reconcile_access_entries(run, report).await,
            },
        }
    }

    /// (IAM, EKS) calls made so far, for the run's summary.
    fn call_counts(&self) -> (u64, u64) {
        (self.iam.calls(), self.eks.calls())
    }

    /// (IAM, EKS, history) calls made so far.
    fn run_counts(&self) -> (u64, u64, u64) {
        let (iam, eks) = self.call_counts();
        (iam, eks, self.history_calls())
    }

    /// S3 and EventBridge calls of the change history so far.
    fn history_calls(&self) -> u64 {
        self.history.as_ref().map_or(0, HistoryWriter::calls)
    }

    fn summary(
        &self,
        reason: &str,
        dry_run: bool,
        clusters: Vec<ClusterReport>,
        (iam, eks, history): (u64, u64, u64),
    ) -> RunSummary {
        RunSummary {
            reason: reason.to_owned(),
            dry_run,
            clusters,
            iam_calls: self.iam.calls() - iam,
            eks_calls: self.eks.calls() - eks,
            history_calls: self.history_calls() - history,
        }
    }

    fn targets(&self, names: &[String]) -> Vec<Cluster> {
        self.settings
            .clusters
            .iter()
            .filter(|c| names.is_empty() || names.iter().any(|n| n == &c.name))
            .cloned()
            .collect()
    }

    /// The guards of every plan this reconciler makes.
    fn guards(&self) -> GuardSettings {
        GuardSettings {
            max_removal_fraction: self.settings.guards.max_removal_fraction,
            allow_mass_removal: self.allow_mass_removal,
        }
    }
}

/// Full jitter: a random delay up to `delay`, at least a tenth of it.
fn jitter(delay: Duration) -> Duration {
    let millis = delay.as_millis().max(1) as u64;
    Duration::from_millis(rand::random_range(millis / 10..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_a_tenth_of_the_delay_and_the_delay() {
        let delay = Duration::from_millis(200);
        for _ in 0..100 {
            let d = jitter(delay);
            assert!(d >= Duration::from_millis(20) && d <= delay, "{d:?}");
        }
        assert!(jitter(Duration::ZERO) <= Duration::from_millis(1));
    }
}
