//! The stack: moto + eks-sim started with `scripts/local-stack.sh` (one shared, or one of a
//! test's own), awscli and the simulator's admin API against it, and IAM users, groups and
//! identities made through it. Clusters are `cluster`'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use super::repo;

pub struct Stack {
    pub(super) env: HashMap<String, String>,
    pub(super) dir: PathBuf,
}

static STACK: OnceLock<Stack> = OnceLock::new();

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

    pub(super) fn command(&self, program: &str) -> Command {
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
        super::aws_json(&out, args)
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
