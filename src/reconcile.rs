//! The reconcile loop: read IAM, then for each cluster read aws-auth or its access entries,
//! plan, and write — or, in a dry run, only plan.
//!
//! # Backend selection
//! `backend: aws-auth` and `backend: access-entries` are taken as written (access entries on
//! a `CONFIG_MAP` cluster fail that cluster, naming the mode to switch to). `backend: auto`
//! reads `accessConfig.authenticationMode`: `CONFIG_MAP` → aws-auth; `API` and
//! `API_AND_CONFIG_MAP` → access entries (aws-auth is then left as it is; `eks-iam-sync
//! migrate` moves its managed entries).
//!
//! # Access entries (one cluster)
//! DescribeCluster (cached) → the desired set (a user event re-reads the whole cluster's
//! IAM facts, since there is no aws-auth to start from) → IAM unique ids of configured users
//! and roles (GetUser/GetRole; group members and SSO roles come with theirs) → list and
//! describe the entries → the core's access-entries plan and guards → the calls in plan order.
//! EKS rejecting one entry is reported for that entry (`rejected`); the others go on.
//!
//! # Expected flow (one cluster)
//! DescribeCluster (cached while warm) → token (cached) → Kubernetes client trusting the
//! cluster's CA → GET aws-auth → plan with the core's guards, protecting our own identity →
//! PUT with the resourceVersion read, or POST when aws-auth does not exist → on 409, re-read,
//! re-plan and retry with jittered backoff, a bounded number of times.
//!
//! # Guarantees
//! - Level-triggered: an event only narrows what is looked at; the truth is always re-read.
//! - No write when nothing changed. A failed IAM read fails the clusters that needed it (it
//!   is never taken for "no members"); a missing group counts as empty, with a warning.
//! - Clusters are independent: one failing does not stop the others. They run concurrently,
//!   at most [`CLUSTER_CONCURRENCY`] at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{Mutex, OnceCell};

use crate::aws::access_entries::{AccessEntryCalls, AccessEntryStore, ChangeResult};
use crate::aws::eks::{AuthenticationMode, ClusterInfo, EksClusters};
use crate::aws::iam::{IamDirectory, IamError};
use crate::config::{Backend, Cluster, Settings};
use crate::core::access_entries::{self as entries, AccessPlan, AccessPlanRequest};
use crate::core::arn::{account_of, canonical_principal_arn};
use crate::core::aws_auth::{AwsAuth, ItemValue, OwnershipRules, SectionName};
use crate::core::desired::DesiredSet;
use crate::core::desired_state::{
    IamFacts, Member, UserFacts, desired_for_cluster, desired_for_user_event,
};
use crate::core::guards::GuardSettings;
use crate::core::plan::{ChangeKind, Plan, PlanRequest, plan};
use crate::events::{Expectation, UserSync};
use crate::kubernetes::{AwsAuthStore, KubeCalls, KubeError};
use crate::token_source::TokenSource;

/// Clusters reconciled at the same time.
pub const CLUSTER_CONCURRENCY: usize = 4;
/// IAM reads (one group, or the SSO roles) in flight at the same time in a full reconcile:
/// the wall time of reading many groups is then close to the slowest reads, not their sum,
/// while staying well inside IAM's request rate.
pub const IAM_READ_CONCURRENCY: usize = 8;
/// Attempts at writing aws-auth when others keep writing it (409 Conflict).
pub const WRITE_ATTEMPTS: u32 = 5;
/// How long a user event waits for IAM to show what the event says happened.
pub const CONSISTENCY_WAIT: Duration = Duration::from_secs(8);

/// What happened on one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// aws-auth already matched: nothing written.
    Unchanged,
    /// Changes were written.
    Applied,
    /// Dry run: changes planned, nothing written.
    Planned,
    /// A guard refused the write; nothing written.
    Refused,
    /// Not reconciled on purpose (e.g. IAM not yet consistent; left to the schedule).
    Deferred,
    /// An error stopped this cluster.
    Failed,
}

/// One entry change in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryReport {
    pub section: String,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    pub reason: String,
}

/// API calls made for one cluster (the `eks_*` counts only on the access-entries backend).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCalls {
    pub kube_get: u64,
    pub kube_put: u64,
    pub kube_post: u64,
    /// Access-entry reads (List/Describe/ListAssociatedAccessPolicies).
    #[serde(skip_serializing_if = "is_zero")]
    pub eks_read: u64,
    /// Access-entry writes (Create/Update/Delete, Associate/Disassociate).
    #[serde(skip_serializing_if = "is_zero")]
    pub eks_write: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The JSON summary for one cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    pub cluster: String,
    pub outcome: Outcome,
    pub backend: &'static str,
    pub added: Vec<EntryReport>,
    pub changed: Vec<EntryReport>,
    pub removed: Vec<EntryReport>,
    pub skipped: Vec<EntryReport>,
    /// Access entries whose calls EKS rejected (validation errors), each with EKS's message;
    /// the other entries were still written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<EntryReport>,
    pub warnings: Vec<String>,
    pub refusals: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub write_attempts: u32,
    pub api_calls: ApiCalls,
    /// The human-readable plan (as `render` prints it).
    #[serde(skip)]
    pub plan_text: String,
}

impl ClusterReport {
    fn new(cluster: &str) -> ClusterReport {
        ClusterReport {
            cluster: cluster.to_owned(),
            outcome: Outcome::Unchanged,
            backend: "aws-auth",
            added: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
            skipped: Vec::new(),
            rejected: Vec::new(),
            warnings: Vec::new(),
            refusals: Vec::new(),
            error: None,
            write_attempts: 0,
            api_calls: ApiCalls::default(),
            plan_text: String::new(),
        }
    }

    fn failed(mut self, error: impl std::fmt::Display) -> ClusterReport {
        self.outcome = Outcome::Failed;
        self.error = Some(error.to_string());
        self
    }

    fn record_plan(&mut self, plan: &Plan) {
        let entry = |section: String, key: String, value: Option<&ItemValue>, reason: &str| {
            let (username, groups) = match value {
                Some(ItemValue::Mapping(m)) => (m.username.clone(), Some(m.groups.clone())),
                _ => (None, None),
            };
            EntryReport {
                section,
                key,
                username,
                groups,
                reason: reason.to_owned(),
            }
        };
        self.added.clear();
        self.changed.clear();
        self.removed.clear();
        for c in &plan.changes {
            let report = match c.kind {
                ChangeKind::Remove => entry(
                    c.section.to_string(),
                    c.key.clone(),
                    c.before.as_ref(),
                    &c.reason,
                ),
                _ => entry(
                    c.section.to_string(),
                    c.key.clone(),
                    c.after.as_ref(),
                    &c.reason,
                ),
            };
            match c.kind {
                ChangeKind::Add => self.added.push(report),
                ChangeKind::Change => self.changed.push(report),
                ChangeKind::Remove => self.removed.push(report),
            }
        }
        self.skipped = plan
            .skipped
            .iter()
            .map(|s| entry(s.section.to_string(), s.key.clone(), None, &s.reason))
            .collect();
        self.warnings = plan.warnings.clone();
        self.refusals = plan.refusals.iter().map(ToString::to_string).collect();
        self.plan_text = plan.describe();
    }

    /// The access-entries plan in the same shape: section `accessEntries`, key the principal.
    fn record_access_plan(&mut self, plan: &AccessPlan) {
        const SECTION: &str = "accessEntries";
        let entry = |key: &str, view: Option<&entries::EntryView>, reason: &str| EntryReport {
            section: SECTION.to_owned(),
            key: key.to_owned(),
            username: view.and_then(|v| v.username.clone()),
            groups: view.map(|v| v.groups.clone()),
            reason: reason.to_owned(),
        };
        self.added.clear();
        self.changed.clear();
        self.removed.clear();
        for c in &plan.changes {
            match c.kind {
                entries::ChangeKind::Create => {
                    self.added
                        .push(entry(&c.principal_arn, c.after.as_ref(), &c.reason));
                }
                entries::ChangeKind::Update | entries::ChangeKind::Recreate => {
                    self.changed
                        .push(entry(&c.principal_arn, c.after.as_ref(), &c.reason));
                }
                entries::ChangeKind::Delete => {
                    self.removed
                        .push(entry(&c.principal_arn, c.before.as_ref(), &c.reason));
                }
            }
        }
        self.skipped = plan
            .skipped
            .iter()
            .map(|s| entry(&s.key, None, &s.reason))
            .collect();
        self.warnings = plan.warnings.clone();
        self.refusals = plan.refusals.iter().map(ToString::to_string).collect();
        self.plan_text = plan.describe();
    }
}

/// The JSON summary of one invocation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub reason: String,
    pub dry_run: bool,
    pub clusters: Vec<ClusterReport>,
    /// IAM calls made by this run.
    pub iam_calls: u64,
    /// EKS calls made by this run.
    pub eks_calls: u64,
}

impl RunSummary {
    /// True when some cluster failed (the invocation then fails, so EventBridge retries).
    pub fn failed(&self) -> bool {
        self.clusters.iter().any(|c| c.outcome == Outcome::Failed)
    }
}

/// Why IAM could not be read for a run.
#[derive(Debug, thiserror::Error)]
#[error("IAM read failed: {0}")]
pub struct GatherError(#[from] pub IamError);

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
}

impl Reconciler {
    pub fn new(
        settings: Arc<Settings>,
        base: aws_config::SdkConfig,
        ownership: OwnershipRules,
    ) -> Reconciler {
        Reconciler {
            iam: IamDirectory::new(aws_sdk_iam::Client::new(&base)),
            eks: EksClusters::new(base.clone()),
            sts: aws_sdk_sts::Client::new(&base),
            settings,
            tokens: Mutex::new(HashMap::new()),
            identity: OnceCell::new(),
            ownership,
            allow_mass_removal: false,
        }
    }

    /// Lifts the mass-removal guard for this reconciler (the CLI's `--allow-mass-removal`).
    pub fn allow_mass_removal(mut self, allow: bool) -> Reconciler {
        self.allow_mass_removal = allow;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Full reconcile of `clusters` (all configured ones when empty).
    pub async fn reconcile(&self, clusters: &[String], dry_run: bool, reason: &str) -> RunSummary {
        let (iam_before, eks_before) = (self.iam.calls(), self.eks.calls());
        let targets = self.targets(clusters);
        let facts = self.read_iam(&targets).await;
        let reports = futures::stream::iter(targets.iter())
            .map(|cluster| {
                let facts = &facts;
                async move {
                    let report = ClusterReport::new(&cluster.name);
                    match facts_for(cluster, &self.settings, facts) {
                        Err(error) => report.failed(error),
                        Ok(facts) => {
                            let source = FromIam {
                                settings: &self.settings,
                                cluster: &cluster.name,
                                facts,
                            };
                            self.reconcile_cluster(cluster, dry_run, report, &source)
                                .await
                        }
                    }
                }
            })
            .buffered(CLUSTER_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        self.summary(reason, dry_run, reports, iam_before, eks_before)
    }

    /// A user-level event: one IAM read (that user's groups), then only that user's entries
    /// change on each affected cluster. A user who has no entry yet and whose ARN the event
    /// does not give costs one more read (GetUser), shared by all clusters.
    pub async fn user_event(&self, sync: &UserSync, dry_run: bool, reason: &str) -> RunSummary {
        let (iam_before, eks_before) = (self.iam.calls(), self.eks.calls());
        let targets = self.targets(&sync.clusters);
        let read = self.read_user(sync).await;
        let arn: OnceCell<Result<Option<String>, String>> = OnceCell::new();
        let reports = futures::stream::iter(targets.iter())
            .map(|cluster| {
                let (read, arn) = (&read, &arn);
                async move {
                    let mut report = ClusterReport::new(&cluster.name);
                    let user = match read {
                        Err(error) => return report.failed(error),
                        Ok(None) => {
                            report.outcome = Outcome::Deferred;
                            report.warnings.push(format!(
                                "IAM does not show the change yet ({:?} for {}); left to the next scheduled reconcile",
                                sync.expect, sync.user_name
                            ));
                            return report;
                        }
                        Ok(Some(user)) => user,
                    };
                    let source = ForUser { reconciler: self, cluster: &cluster.name, user, arn };
                    self.reconcile_cluster(cluster, dry_run, report, &source).await
                }
            })
            .buffered(CLUSTER_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        self.summary(reason, dry_run, reports, iam_before, eks_before)
    }

    fn summary(
        &self,
        reason: &str,
        dry_run: bool,
        clusters: Vec<ClusterReport>,
        iam: u64,
        eks: u64,
    ) -> RunSummary {
        RunSummary {
            reason: reason.to_owned(),
            dry_run,
            clusters,
            iam_calls: self.iam.calls() - iam,
            eks_calls: self.eks.calls() - eks,
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

    /// Reads every group the target clusters need, and the SSO roles when a permission set is
    /// configured: concurrently, at most [`IAM_READ_CONCURRENCY`] reads at a time (the SSO
    /// roles' read among them; a group's pages follow each other). Per-group results, so a
    /// failure only fails the clusters that needed it.
    async fn read_iam(&self, targets: &[Cluster]) -> IamRead {
        enum Read<'a> {
            Group(&'a str),
            SsoRoles,
        }
        enum Answer {
            Group(String, Result<Option<Members>, String>),
            SsoRoles(Result<SsoRoles, String>),
        }
        let needed = |clusters: &[String]| targets.iter().any(|t| clusters.contains(&t.name));
        let mut reads = Vec::new();
        if self
            .settings
            .sso_permission_sets
            .iter()
            .any(|p| needed(&p.clusters))
        {
            reads.push(Read::SsoRoles);
        }
        let mut seen = std::collections::BTreeSet::new();
        for group in self.settings.groups.iter().filter(|g| needed(&g.clusters)) {
            if seen.insert(group.iam_group.as_str()) {
                reads.push(Read::Group(&group.iam_group));
            }
        }
        let answers = futures::stream::iter(reads)
            .map(|read| async move {
                match read {
                    Read::Group(name) => {
                        let members = self.iam.group_members(name).await.map(|m| {
                            m.map(|users| {
                                users
                                    .into_iter()
                                    .map(|u| {
                                        (
                                            Member {
                                                name: u.name,
                                                arn: u.arn,
                                            },
                                            u.user_id,
                                        )
                                    })
                                    .collect::<Vec<_>>()
                            })
                        });
                        Answer::Group(name.to_owned(), members.map_err(|e| e.to_string()))
                    }
                    Read::SsoRoles => Answer::SsoRoles(
                        self.iam
                            .sso_roles()
                            .await
                            .map(|roles| {
                                roles
                                    .into_iter()
                                    .map(|r| ((r.name, r.arn), r.role_id))
                                    .collect()
                            })
                            .map_err(|e| e.to_string()),
                    ),
                }
            })
            .buffer_unordered(IAM_READ_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut read = IamRead {
            groups: BTreeMap::new(),
            sso_roles: None,
        };
        for answer in answers {
            match answer {
                Answer::Group(name, members) => {
                    read.groups.insert(name, members);
                }
                Answer::SsoRoles(roles) => read.sso_roles = Some(roles),
            }
        }
        read
    }

    /// Reads the user's groups until they show what the event says happened, for a bounded
    /// time (IAM is eventually consistent). `Ok(None)`: still not visible.
    async fn read_user(&self, sync: &UserSync) -> Result<Option<UserFacts>, GatherError> {
        let deadline = tokio::time::Instant::now() + CONSISTENCY_WAIT;
        let mut delay = Duration::from_millis(250);
        loop {
            let groups = self.iam.groups_for_user(&sync.user_name).await?;
            if expectation_met(&sync.expect, groups.as_deref()) {
                return Ok(Some(UserFacts {
                    user_name: sync.user_name.clone(),
                    account_id: sync.account_id.clone(),
                    arn: sync.user_arn.clone(),
                    groups,
                }));
            }
            if tokio::time::Instant::now() + delay > deadline {
                tracing::warn!(user = %sync.user_name, expect = ?sync.expect, "IAM does not show the event's change yet");
                return Ok(None);
            }
            tokio::time::sleep(jitter(delay)).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn token_source(&self, cluster: &Cluster) -> Result<Arc<TokenSource>, String> {
        let mut tokens = self.tokens.lock().await;
        if let Some(source) = tokens.get(&cluster.name) {
            return Ok(source.clone());
        }
        let credentials = self
            .eks
            .credentials_for(cluster)
            .ok_or("no AWS credentials are configured")?;
        let source = Arc::new(
            TokenSource::from_provider(credentials, &cluster.region).map_err(|e| e.to_string())?,
        );
        tokens.insert(cluster.name.clone(), source.clone());
        Ok(source)
    }

    /// The identity that must never lose access on `cluster`: the assumed role when there is
    /// one, else our own (sts:GetCallerIdentity, canonicalized).
    async fn protected_identity(&self, cluster: &Cluster) -> Result<String, String> {
        if let Some(role) = &cluster.assume_role_arn {
            return Ok(role.as_str().to_owned());
        }
        self.identity
            .get_or_try_init(|| async {
                let arn = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "sts:GetCallerIdentity: {}",
                            aws_sdk_sts::error::DisplayErrorContext(e)
                        )
                    })?
                    .arn
                    .ok_or_else(|| "sts:GetCallerIdentity returned no ARN".to_owned())?;
                canonical_principal_arn(&arn)
                    .map(|c| c.arn)
                    .map_err(|e| e.to_string())
            })
            .await
            .cloned()
    }

    /// One cluster: connect, then read → plan → write, retrying on conflicts.
    async fn reconcile_cluster(
        &self,
        cluster: &Cluster,
        dry_run: bool,
        mut report: ClusterReport,
        desired: &impl DesiredSource,
    ) -> ClusterReport {
        let info = match self.eks.describe(cluster).await {
            Ok(info) => info,
            Err(e) => return report.failed(e),
        };
        if !uses_aws_auth(cluster.backend, info.authentication_mode) {
            report.backend = "access-entries";
            if info.authentication_mode == AuthenticationMode::ConfigMap {
                return report.failed(format!(
                    "cluster {} is configured with backend access-entries, but its authentication mode is CONFIG_MAP, where EKS has no access entries; switch it first (aws eks update-cluster-config --name {} --access-config authenticationMode=API_AND_CONFIG_MAP), or use backend auto",
                    cluster.name, cluster.name
                ));
            }
            return self
                .reconcile_access_entries(cluster, &info, dry_run, report, desired)
                .await;
        }
        let protected = match self.protected_identity(cluster).await {
            Ok(arn) => vec![arn],
            Err(e) => return report.failed(e),
        };
        let token = match self.token_source(cluster).await {
            Ok(source) => match source.token(&cluster.name).await {
                Ok(token) => token,
                Err(e) => return report.failed(format!("EKS token: {e}")),
            },
            Err(e) => return report.failed(format!("EKS token: {e}")),
        };
        let calls = Arc::new(KubeCalls::default());
        let store =
            match AwsAuthStore::connect(&info.endpoint, &info.ca_pem, token.token(), calls.clone())
            {
                Ok(store) => store,
                Err(e) => {
                    self.eks.forget(cluster);
                    return report.failed(e);
                }
            };
        let guards = GuardSettings {
            max_removal_fraction: self.settings.guards.max_removal_fraction,
            allow_mass_removal: self.allow_mass_removal,
        };
        let mut delay = Duration::from_millis(200);
        let result = loop {
            report.write_attempts += 1;
            match self
                .attempt(
                    &store,
                    desired,
                    cluster,
                    guards,
                    &protected,
                    dry_run,
                    &mut report,
                )
                .await
            {
                Err(AttemptError::Kube(e))
                    if (matches!(e, KubeError::Conflict { .. }) || e.is_transient())
                        && report.write_attempts < WRITE_ATTEMPTS =>
                {
                    tracing::info!(cluster = %cluster.name, attempt = report.write_attempts, error = %e, "retrying after a conflict or a transient error");
                    tokio::time::sleep(jitter(delay)).await;
                    delay *= 2;
                }
                other => break other,
            }
        };
        let (get, put, post) = calls.snapshot();
        report.api_calls = ApiCalls {
            kube_get: get,
            kube_put: put,
            kube_post: post,
            ..ApiCalls::default()
        };
        match result {
            Ok(outcome) => {
                report.outcome = outcome;
                report
            }
            Err(e) => {
                if matches!(e, AttemptError::Kube(KubeError::Unauthorized { .. })) {
                    self.eks.forget(cluster);
                }
                report.failed(e)
            }
        }
    }

    /// One read → plan → write attempt.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        store: &AwsAuthStore,
        desired: &impl DesiredSource,
        cluster: &Cluster,
        guards: GuardSettings,
        protected: &[String],
        dry_run: bool,
        report: &mut ClusterReport,
    ) -> Result<Outcome, AttemptError> {
        let stored = store.get().await?;
        let current = stored.as_ref().map(|s| &s.content);
        let empty = Default::default();
        let aws_auth = AwsAuth::read(current.unwrap_or(&empty));
        report.warnings.clear();
        let (desired_set, mut warnings) = match &aws_auth {
            Ok(aws_auth) => match desired.desired(aws_auth, report).await {
                Ok(Some(found)) => found,
                Ok(None) => return Ok(Outcome::Deferred),
                Err(e) => return Err(AttemptError::Iam(e)),
            },
            // The planner reports the unparsable content as a refusal.
            Err(_) => (DesiredSet::default(), Vec::new()),
        };
        let plan = plan(&PlanRequest {
            current,
            desired: &desired_set,
            guards,
            protected,
            ownership: &self.ownership,
        });
        report.record_plan(&plan);
        warnings.append(&mut report.warnings);
        report.warnings = warnings;
        for change in &plan.changes {
            tracing::info!(cluster = %cluster.name, kind = ?change.kind, section = %change.section, key = %change.key, reason = %change.reason, dry_run, "aws-auth change");
        }
        for refusal in &plan.refusals {
            tracing::warn!(cluster = %cluster.name, guard = %refusal.guard, message = %refusal.message, "write refused by a guard");
        }
        if plan.is_refused() {
            return Ok(Outcome::Refused);
        }
        let Some(write) = &plan.write else {
            return Ok(Outcome::Unchanged);
        };
        if dry_run {
            return Ok(Outcome::Planned);
        }
        match &stored {
            Some(stored) => store.replace(stored, write, false).await?,
            None => store.create(write, false).await?,
        }
        Ok(Outcome::Applied)
    }
}

/// Whether a cluster is reconciled through aws-auth (else access entries).
fn uses_aws_auth(backend: Backend, mode: AuthenticationMode) -> bool {
    match backend {
        Backend::AwsAuth => true,
        Backend::AccessEntries => false,
        Backend::Auto => mode == AuthenticationMode::ConfigMap,
    }
}

impl Reconciler {
    /// One cluster on the access-entries backend: desired set → unique ids → entries →
    /// plan → calls in order (none in a dry run or on a refusal).
    async fn reconcile_access_entries(
        &self,
        cluster: &Cluster,
        info: &ClusterInfo,
        dry_run: bool,
        mut report: ClusterReport,
        desired: &impl DesiredSource,
    ) -> ClusterReport {
        let protected = match self.protected_identity(cluster).await {
            Ok(arn) => vec![arn],
            Err(e) => return report.failed(e),
        };
        let (mut desired_set, mut warnings) = match desired.whole(self, cluster).await {
            Ok(found) => found,
            Err(e) => return report.failed(e),
        };
        if let Err(e) = self.resolve_ids(&mut desired_set, &mut warnings).await {
            return report.failed(e);
        }
        let calls = Arc::new(AccessEntryCalls::default());
        let store =
            AccessEntryStore::new(self.eks.client_for(cluster), &cluster.name, calls.clone());
        let outcome = self
            .access_attempt(&store, info, &desired_set, &protected, dry_run, &mut report)
            .await;
        let (reads, writes) = calls.snapshot();
        report.api_calls = ApiCalls {
            eks_read: reads,
            eks_write: writes,
            ..ApiCalls::default()
        };
        warnings.append(&mut report.warnings);
        report.warnings = warnings;
        match outcome {
            Ok(outcome) => {
                report.outcome = outcome;
                report
            }
            Err(e) => report.failed(e),
        }
    }

    async fn access_attempt(
        &self,
        store: &AccessEntryStore,
        info: &ClusterInfo,
        desired: &DesiredSet,
        protected: &[String],
        dry_run: bool,
        report: &mut ClusterReport,
    ) -> Result<Outcome, crate::aws::access_entries::AccessEntryError> {
        report.write_attempts = 1;
        let current = store.list().await?;
        let plan = entries::plan(&AccessPlanRequest {
            current: &current,
            desired,
            cluster_account: account_of(&info.arn),
            guards: GuardSettings {
                max_removal_fraction: self.settings.guards.max_removal_fraction,
                allow_mass_removal: self.allow_mass_removal,
            },
            protected,
        });
        report.record_access_plan(&plan);
        log_access_plan(&info.name, &plan, dry_run);
        if plan.is_refused() {
            return Ok(Outcome::Refused);
        }
        if !plan.has_changes() {
            return Ok(Outcome::Unchanged);
        }
        if dry_run {
            return Ok(Outcome::Planned);
        }
        let results = store.execute(&plan.changes).await?;
        let mut done = 0;
        for (change, result) in plan.changes.iter().zip(&results) {
            let why = match result {
                ChangeResult::Done => {
                    done += 1;
                    continue;
                }
                ChangeResult::Rejected(e) => e.to_string(),
                ChangeResult::NotAttempted(why) => why.clone(),
            };
            tracing::warn!(cluster = %info.name, key = %change.principal_arn, error = %why, "access entry change not made");
            for list in [&mut report.added, &mut report.changed, &mut report.removed] {
                list.retain(|e| e.key != change.principal_arn);
            }
            report.rejected.push(EntryReport {
                section: "accessEntries".to_owned(),
                key: change.principal_arn.clone(),
                username: None,
                groups: None,
                reason: why,
            });
        }
        Ok(if done > 0 {
            Outcome::Applied
        } else {
            Outcome::Unchanged
        })
    }

    /// Fills in the IAM unique ids of configured users and roles (GetUser/GetRole); group
    /// members and SSO roles already have theirs. A principal IAM does not know is a warning
    /// (EKS will say whether it accepts the entry).
    async fn resolve_ids(
        &self,
        desired: &mut DesiredSet,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let missing: Vec<(String, String)> = [SectionName::MapRoles, SectionName::MapUsers]
            .into_iter()
            .flat_map(|s| desired.mappings(s))
            .filter(|m| m.principal_id.is_none())
            .map(|m| (m.arn.clone(), m.configured_arn.clone()))
            .collect();
        for (canonical, configured) in missing {
            let name = configured.rsplit('/').next().unwrap_or_default();
            let found = if configured.contains(":role/") {
                self.iam
                    .get_role(name)
                    .await
                    .map(|r| r.map(|r| (r.arn, r.role_id)))
            } else {
                self.iam
                    .get_user(name)
                    .await
                    .map(|u| u.map(|u| (u.arn, u.user_id)))
            };
            match found.map_err(|e| format!("IAM read failed: {e}"))? {
                Some((arn, id))
                    if canonical_principal_arn(&arn)
                        .is_ok_and(|c| c.arn.eq_ignore_ascii_case(&canonical)) =>
                {
                    desired.set_principal_id(&canonical, &id);
                }
                _ => warnings.push(format!(
                    "{configured} was not found in IAM (another account, or deleted); its access entry is planned as configured"
                )),
            }
        }
        Ok(())
    }
}

fn log_access_plan(cluster: &str, plan: &AccessPlan, dry_run: bool) {
    for change in &plan.changes {
        tracing::info!(cluster = %cluster, kind = ?change.kind, section = "accessEntries", key = %change.principal_arn, reason = %change.reason, dry_run, "access entry change");
    }
    for refusal in &plan.refusals {
        tracing::warn!(cluster = %cluster, guard = %refusal.guard, message = %refusal.message, "write refused by a guard");
    }
}

/// Why one read → plan → write attempt stopped.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error(transparent)]
    Kube(#[from] KubeError),
    #[error("{0}")]
    Iam(String),
}

/// Where a cluster's desired set comes from, given aws-auth as just read.
trait DesiredSource {
    /// `Ok(None)`: leave this cluster to the schedule (the reason is already in the report).
    async fn desired(
        &self,
        current: &AwsAuth,
        report: &mut ClusterReport,
    ) -> Result<Option<(DesiredSet, Vec<String>)>, String>;

    /// The whole desired set of the cluster, for the access-entries backend (no aws-auth to
    /// start from).
    async fn whole(
        &self,
        reconciler: &Reconciler,
        cluster: &Cluster,
    ) -> Result<(DesiredSet, Vec<String>), String>;
}

/// A full reconcile: everything from what IAM said.
struct FromIam<'a> {
    settings: &'a Settings,
    cluster: &'a str,
    facts: IamFacts,
}

impl DesiredSource for FromIam<'_> {
    async fn desired(
        &self,
        _: &AwsAuth,
        _: &mut ClusterReport,
    ) -> Result<Option<(DesiredSet, Vec<String>)>, String> {
        Ok(Some(desired_for_cluster(
            self.settings,
            self.cluster,
            &self.facts,
        )))
    }

    async fn whole(
        &self,
        _: &Reconciler,
        _: &Cluster,
    ) -> Result<(DesiredSet, Vec<String>), String> {
        Ok(desired_for_cluster(
            self.settings,
            self.cluster,
            &self.facts,
        ))
    }
}

/// A user event: current managed entries, with one user's recomputed. When the user has no
/// entry yet and the event did not give the ARN, it is read once (GetUser) for all clusters.
struct ForUser<'a> {
    reconciler: &'a Reconciler,
    cluster: &'a str,
    user: &'a UserFacts,
    arn: &'a OnceCell<Result<Option<String>, String>>,
}

impl DesiredSource for ForUser<'_> {
    async fn whole(
        &self,
        reconciler: &Reconciler,
        cluster: &Cluster,
    ) -> Result<(DesiredSet, Vec<String>), String> {
        let read = reconciler.read_iam(std::slice::from_ref(cluster)).await;
        let facts = facts_for(cluster, &reconciler.settings, &read)?;
        Ok(desired_for_cluster(
            &reconciler.settings,
            &cluster.name,
            &facts,
        ))
    }

    async fn desired(
        &self,
        current: &AwsAuth,
        report: &mut ClusterReport,
    ) -> Result<Option<(DesiredSet, Vec<String>)>, String> {
        let r = self.reconciler;
        if let Some(found) =
            desired_for_user_event(&r.settings, self.cluster, current, &r.ownership, self.user)
        {
            return Ok(Some(found));
        }
        let arn = self
            .arn
            .get_or_init(|| async {
                r.iam
                    .get_user(&self.user.user_name)
                    .await
                    .map(|u| u.map(|u| u.arn))
                    .map_err(|e| e.to_string())
            })
            .await;
        match arn {
            Ok(Some(arn)) => {
                let user = UserFacts {
                    arn: Some(arn.clone()),
                    ..self.user.clone()
                };
                Ok(desired_for_user_event(
                    &r.settings,
                    self.cluster,
                    current,
                    &r.ownership,
                    &user,
                ))
            }
            Ok(None) => {
                report.warnings.push(format!(
                    "user {} no longer exists; left to the next scheduled reconcile",
                    self.user.user_name
                ));
                Ok(None)
            }
            Err(e) => Err(format!(
                "IAM read failed (GetUser {}): {e}",
                self.user.user_name
            )),
        }
    }
}

/// What a full reconcile read from IAM, per group (an error is kept as its message).
#[derive(Debug)]
struct IamRead {
    groups: BTreeMap<String, Result<Option<Members>, String>>,
    sso_roles: Option<Result<SsoRoles, String>>,
}

/// Group members with their IAM unique ids.
type Members = Vec<(Member, String)>;
/// SSO roles (name, ARN) with their IAM unique ids.
type SsoRoles = Vec<((String, String), String)>;

/// The facts one cluster needs, or the IAM error that stops it.
fn facts_for(cluster: &Cluster, settings: &Settings, read: &IamRead) -> Result<IamFacts, String> {
    let mut facts = IamFacts::default();
    for group in settings
        .groups
        .iter()
        .filter(|g| g.clusters.contains(&cluster.name))
    {
        match read.groups.get(&group.iam_group) {
            Some(Ok(members)) => {
                for (member, id) in members.iter().flatten() {
                    facts
                        .principal_ids
                        .insert(member.arn.to_ascii_lowercase(), id.clone());
                }
                facts.group_members.insert(
                    group.iam_group.clone(),
                    members
                        .as_ref()
                        .map(|m| m.iter().map(|(member, _)| member.clone()).collect()),
                );
            }
            Some(Err(e)) => {
                return Err(format!("IAM read failed (group {}): {e}", group.iam_group));
            }
            None => {}
        }
    }
    if settings
        .sso_permission_sets
        .iter()
        .any(|p| p.clusters.contains(&cluster.name))
    {
        match &read.sso_roles {
            Some(Ok(roles)) => {
                for ((_, arn), id) in roles {
                    facts
                        .principal_ids
                        .insert(arn.to_ascii_lowercase(), id.clone());
                }
                facts.sso_roles = roles.iter().map(|(role, _)| role.clone()).collect();
            }
            Some(Err(e)) => return Err(format!("IAM read failed (SSO roles): {e}")),
            None => {}
        }
    }
    Ok(facts)
}

fn expectation_met(expect: &Expectation, groups: Option<&[String]>) -> bool {
    let member_of =
        |group: &str| groups.is_some_and(|g| g.iter().any(|x| x.eq_ignore_ascii_case(group)));
    match expect {
        Expectation::MemberOf(group) => member_of(group),
        Expectation::NotMemberOf(group) => groups.is_none() || !member_of(group),
        Expectation::UserExists => groups.is_some(),
        Expectation::UserGone => groups.is_none(),
    }
}

/// Full jitter: a random delay up to `delay`, at least a tenth of it.
fn jitter(delay: Duration) -> Duration {
    let millis = delay.as_millis().max(1) as u64;
    Duration::from_millis(rand::random_range(millis / 10..=millis))
}

/// Counts for the CloudWatch embedded-metric line of a run.
pub fn metric_counts(summary: &RunSummary) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    let changes: usize = summary
        .clusters
        .iter()
        .map(|c| c.added.len() + c.changed.len() + c.removed.len())
        .sum();
    counts.insert("Changes", changes as u64);
    counts.insert(
        "Refusals",
        summary
            .clusters
            .iter()
            .filter(|c| c.outcome == Outcome::Refused)
            .count() as u64,
    );
    counts.insert(
        "Errors",
        summary
            .clusters
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .count() as u64,
    );
    counts.insert(
        "Writes",
        summary
            .clusters
            .iter()
            .map(|c| c.api_calls.kube_put + c.api_calls.kube_post + c.api_calls.eks_write)
            .sum(),
    );
    counts.insert("IamCalls", summary.iam_calls);
    counts
}

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
    #[error(transparent)]
    Eks(#[from] crate::aws::eks::EksError),
    #[error("cluster {cluster}: {message}")]
    Connect { cluster: String, message: String },
    #[error("aws-auth on cluster {cluster}: {source}")]
    Kube {
        cluster: String,
        #[source]
        source: KubeError,
    },
    #[error("aws-auth on cluster {cluster} does not parse ({message}); fix it by hand first")]
    Unparsable { cluster: String, message: String },
    #[error("{0}")]
    Iam(String),
    #[error(transparent)]
    AccessEntries(#[from] crate::aws::access_entries::AccessEntryError),
    #[error("aws-auth on cluster {cluster} cannot be rewritten safely: {source}")]
    Rewrite {
        cluster: String,
        #[source]
        source: crate::core::aws_auth::emit::EmitError,
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
        let info = self.eks.describe(&cluster).await?;
        let connect = |message: String| MigrateError::Connect {
            cluster: cluster.name.clone(),
            message,
        };
        match info.authentication_mode {
            AuthenticationMode::ApiAndConfigMap => {}
            AuthenticationMode::ConfigMap => {
                return Err(MigrateError::Mode {
                    cluster: cluster.name.clone(),
                    mode: "CONFIG_MAP",
                    hint: "switch it to API_AND_CONFIG_MAP first: aws eks update-cluster-config --access-config authenticationMode=API_AND_CONFIG_MAP",
                });
            }
            AuthenticationMode::Api => {
                return Err(MigrateError::Mode {
                    cluster: cluster.name.clone(),
                    mode: "API",
                    hint: "EKS no longer reads aws-auth there; there is nothing to move",
                });
            }
        }
        let protected = vec![
            self.protected_identity(&cluster)
                .await
                .map_err(MigrateError::Iam)?,
        ];
        let source = self.token_source(&cluster).await.map_err(connect)?;
        let token = source
            .token(&cluster.name)
            .await
            .map_err(|e| connect(format!("EKS token: {e}")))?;
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
        let aws_auth = AwsAuth::read(&content).map_err(|e| MigrateError::Unparsable {
            cluster: cluster.name.clone(),
            message: e.to_string(),
        })?;
        let (mut desired, mut warnings) = entries::managed_aws_auth(&aws_auth, &self.ownership);
        self.resolve_ids(&mut desired, &mut warnings)
            .await
            .map_err(MigrateError::Iam)?;
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
            guards: GuardSettings {
                max_removal_fraction: self.settings.guards.max_removal_fraction,
                allow_mass_removal: self.allow_mass_removal,
            },
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
        let results = entry_store.execute(&plan.access.changes).await?;
        for (change, result) in plan.access.changes.iter().zip(&results) {
            match result {
                ChangeResult::Done => {}
                ChangeResult::Rejected(e) => report.rejected.push(e.to_string()),
                ChangeResult::NotAttempted(why) => {
                    report
                        .rejected
                        .push(format!("{}: {why}", change.principal_arn));
                }
            }
        }
        let after = entry_store.list().await?;
        let translation = entries::translate(&desired, cluster_account);
        let mut verified = std::collections::BTreeSet::new();
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
