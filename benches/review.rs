//! `review` at fleet scale (issue 22): 50 clusters of 1,000 principals each, in one run.
//!
//! eks-sim runs in this process with `BENCH_REVIEW_CLUSTERS` clusters (default 50), each
//! holding `BENCH_REVIEW_PRINCIPALS` access entries (default 1,000): the members of one IAM
//! group, written by a first `apply`. IAM is aws-smithy-mocks (GetGroup, ListUsers,
//! ListRoles answer at once), so the figures are call counts, which do not depend on the
//! machine, and wall times of everything but IAM's latency. A cold reconciler (as the CLI
//! has) makes `plan`, then another cold one makes `review`; each run's EKS calls come from
//! the simulator's own counters and its IAM calls from the mocks' call log.
//!
//! Run: `cargo bench --bench review` (about a minute; `BENCH_REVIEW_CLUSTERS=5` for a quick
//! look). Figures: BENCHMARKS.md "Access review at fleet scale".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_iam::config::{ConfigBag, Intercept};
use aws_sdk_iam::error::BoxError;
use aws_sdk_iam::operation::get_group::GetGroupOutput;
use aws_sdk_iam::operation::list_roles::ListRolesOutput;
use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::{Group, User};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use eks_iam_sync::aws::eks::EksClusters;
use eks_iam_sync::core::history::{Cause, Trigger};
use eks_iam_sync::reconcile::{Clients, Reconciler};
use eks_sim::cluster::AuthMode;
use eks_sim::credentials::TestCredential;
use eks_sim::state::{ClusterSeed, SimConfig};
use eks_sim::{RunningSim, spawn};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const SELF_ARN: &str = "arn:aws:iam::111122223333:user/eks-iam-sync";
const SELF_AK: &str = "AKIAEKSIAMSYNC000001";
const SELF_SK: &str = "eks-iam-sync/secret";
const GROUP: &str = "developers";

/// The operation name of every IAM call made.
#[derive(Debug, Clone, Default)]
struct CallLog(Arc<Mutex<Vec<String>>>);

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = format!("{:?}", context.input());
        let operation = name.split([' ', '{', '(']).next().unwrap_or_default();
        let operation = operation.strip_suffix("Input").unwrap_or(operation);
        self.0.lock().unwrap().push(operation.to_owned());
        Ok(())
    }
}

impl CallLog {
    fn take(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for op in std::mem::take(&mut *self.0.lock().unwrap()) {
            *counts.entry(op).or_default() += 1;
        }
        counts
    }
}

fn user(i: usize) -> User {
    let name = format!("dev-{i:05}");
    User::builder()
        .path("/")
        .user_name(&name)
        .user_id(format!("AIDADEV{i:013}"))
        .arn(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A cold reconciler (nothing remembered) over the simulator's clusters, with IAM and STS
/// mocked; its IAM call log.
fn reconciler(sim: &RunningSim, clusters: &[String], members: usize) -> (Reconciler, CallLog) {
    let users: Arc<Vec<User>> = Arc::new((0..members).map(user).collect());
    let group_users = users.clone();
    let get_group = mock!(aws_sdk_iam::Client::get_group)
        .sequence()
        .output(move || {
            GetGroupOutput::builder()
                .group(
                    Group::builder()
                        .path("/")
                        .group_name(GROUP)
                        .group_id("AGPADEVELOPERS")
                        .arn(format!("arn:aws:iam::{ACCOUNT}:group/{GROUP}"))
                        .create_date(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .set_users(Some(group_users.to_vec()))
                .is_truncated(false)
                .build()
                .unwrap()
        })
        .repeatedly()
        .build();
    let list_users = mock!(aws_sdk_iam::Client::list_users)
        .sequence()
        .output(move || {
            ListUsersOutput::builder()
                .set_users(Some(users.to_vec()))
                .is_truncated(false)
                .build()
                .unwrap()
        })
        .repeatedly()
        .build();
    let list_roles = mock!(aws_sdk_iam::Client::list_roles)
        .sequence()
        .output(|| {
            ListRolesOutput::builder()
                .set_roles(Some(Vec::new()))
                .is_truncated(false)
                .build()
                .unwrap()
        })
        .repeatedly()
        .build();
    let log = CallLog::default();
    let interceptor = log.clone();
    let iam = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        [&get_group, &list_users, &list_roles],
        |c| c.interceptor(interceptor.clone())
    );
    let identity = mock!(aws_sdk_sts::Client::get_caller_identity)
        .sequence()
        .output(|| GetCallerIdentityOutput::builder().arn(SELF_ARN).build())
        .repeatedly()
        .build();
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&identity]);
    let credentials =
        SharedCredentialsProvider::new(Credentials::new(SELF_AK, SELF_SK, None, None, "bench"));
    let base = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(credentials.clone())
        .build();
    let eks_config = aws_sdk_eks::Config::builder()
        .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
        .region(aws_sdk_eks::config::Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(&sim.eks_endpoint)
        .build();
    let config = json!({
        "clusters": clusters
            .iter()
            .map(|c| json!({"name": c, "region": REGION, "backend": "auto"}))
            .collect::<Vec<_>>(),
        "groups": [{"iamGroup": GROUP, "kubernetesGroups": ["developers"]}],
    });
    let env: HashMap<String, String> =
        [("EKS_IAM_SYNC_CONFIG".to_owned(), config.to_string())].into();
    let settings = eks_iam_sync::config::load(&env).expect("the configuration is valid");
    let clients = Clients {
        iam,
        eks: EksClusters::with_eks_config(base.clone(), eks_config),
        sts,
        s3: aws_sdk_s3::Client::new(&base),
        events: aws_sdk_eventbridge::Client::new(&base),
    };
    let reconciler = Reconciler::with_clients(
        Arc::new(settings),
        clients,
        eks_iam_sync::app::ownership_for(&env),
    );
    (reconciler, log)
}

/// The simulator's EKS counters since the last call, summed per operation.
fn eks_calls(sim: &RunningSim) -> BTreeMap<String, u64> {
    let counters: Value = sim.state.counters.snapshot();
    sim.state.counters.reset();
    serde_json::from_value(counters["eks"].clone()).unwrap_or_default()
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

fn main() {
    let n_clusters = env_number("BENCH_REVIEW_CLUSTERS", 50);
    let members = env_number("BENCH_REVIEW_PRINCIPALS", 1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let clusters: Vec<String> = (0..n_clusters).map(|i| format!("c{i:02}")).collect();
        let sim = spawn(SimConfig {
            account_id: ACCOUNT.to_owned(),
            region: REGION.to_owned(),
            credentials: vec![TestCredential {
                access_key_id: SELF_AK.to_owned(),
                secret_access_key: SELF_SK.to_owned(),
                session_token: None,
                arn: SELF_ARN.to_owned(),
                ec2_private_dns_name: None,
            }],
            clusters: clusters
                .iter()
                .map(|name| ClusterSeed {
                    name: name.clone(),
                    auth_mode: AuthMode::Api,
                    creator_arn: Some(SELF_ARN.to_owned()),
                })
                .collect(),
            ..SimConfig::default()
        })
        .await
        .expect("eks-sim starts");
        println!(
            "review bench: {n_clusters} API clusters x {members} principals (+ the creator's entry)"
        );

        let (writer, _) = reconciler(&sim, &clusters, members);
        let started = Instant::now();
        let applied = writer
            .reconcile(&[], false, "bench: first apply", &Cause::of(Trigger::Cli))
            .await;
        assert!(!applied.failed(), "the first apply failed");
        println!(
            "first apply: {} EKS calls in {:.1} s",
            total(&eks_calls(&sim)),
            started.elapsed().as_secs_f64()
        );

        let (planner, plan_log) = reconciler(&sim, &clusters, members);
        let started = Instant::now();
        let plan = planner
            .reconcile(&[], true, "bench: plan", &Cause::of(Trigger::Cli))
            .await;
        let plan_time = started.elapsed();
        assert!(!plan.failed(), "plan failed");
        let plan_eks = eks_calls(&sim);
        let plan_iam = plan_log.take();

        let (reviewer, review_log) = reconciler(&sim, &clusters, members);
        let started = Instant::now();
        let review = reviewer.review(&[]).await;
        let review_time = started.elapsed();
        let review_eks = eks_calls(&sim);
        let review_iam = review_log.take();
        let principals: usize = review.clusters.iter().map(|c| c.principals.len()).sum();
        let findings: usize = review.clusters.iter().map(|c| c.findings.len()).sum();

        println!("| run | wall | EKS calls | per cluster | IAM calls |");
        println!("|---|---|---|---|---|");
        for (name, time, eks, iam) in [
            ("plan (cold)", plan_time, &plan_eks, &plan_iam),
            ("review (cold)", review_time, &review_eks, &review_iam),
        ] {
            println!(
                "| {name} | {:.2} s | {} | {:.0} | {} |",
                time.as_secs_f64(),
                total(eks),
                total(eks) as f64 / n_clusters as f64,
                total(iam),
            );
        }
        println!("plan EKS: {plan_eks:?}");
        println!("review EKS: {review_eks:?}");
        println!("review: {principals} principals, {findings} findings");
        assert!(
            review_eks
                .keys()
                .all(|op| op.starts_with("Describe") || op.starts_with("List")),
            "review wrote: {review_eks:?}"
        );
    });
}
