//! Many accounts on the stand-ins: moto's cross-account AssumeRole gives credentials in
//! another account (moto files what they create under the role's account), awscli and
//! kubectl run with them, and a test's cluster is created in that account (eks-sim puts a
//! cluster in its creator's account, which it asks moto's STS about).

use serde_json::Value;

use super::stack::Stack;
use super::{TestCluster, run_output};

/// Temporary credentials from moto's AssumeRole.
#[derive(Debug, Clone)]
pub struct Assumed {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl Stack {
    /// `sts assume-role` of `role_arn` (moto lets any role of any account be assumed).
    pub fn assume_role(&self, role_arn: &str) -> Assumed {
        let out = self.aws(&[
            "sts",
            "assume-role",
            "--role-arn",
            role_arn,
            "--role-session-name",
            "test",
        ]);
        let text = |key: &str| out["Credentials"][key].as_str().unwrap().to_owned();
        Assumed {
            access_key_id: text("AccessKeyId"),
            secret_access_key: text("SecretAccessKey"),
            session_token: text("SessionToken"),
        }
    }

    /// awscli against the stack as `who`; the parsed JSON output (Null when there is none).
    pub fn aws_as(&self, who: &Assumed, args: &[&str]) -> Value {
        super::aws_json(&self.aws_as_output(who, args), args)
    }

    /// awscli against the stack as `who`, whatever it answers.
    pub fn aws_as_output(&self, who: &Assumed, args: &[&str]) -> std::process::Output {
        self.command("aws")
            .env("AWS_ACCESS_KEY_ID", &who.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &who.secret_access_key)
            .env("AWS_SESSION_TOKEN", &who.session_token)
            .args(args)
            .args(["--output", "json"])
            .output()
            .unwrap()
    }
}

impl TestCluster {
    /// Cluster `t-<test>` created (CONFIG_MAP mode) by `creator`, so in its account; its
    /// kubeconfig signs tokens as `creator` (the cluster's admin).
    pub fn in_account(stack: &'static Stack, test: &str, creator: &Assumed) -> TestCluster {
        let cluster = TestCluster::create(stack, test, |args| stack.aws_as(creator, args));
        cluster.kubeconfig_as(creator, &cluster.kubeconfig);
        cluster
    }

    /// Writes a kubeconfig of this cluster whose tokens `who` signs, at `path`.
    fn kubeconfig_as(&self, who: &Assumed, path: &std::path::Path) {
        let base = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let text: Vec<String> = base
            .lines()
            .map(|line| {
                let value = if line.contains("name: AWS_ACCESS_KEY_ID,") {
                    &who.access_key_id
                } else if line.contains("name: AWS_SECRET_ACCESS_KEY,") {
                    &who.secret_access_key
                } else if line.contains("name: AWS_SESSION_TOKEN,") {
                    &who.session_token
                } else {
                    return line.to_owned();
                };
                let (head, _) = line.split_once("value:").unwrap();
                format!("{head}value: \"{value}\"}}")
            })
            .collect();
        std::fs::write(path, text.join("\n") + "\n").unwrap();
    }

    /// kubectl against this cluster with a token `who` signs (`aws eks get-token`).
    pub fn kubectl_as(&self, who: &Assumed, args: &[&str]) -> super::Run {
        let path =
            self.stack
                .dir
                .join(format!("{}-{}.kubeconfig", self.name, super::rand_suffix()));
        self.kubeconfig_as(who, &path);
        let out = self
            .stack
            .command("kubectl")
            .args(args)
            .env("KUBECONFIG", &path)
            .output()
            .unwrap();
        run_output(out)
    }

    /// Writes the whole eks-iam-sync configuration (clusters included) for this test's runs.
    pub fn configure_all(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }
}
