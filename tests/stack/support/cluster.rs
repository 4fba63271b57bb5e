//! A test's simulated cluster (`t-<test>`, IAM names prefixed with the test's name): creating it
//! in an authentication mode, configuring eks-iam-sync for it, and running the binary against
//! it (sync, invoke with events and schedules). kubectl and aws-auth access are `kube`'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::stack::{Stack, stack};
use super::{Run, rand_suffix, repo, run_output};

/// A simulated cluster of one test, with IAM names prefixed by the test's name.
pub struct TestCluster {
    pub name: String,
    pub(super) stack: &'static Stack,
    pub(super) endpoint: String,
    pub(super) ca_file: PathBuf,
    pub(super) kubeconfig: PathBuf,
    pub(super) config: PathBuf,
    pub(super) extra_env: HashMap<String, String>,
}

impl TestCluster {
    /// Creates cluster `t-<test>` (CONFIG_MAP mode; the stack's identity is its creator and
    /// admin) and a kubeconfig for it.
    pub fn new(test: &str) -> TestCluster {
        TestCluster::new_on(stack(), test)
    }

    /// [`TestCluster::new`] on the given stack.
    pub fn new_on(stack: &'static Stack, test: &str) -> TestCluster {
        TestCluster::create(stack, test, |args| stack.aws(args))
    }

    /// Creates cluster `t-<test>` through `aws` (awscli as some identity) and a kubeconfig
    /// for it as the stack's identity.
    pub(super) fn create(
        stack: &'static Stack,
        test: &str,
        aws: impl Fn(&[&str]) -> Value,
    ) -> TestCluster {
        let name = format!("t-{test}");
        aws(&[
            "eks",
            "create-cluster",
            "--name",
            &name,
            "--role-arn",
            "arn:aws:iam::123456789012:role/eks-cluster",
            "--resources-vpc-config",
            "subnetIds=subnet-0123456789abcdef0",
            "--access-config",
            "authenticationMode=CONFIG_MAP,bootstrapClusterCreatorAdminPermissions=true",
        ]);
        let described = aws(&["eks", "describe-cluster", "--name", &name]);
        let endpoint = described["cluster"]["endpoint"]
            .as_str()
            .unwrap()
            .to_owned();
        let ca = described["cluster"]["certificateAuthority"]["data"]
            .as_str()
            .unwrap()
            .to_owned();
        let ca_file = stack.dir.join(format!("{name}-ca.pem"));
        let decoded = Command::new("base64")
            .arg("-d")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(ca.as_bytes())?;
                child.wait_with_output()
            });
        std::fs::write(&ca_file, decoded.unwrap().stdout).unwrap();
        let base = std::fs::read_to_string(stack.var("KUBECONFIG")).unwrap();
        let kubeconfig = stack.dir.join(format!("{name}.kubeconfig"));
        let text = base
            .replace(
                &format!("server: {}", stack.var("EKS_SIM_CLUSTER_ENDPOINT")),
                &format!("server: {endpoint}"),
            )
            .replace(stack.var("EKS_SIM_CA_FILE"), &ca_file.display().to_string())
            .replace(
                &format!("--cluster-name, {}", stack.var("EKS_SIM_CLUSTER")),
                &format!("--cluster-name, {name}"),
            );
        assert!(
            text.contains(&endpoint) && text.contains(&name),
            "kubeconfig template changed shape:\n{base}"
        );
        std::fs::write(&kubeconfig, text).unwrap();
        TestCluster {
            stack,
            config: stack.dir.join(format!("{name}.config.yaml")),
            name,
            endpoint,
            ca_file,
            kubeconfig,
            extra_env: HashMap::new(),
        }
    }

    /// An IAM name unique to this test.
    pub fn iam(&self, name: &str) -> String {
        format!("{}-{name}", self.name)
    }

    /// The ARN of a user made with [`TestCluster::iam`] names.
    pub fn user_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::123456789012:user/{}", self.iam(name))
    }

    /// Writes the eks-iam-sync configuration for this cluster (`body` follows `clusters:`).
    pub fn configure(&self, body: &str) {
        let text = format!(
            "clusters:\n  - name: {}\n    region: us-east-1\n    backend: aws-auth\n{body}",
            self.name
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// Sets an environment variable for every later run of the binary.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.extra_env.insert(name.into(), value.into());
    }

    /// Runs eks-iam-sync as a different identity (its access key pair and ARN).
    pub fn run_as(&mut self, access_key: &str, secret: &str) {
        self.extra_env
            .insert("AWS_ACCESS_KEY_ID".into(), access_key.into());
        self.extra_env
            .insert("AWS_SECRET_ACCESS_KEY".into(), secret.into());
    }

    /// Runs the eks-iam-sync binary with this cluster's configuration.
    pub fn sync(&self, args: &[&str]) -> Run {
        let out = self
            .stack
            .command(env!("CARGO_BIN_EXE_eks-iam-sync"))
            .args(args)
            .env("EKS_IAM_SYNC_CONFIG", &self.config)
            .envs(&self.extra_env)
            .output()
            .unwrap();
        run_output(out)
    }

    /// `eks-iam-sync invoke` with a payload.
    pub fn invoke(&self, payload: &Value) -> Run {
        let file = self
            .stack
            .dir
            .join(format!("{}-event-{}.json", self.name, rand_suffix()));
        std::fs::write(&file, payload.to_string()).unwrap();
        self.sync(&["invoke", "--event", file.to_str().unwrap()])
    }

    /// Per-verb Kubernetes request counters of this cluster.
    pub fn kube_counters(&self) -> Value {
        self.stack.admin("GET", "/counters", None)["kube"][&self.name].clone()
    }

    pub fn inject(&self, spec: &str) {
        self.stack.admin(
            "POST",
            "/faults",
            Some(&serde_json::json!({ "spec": spec }).to_string()),
        );
    }

    /// A CloudTrail event from `events/NAME.json` with the given request parameters.
    pub fn event(&self, sample: &str, parameters: Value) -> Value {
        let path = repo().join("events").join(format!("{sample}.json"));
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        event["account"] = "123456789012".into();
        event["detail"]["recipientAccountId"] = "123456789012".into();
        event["detail"]["requestParameters"] = parameters;
        event
    }

    /// A scheduled event.
    pub fn schedule(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(repo().join("events/scheduled_event.json")).unwrap(),
        )
        .unwrap()
    }

    /// Creates cluster `t-<test>` in authentication mode `mode` (`CONFIG_MAP`,
    /// `API_AND_CONFIG_MAP` or `API`) on `stack`: created in CONFIG_MAP, then upgraded one
    /// step at a time, as EKS allows. From API_AND_CONFIG_MAP on, the creator (the stack's
    /// identity) has its bootstrap access entry with AmazonEKSClusterAdminPolicy (unmanaged).
    pub fn with_mode_on(stack: &'static Stack, test: &str, mode: &str) -> TestCluster {
        let cluster = TestCluster::new_on(stack, test);
        for step in ["API_AND_CONFIG_MAP", "API"] {
            if mode == "CONFIG_MAP" {
                break;
            }
            cluster.set_mode(step);
            if step == mode {
                break;
            }
        }
        cluster
    }

    /// [`TestCluster::with_mode_on`] on the shared stack.
    pub fn with_mode(test: &str, mode: &str) -> TestCluster {
        TestCluster::with_mode_on(stack(), test, mode)
    }

    /// Upgrades the cluster's authentication mode (`aws eks update-cluster-config`).
    pub fn set_mode(&self, mode: &str) {
        self.stack.aws(&[
            "eks",
            "update-cluster-config",
            "--name",
            &self.name,
            "--access-config",
            &format!("authenticationMode={mode}"),
        ]);
    }

    /// The stack this cluster lives on (awscli and the simulator's admin API through it).
    pub fn on(&self) -> &'static Stack {
        self.stack
    }

    /// Like [`TestCluster::configure`], with the cluster's `backend` given.
    pub fn configure_backend(&self, backend: &str, body: &str) {
        let text = format!(
            "clusters:\n  - name: {}\n    region: us-east-1\n    backend: {backend}\n{body}",
            self.name
        );
        std::fs::write(&self.config, text).unwrap();
    }
}
