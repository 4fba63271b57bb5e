//! The in-process harness: a [`Scenario`] is one cluster on an eks-sim started in this
//! process (127.0.0.1:0), a reconciler whose IAM and STS clients are aws-smithy-mocks
//! clients and whose EKS client talks to the simulator, and a verifier that fails on a
//! missing or an extra call (kube-rs controller-rs's `Scenario`, in spirit).
//!
//! # How the verifier works
//! - IAM answers from rules in [`RuleMode::Sequential`]: the test lists, in order, every IAM
//!   call it expects (an out-of-order call panics in the mock). A [`CallLog`] interceptor on
//!   the IAM and STS clients records the operation of every call made.
//! - EKS and Kubernetes calls are counted by eks-sim's per-verb counters.
//! - [`Scenario::verify`] compares, for one step, the recorded IAM and STS operations and the
//!   simulator's EKS and Kubernetes counters with [`Calls`] — exactly, so a missing call and an
//!   extra one both fail — then resets them for the next step. [`Scenario::finish`] checks that
//!   every IAM rule answered exactly once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_iam::config::{ConfigBag, Intercept};
use aws_sdk_iam::error::BoxError;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use eks_iam_sync::aws::eks::EksClusters;
use eks_iam_sync::aws::timeouts::AwsTimeouts;
use eks_iam_sync::fleet::WorkQueue;
use eks_iam_sync::handler::{Handler, HandlerError};
use eks_iam_sync::reconcile::{Clients, Reconciler};
use eks_sim::cluster::AuthMode;
use eks_sim::credentials::TestCredential;
use eks_sim::faults::FaultRule;
use eks_sim::state::{ClusterSeed, SimConfig};
use eks_sim::{RunningSim, spawn};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const CLUSTER: &str = "prod";
/// The work queue of fleet-mode scenarios.
pub const QUEUE_URL: &str =
    "https://sqs.us-east-1.amazonaws.com/111122223333/eks-iam-sync-work.fifo";
/// Our own identity: the cluster's creator (so an admin on it), protected by the guards.
pub const SELF_ARN: &str = "arn:aws:iam::111122223333:user/eks-iam-sync";
const SELF_AK: &str = "AKIAEKSIAMSYNC000001";
const SELF_SK: &str = "eks-iam-sync/secret";

/// Records the operation name of every call a client makes (one per operation, retries
/// included in it), from the type of its input.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The input prints as `TypeErasedBox[..]:GetGroupInput { .. }`.
        let debug = format!("{:?}", context.input());
        let after = debug
            .split_once("]:")
            .map_or(debug.as_str(), |(_, rest)| rest);
        let name: String = after
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let name = name.strip_suffix("Input").unwrap_or(&name).to_owned();
        self.0.lock().unwrap().push(name);
        Ok(())
    }
}

/// The calls one step must make, no more and no fewer.
#[derive(Debug, Default)]
pub struct Calls {
    iam: Vec<String>,
    sts: Vec<String>,
    eks: BTreeMap<String, u64>,
    kube: BTreeMap<String, u64>,
}

impl Calls {
    /// No call at all.
    pub fn none() -> Calls {
        Calls::default()
    }

    /// IAM operations, in order.
    pub fn iam(mut self, operations: &[&str]) -> Calls {
        self.iam = operations.iter().map(|o| (*o).to_owned()).collect();
        self
    }

    /// STS GetCallerIdentity (made once per reconciler, by the first cluster that needs it).
    pub fn caller_identity(mut self) -> Calls {
        self.sts = vec!["GetCallerIdentity".to_owned()];
        self
    }

    /// EKS operations with their counts (eks-sim's counter names: the operation).
    pub fn eks(mut self, counts: &[(&str, u64)]) -> Calls {
        self.eks = counted(counts);
        self
    }

    /// Kubernetes verbs on the cluster with their counts (get, create, update, ...).
    pub fn kube(mut self, counts: &[(&str, u64)]) -> Calls {
        self.kube = counted(counts);
        self
    }
}

/// Mappings: members of IAM group `eks-admins` get `system:masters`.
pub fn admins() -> Value {
    json!({"groups": [{"iamGroup": "eks-admins", "kubernetesGroups": ["system:masters"]}]})
}

/// The first full run on a fresh aws-auth cluster: GetGroup, our identity, DescribeCluster,
/// then `kube` (GET and create when nothing interferes).
pub fn first_aws_auth_run(kube: &[(&str, u64)]) -> Calls {
    Calls::none()
        .iam(&["GetGroup"])
        .caller_identity()
        .eks(&[("DescribeCluster", 1)])
        .kube(kube)
}

fn counted(counts: &[(&str, u64)]) -> BTreeMap<String, u64> {
    counts.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// One cluster, its simulator and a reconciler wired to mocks; see the module doc.
pub struct Scenario {
    pub sim: RunningSim,
    handler: Handler,
    iam_rules: Vec<Rule>,
    sqs_rules: Vec<Rule>,
    iam_log: CallLog,
    sts_log: CallLog,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").finish_non_exhaustive()
    }
}

/// What a scenario starts from.
#[derive(Debug)]
pub struct Setup {
    mode: AuthMode,
    backend: &'static str,
    mappings: Value,
    iam: Vec<Rule>,
    faults: Vec<&'static str>,
    /// Fleet mode: the work queue's SendMessageBatch answers (`None`: in place).
    sqs: Option<Vec<Rule>>,
    /// The time limits of the AWS clients that make real requests (EKS, STS AssumeRole).
    timeouts: AwsTimeouts,
}

impl Setup {
    /// Cluster `prod` in `mode` with `backend`, and the configuration's mappings (`groups`,
    /// `users`, ... as JSON).
    pub fn cluster(mode: AuthMode, backend: &'static str, mappings: Value) -> Setup {
        Setup {
            mode,
            backend,
            mappings,
            iam: Vec::new(),
            faults: Vec::new(),
            sqs: None,
            timeouts: AwsTimeouts::default(),
        }
    }

    /// The usual cluster: `CONFIG_MAP`, `backend: aws-auth`, members of IAM group
    /// `eks-admins` get `system:masters`.
    pub fn admins_on_aws_auth() -> Setup {
        Setup::cluster(AuthMode::ConfigMap, "aws-auth", admins())
    }

    /// The IAM answers, in the order the calls must come (across every step of the test).
    pub fn iam(mut self, rules: Vec<Rule>) -> Setup {
        self.iam = rules;
        self
    }

    /// An eks-sim fault rule in its flag form (`kube:update:409:count=1`).
    pub fn fault(mut self, spec: &'static str) -> Setup {
        self.faults.push(spec);
        self
    }

    /// The AWS clients' time limits (the production defaults unless given).
    pub fn timeouts(mut self, timeouts: AwsTimeouts) -> Setup {
        self.timeouts = timeouts;
        self
    }

    /// Fleet mode, with the work queue answering SendMessageBatch from `rules` in order.
    pub fn fleet(mut self, rules: Vec<Rule>) -> Setup {
        self.sqs = Some(rules);
        self
    }

    pub async fn start(self) -> Scenario {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
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
            clusters: vec![ClusterSeed {
                name: CLUSTER.to_owned(),
                auth_mode: self.mode,
                creator_arn: Some(SELF_ARN.to_owned()),
            }],
            faults: self
                .faults
                .iter()
                .map(|s| FaultRule::parse_spec(s).expect("fault spec"))
                .collect(),
            ..SimConfig::default()
        })
        .await
        .expect("eks-sim starts");
        let mut config = json!({
            "clusters": [{"name": CLUSTER, "region": REGION, "backend": self.backend}],
        });
        if let (Value::Object(config), Value::Object(mappings)) = (&mut config, self.mappings) {
            config.extend(mappings);
        }
        let env: HashMap<String, String> =
            [("EKS_IAM_SYNC_CONFIG".to_owned(), config.to_string())].into();
        let settings = eks_iam_sync::config::load(&env).expect("the configuration is valid");

        let iam_log = CallLog::default();
        let log = iam_log.clone();
        let iam = mock_client!(aws_sdk_iam, RuleMode::Sequential, &self.iam, |c| c
            .interceptor(log.clone()));
        let sts_log = CallLog::default();
        let log = sts_log.clone();
        let identity = mock!(aws_sdk_sts::Client::get_caller_identity)
            .sequence()
            .output(|| GetCallerIdentityOutput::builder().arn(SELF_ARN).build())
            .repeatedly()
            .build();
        let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&identity], |c| c
            .interceptor(log.clone()));

        let credentials = SharedCredentialsProvider::new(Credentials::new(
            SELF_AK, SELF_SK, None, None, "scenario",
        ));
        let base = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(credentials.clone())
            .timeout_config(self.timeouts.sdk_config())
            .build();
        let eks_config = aws_sdk_eks::Config::builder()
            .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
            .region(aws_sdk_eks::config::Region::new(REGION))
            .credentials_provider(credentials)
            .endpoint_url(&sim.eks_endpoint)
            .timeout_config(self.timeouts.sdk_config())
            .build();
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
        let queue = self.sqs.as_ref().map(|rules| {
            let client = mock_client!(aws_sdk_sqs, RuleMode::Sequential, rules);
            WorkQueue::new(client, QUEUE_URL)
        });
        Scenario {
            sim,
            handler: Handler::new(reconciler, queue),
            iam_rules: self.iam,
            sqs_rules: self.sqs.unwrap_or_default(),
            iam_log,
            sts_log,
        }
    }
}

impl Scenario {
    /// One Lambda invocation with `payload`, in process.
    pub async fn handle(&self, payload: &Value) -> Result<Value, HandlerError> {
        self.handler.handle(payload).await
    }

    /// Asserts the calls made since the last verify are exactly `expected`, then starts
    /// counting afresh.
    #[track_caller]
    pub fn verify(&self, expected: Calls) {
        let counters = self.sim.state.counters.snapshot();
        self.sim.state.counters.reset();
        let eks: BTreeMap<String, u64> =
            serde_json::from_value(counters["eks"].clone()).unwrap_or_default();
        let kube: BTreeMap<String, u64> =
            serde_json::from_value(counters["kube"][CLUSTER].clone()).unwrap_or_default();
        let (iam, sts) = (self.iam_log.take(), self.sts_log.take());
        let what = "calls made (left) differ from the calls expected (right)";
        assert_eq!(iam, expected.iam, "IAM {what}");
        assert_eq!(sts, expected.sts, "STS {what}");
        assert_eq!(eks, expected.eks, "EKS {what}");
        assert_eq!(kube, expected.kube, "Kubernetes {what}");
    }

    /// Every IAM rule (and SQS rule, in fleet mode) answered exactly once (none left unused).
    #[track_caller]
    pub fn finish(self) {
        let unused: Vec<usize> = (0..self.iam_rules.len())
            .filter(|i| self.iam_rules[*i].num_calls() != 1)
            .collect();
        assert!(
            unused.is_empty(),
            "IAM rules not answered exactly once (by index): {unused:?}"
        );
        let unused: Vec<usize> = (0..self.sqs_rules.len())
            .filter(|i| self.sqs_rules[*i].num_calls() != 1)
            .collect();
        assert!(
            unused.is_empty(),
            "SQS rules not answered exactly once (by index): {unused:?}"
        );
    }

    /// UpdateClusterConfig's authentication mode change, as EKS makes it.
    pub fn change_mode(&self, to: AuthMode) {
        let mut world = self.sim.state.world();
        let cluster = world.clusters.get_mut(CLUSTER).expect("the cluster exists");
        cluster
            .change_auth_mode(to)
            .expect("EKS allows this change");
    }

    /// What the cluster would authorize `arn` as now (`None`: a 401), decided by the
    /// simulator the way EKS decides it.
    pub fn identity_of(&self, arn: &str) -> Option<eks_sim::identity::Identity> {
        let world = self.sim.state.world();
        let cluster = world.clusters.get(CLUSTER).expect("the cluster exists");
        let caller = eks_sim::token::VerifiedCaller {
            access_key_id: "AKIAEXAMPLE".to_owned(),
            arn: arn.to_owned(),
            ec2_private_dns_name: None,
        };
        eks_sim::identity::map(cluster, &caller).ok()
    }

    /// Adds `count` unmanaged access entries (users `filler-N`) to the cluster, as if someone
    /// else had made them: a cluster of that size for the calls a run makes.
    pub fn seed_unmanaged_entries(&self, count: usize) {
        let mut world = self.sim.state.world();
        let cluster = world.clusters.get_mut(CLUSTER).expect("the cluster exists");
        let first = cluster.access_entries.all().len();
        for i in first..first + count {
            let arn = format!("arn:aws:iam::{ACCOUNT}:user/filler-{i:04}");
            let principal = eks_sim::arn::PrincipalArn::parse(&arn).expect("a user ARN");
            let new = eks_sim::access_entries::NewEntry {
                principal_arn: arn,
                kubernetes_groups: vec!["viewers".to_owned()],
                username: None,
                entry_type: "STANDARD".to_owned(),
                tags: json!({}),
            };
            cluster
                .access_entries
                .create(new, principal, CLUSTER, REGION, ACCOUNT)
                .expect("under EKS's limit");
        }
    }

    /// Forgets the calls made so far (a step whose calls another test already states).
    pub fn counters_reset(&self) {
        self.sim.state.counters.reset();
        self.iam_log.take();
        self.sts_log.take();
    }

    /// CreateAccessEntry of `arn` by hand, with `groups` and no policy.
    pub fn create_entry(&self, arn: &str, groups: &[&str]) {
        let mut world = self.sim.state.world();
        let cluster = world.clusters.get_mut(CLUSTER).expect("the cluster exists");
        let principal = eks_sim::arn::PrincipalArn::parse(arn).expect("a principal ARN");
        let new = eks_sim::access_entries::NewEntry {
            principal_arn: arn.to_owned(),
            kubernetes_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            username: None,
            entry_type: "STANDARD".to_owned(),
            tags: json!({}),
        };
        cluster
            .access_entries
            .create(new, principal, CLUSTER, REGION, ACCOUNT)
            .expect("under EKS's limit");
    }

    /// UpdateAccessEntry of `arn` by hand (`body` as EKS takes it: `kubernetesGroups`,
    /// `username`).
    pub fn edit_entry(&self, arn: &str, body: Value) {
        let mut world = self.sim.state.world();
        let cluster = world.clusters.get_mut(CLUSTER).expect("the cluster exists");
        cluster
            .access_entries
            .update(arn, &body)
            .expect("EKS takes the edit");
    }

    /// The Kubernetes groups of `arn`'s access entry now.
    pub fn entry_groups(&self, arn: &str) -> Vec<String> {
        let world = self.sim.state.world();
        let cluster = world.clusters.get(CLUSTER).expect("the cluster exists");
        cluster
            .access_entries
            .get(arn)
            .map(|e| e.kubernetes_groups.clone())
            .unwrap_or_default()
    }

    /// Removes `arn`'s access entry, as someone with EKS access would.
    pub fn delete_entry(&self, arn: &str) {
        let mut world = self.sim.state.world();
        let cluster = world.clusters.get_mut(CLUSTER).expect("the cluster exists");
        cluster
            .access_entries
            .delete(arn)
            .expect("the entry exists");
    }

    /// The principals holding an access entry now.
    pub fn access_entries(&self) -> Vec<String> {
        let world = self.sim.state.world();
        let cluster = world.clusters.get(CLUSTER).expect("the cluster exists");
        cluster
            .access_entries
            .all()
            .iter()
            .map(|e| e.principal_arn.clone())
            .collect()
    }

    /// Writes aws-auth by hand (`data`: section name → YAML text), as someone with
    /// cluster access would: creates it, or replaces whatever is there.
    pub fn put_aws_auth(&self, data: Value) {
        let mut world = self.sim.state.world();
        let cluster = world.clusters.get_mut(CLUSTER).expect("the cluster exists");
        let body =
            json!({"metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": data});
        let exists = cluster.configmaps.data("kube-system", "aws-auth").is_some();
        let written = if exists {
            cluster
                .configmaps
                .replace("kube-system", "aws-auth", body, false)
        } else {
            cluster.configmaps.create("kube-system", body, false)
        };
        written.expect("aws-auth is written");
    }

    /// aws-auth as the cluster stores it now: section name → its YAML text.
    pub fn aws_auth(&self) -> BTreeMap<String, String> {
        let world = self.sim.state.world();
        let cluster = world.clusters.get(CLUSTER).expect("the cluster exists");
        cluster
            .configmaps
            .data("kube-system", "aws-auth")
            .map(|data| {
                data.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// An insta JSON snapshot of a handler response, with what varies between runs (the
/// simulator's ports) filtered out.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]")]}, {
            insta::assert_json_snapshot!($name, $value);
        })
    };
}
pub(crate) use snapshot;

/// A sample payload from `events/`; for an EventBridge event, with its account set to
/// [`ACCOUNT`] and, for a CloudTrail event, the given request parameters.
pub fn event(sample: &str, parameters: Option<Value>) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(format!("{sample}.json"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    if event.get("account").is_some() {
        event["account"] = ACCOUNT.into();
    }
    if let Some(parameters) = parameters {
        event["detail"]["recipientAccountId"] = ACCOUNT.into();
        event["detail"]["requestParameters"] = parameters;
    }
    event
}

/// IAM answers for the scenarios (users `NAME` with ARN `arn:aws:iam::ACCOUNT:user/NAME` and
/// unique id `AIDA` + NAME in capitals).
pub mod iam {
    use aws_sdk_iam::Client;
    use aws_sdk_iam::error::ErrorMetadata;
    use aws_sdk_iam::operation::get_group::{GetGroupError, GetGroupOutput};
    use aws_sdk_iam::operation::get_user::GetUserOutput;
    use aws_sdk_iam::operation::list_groups_for_user::{
        ListGroupsForUserError, ListGroupsForUserOutput,
    };
    use aws_sdk_iam::primitives::DateTime;
    use aws_sdk_iam::types::error::NoSuchEntityException;
    use aws_sdk_iam::types::{Group, User};
    use aws_smithy_mocks::{Rule, mock};

    use super::ACCOUNT;

    pub fn user_arn(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:user/{name}")
    }

    fn user(name: &str) -> User {
        User::builder()
            .path("/")
            .user_name(name)
            .user_id(format!("AIDA{}", name.to_uppercase()))
            .arn(user_arn(name))
            .create_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    fn group(name: &str) -> Group {
        Group::builder()
            .path("/")
            .group_name(name)
            .group_id(format!("AGPA{}", name.to_uppercase()))
            .arn(format!("arn:aws:iam::{ACCOUNT}:group/{name}"))
            .create_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    /// GetGroup `name`: one page with `members`.
    pub fn get_group(name: &'static str, members: &'static [&'static str]) -> Rule {
        mock!(Client::get_group)
            .match_requests(move |req| req.group_name() == Some(name))
            .then_output(move || {
                GetGroupOutput::builder()
                    .group(group(name))
                    .set_users(Some(members.iter().map(|m| user(m)).collect()))
                    .is_truncated(false)
                    .build()
                    .unwrap()
            })
    }

    /// GetGroup `name` denied (not retryable: the cluster fails at once).
    pub fn get_group_denied(name: &'static str) -> Rule {
        mock!(Client::get_group)
            .match_requests(move |req| req.group_name() == Some(name))
            .then_error(|| {
                GetGroupError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDenied")
                        .message("User is not authorized to perform: iam:GetGroup")
                        .build(),
                )
            })
    }

    /// ListGroupsForUser `name`: `groups`, one page.
    pub fn list_groups_for_user(name: &'static str, groups: &'static [&'static str]) -> Rule {
        mock!(Client::list_groups_for_user)
            .match_requests(move |req| req.user_name() == Some(name))
            .then_output(move || {
                ListGroupsForUserOutput::builder()
                    .set_groups(Some(groups.iter().map(|g| group(g)).collect()))
                    .is_truncated(false)
                    .build()
                    .unwrap()
            })
    }

    /// ListGroupsForUser `name`: NoSuchEntity (the user is gone).
    pub fn list_groups_for_user_gone(name: &'static str) -> Rule {
        mock!(Client::list_groups_for_user)
            .match_requests(move |req| req.user_name() == Some(name))
            .then_error(|| {
                ListGroupsForUserError::NoSuchEntityException(
                    NoSuchEntityException::builder()
                        .message("The user with name dave cannot be found.")
                        .build(),
                )
            })
    }

    /// GetUser `name`.
    pub fn get_user(name: &'static str) -> Rule {
        mock!(Client::get_user)
            .match_requests(move |req| req.user_name() == Some(name))
            .then_output(move || GetUserOutput::builder().user(user(name)).build())
    }
}
