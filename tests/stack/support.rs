//! Test support for running eks-iam-sync against the local stand-ins (moto + eks-sim).
//!
//! One stack per test binary, started with `scripts/local-stack.sh start` (the documented
//! harness) and stopped by a watchdog when the test process exits. Each test gets its own
//! simulated cluster and IAM names prefixed with its own name, so tests run in parallel
//! without seeing each other. Everything is driven through real clients: awscli for IAM and
//! EKS, kubectl for aws-auth, and the eks-iam-sync binary itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub struct Stack {
    env: HashMap<String, String>,
    dir: PathBuf,
}

static STACK: OnceLock<Stack> = OnceLock::new();

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not on PATH: run the tests through ./scripts/test.sh, which installs it"
    );
}

/// The shared stack, started on first use.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| Stack::start("base"))
}

/// A stack of one's own (its own moto and eks-sim), for a test that injects faults the
/// shared stack's other tests must not see (EKS faults are not per cluster; clearing faults
/// clears every rule). Lives until the test process ends.
#[allow(dead_code)]
pub fn private_stack(cluster: &str) -> &'static Stack {
    Box::leak(Box::new(Stack::start(cluster)))
}

impl Stack {
    /// Starts moto + eks-sim with `scripts/local-stack.sh start` (first cluster `cluster`).
    fn start(cluster: &str) -> Stack {
        require("aws");
        require("kubectl");
        let dir =
            std::env::temp_dir().join(format!("eks-iam-sync-it-{}-{cluster}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new(repo().join("scripts/local-stack.sh"))
            .arg("start")
            .env("EKS_IAM_SYNC_STACK_DIR", &dir)
            .env("STACK_AUTH_MODE", "CONFIG_MAP")
            .env("STACK_CLUSTER", cluster)
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/local-stack.sh runs");
        assert!(out.status.success(), "local-stack.sh start failed");
        // Stop the stack when this test process ends, however it ends.
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; EKS_IAM_SYNC_STACK_DIR='{dir}' '{script}' stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = dir.display(),
            script = repo().join("scripts/local-stack.sh").display()
        );
        // `setsid -f` forks the watchdog into its own session and returns at once.
        let started = Command::new("setsid")
            .args(["-f", "bash", "-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("watchdog starts");
        assert!(started.success(), "the stack watchdog did not start");
        let env = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches(['\'', '"']).to_owned()))
            .collect();
        Stack { env, dir }
    }
}

impl Stack {
    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("local-stack.sh did not export {name}"))
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(&self.env).env_remove("RUST_LOG");
        cmd
    }

    /// awscli against the stack; the parsed JSON output (Null when there is none).
    pub fn aws(&self, args: &[&str]) -> Value {
        let out = self
            .command("aws")
            .args(args)
            .args(["--output", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// The simulator's admin API.
    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let url = format!("{}{path}", self.var("EKS_SIM_ADMIN_URL"));
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sf",
            "-X",
            method,
            &url,
            "-H",
            "content-type: application/json",
        ]);
        if let Some(body) = body {
            cmd.args(["-d", body]);
        }
        let out = cmd.output().expect("curl runs");
        assert!(out.status.success(), "{method} {path} failed");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

/// A simulated cluster of one test, with IAM names prefixed by the test's name.
pub struct TestCluster {
    pub name: String,
    stack: &'static Stack,
    endpoint: String,
    ca_file: PathBuf,
    kubeconfig: PathBuf,
    config: PathBuf,
    extra_env: HashMap<String, String>,
}

/// The result of running the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The report of the (only) cluster in an invoke response.
    pub fn cluster(&self) -> Value {
        self.json()["clusters"][0].clone()
    }
}

fn run_output(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl TestCluster {
    /// Creates cluster `t-<test>` (CONFIG_MAP mode; the stack's identity is its creator and
    /// admin) and a kubeconfig for it.
    pub fn new(test: &str) -> TestCluster {
        TestCluster::new_on(stack(), test)
    }

    /// [`TestCluster::new`] on the given stack.
    pub fn new_on(stack: &'static Stack, test: &str) -> TestCluster {
        let name = format!("t-{test}");
        stack.aws(&[
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
        let described = stack.aws(&["eks", "describe-cluster", "--name", &name]);
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
            .replace("--cluster-name, base", &format!("--cluster-name, {name}"));
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

    /// kubectl against this cluster as its creator (an admin).
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.stack.command("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
        }
        run_output(child.wait_with_output().unwrap())
    }

    /// A fast writer for races: a merge patch of aws-auth with curl, authenticated with a
    /// token minted beforehand (kubectl's exec plugin starts Python for every call).
    pub fn patcher(&self) -> impl Fn(&Value) + '_ {
        let minted = self.sync(&["token", "--cluster", &self.name]);
        assert_eq!(minted.code, 0, "{}", minted.stderr);
        let token = minted.json()["status"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        move |patch: &Value| {
            let url = format!(
                "{}/api/v1/namespaces/kube-system/configmaps/aws-auth",
                self.endpoint
            );
            let out = Command::new("curl")
                .args(["-sf", "--cacert"])
                .arg(&self.ca_file)
                .args([
                    "-X",
                    "PATCH",
                    &url,
                    "-H",
                    "content-type: application/merge-patch+json",
                ])
                .args([
                    "-H",
                    &format!("authorization: Bearer {token}"),
                    "-d",
                    &patch.to_string(),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "PATCH aws-auth failed: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    /// A raw client of aws-auth for a "human" writer that reads and writes whole objects:
    /// `(method, body)` → `Some((HTTP status, body))`, `None` when the connection failed.
    /// Authenticated as the cluster creator whatever [`TestCluster::run_as`] says.
    #[allow(dead_code)]
    pub fn raw_api(&self) -> impl Fn(&str, Option<&str>) -> Option<(u16, String)> + '_ {
        // Minted as the stack's identity (not `run_as`'s), again after 10 minutes (EKS takes 15).
        let mint = || {
            let out = self
                .stack
                .command(env!("CARGO_BIN_EXE_eks-iam-sync"))
                .args(["token", "--cluster", &self.name])
                .output()
                .unwrap();
            let minted = run_output(out);
            assert_eq!(minted.code, 0, "{}", minted.stderr);
            let token = minted.json()["status"]["token"]
                .as_str()
                .unwrap()
                .to_owned();
            (std::time::Instant::now(), token)
        };
        let cached = std::sync::Mutex::new(mint());
        move |method: &str, body: Option<&str>| {
            let token = {
                let mut cached = cached.lock().unwrap();
                if cached.0.elapsed() > std::time::Duration::from_secs(600) {
                    *cached = mint();
                }
                cached.1.clone()
            };
            let url = format!(
                "{}/api/v1/namespaces/kube-system/configmaps/aws-auth",
                self.endpoint
            );
            let mut cmd = Command::new("curl");
            cmd.args(["-s", "--max-time", "30", "-w", "\n%{http_code}", "--cacert"])
                .arg(&self.ca_file)
                .args(["-X", method, &url])
                .args(["-H", &format!("authorization: Bearer {token}")]);
            if let Some(body) = body {
                cmd.args([
                    "-H",
                    "content-type: application/json",
                    "--data-binary",
                    body,
                ]);
            }
            let out = cmd.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (body, code) = text.rsplit_once('\n')?;
            let code: u16 = code.trim().parse().ok()?;
            (out.status.success() && code != 0).then(|| (code, body.to_owned()))
        }
    }

    /// aws-auth's `data`, read with kubectl (empty when it does not exist).
    pub fn aws_auth(&self) -> HashMap<String, String> {
        let run = self.kubectl(
            &[
                "get",
                "configmap",
                "aws-auth",
                "-n",
                "kube-system",
                "-o",
                "json",
            ],
            None,
        );
        if run.code != 0 {
            assert!(
                run.stderr.contains("NotFound"),
                "kubectl get failed: {}",
                run.stderr
            );
            return HashMap::new();
        }
        let object: Value = serde_json::from_str(&run.stdout).unwrap();
        serde_json::from_value(object["data"].clone()).unwrap_or_default()
    }

    /// Creates aws-auth by hand (a "human" writer) from the given data sections.
    pub fn create_aws_auth(&self, data: &[(&str, &str)]) {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let manifest = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": data,
        });
        let run = self.kubectl(&["create", "-f", "-"], Some(&manifest.to_string()));
        assert_eq!(run.code, 0, "kubectl create: {}", run.stderr);
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

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Makes an IAM group with these members (users are created).
pub fn iam_group(group: &str, members: &[&str]) {
    let stack = stack();
    stack.aws(&["iam", "create-group", "--group-name", group]);
    for member in members {
        stack.add_member(group, member);
    }
}

impl Stack {
    /// Creates IAM user `user` and adds it to the existing group `group`.
    pub fn add_member(&self, group: &str, user: &str) {
        self.aws(&["iam", "create-user", "--user-name", user]);
        self.aws(&[
            "iam",
            "add-user-to-group",
            "--group-name",
            group,
            "--user-name",
            user,
        ]);
    }
}

/// An IAM user with an access key that eks-sim also knows: (access key id, secret, ARN).
pub fn identity(user: &str) -> (String, String, String) {
    stack().identity(user)
}

impl Stack {
    /// [`identity`] on this stack.
    pub fn identity(&self, user: &str) -> (String, String, String) {
        let stack = self;
        let created = stack.aws(&["iam", "create-user", "--user-name", user]);
        let arn = created["User"]["Arn"].as_str().unwrap().to_owned();
        let key = stack.aws(&["iam", "create-access-key", "--user-name", user]);
        let (id, secret) = (
            key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        );
        let out = Command::new(repo().join("scripts/local-stack.sh"))
            .args(["register", id, secret, &arn])
            .envs(&stack.env)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "register: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (id.to_owned(), secret.to_owned(), arn)
    }
}

/// The `data` key's text, or "".
pub fn section<'a>(data: &'a HashMap<String, String>, key: &str) -> &'a str {
    data.get(key).map_or("", String::as_str)
}

#[allow(dead_code)]
pub fn path_exists(path: &Path) -> bool {
    path.exists()
}
