//! Test support for running eks-iam-sync against the local stand-ins (moto + eks-sim).
//!
//! One stack per test binary, started with `scripts/local-stack.sh start` (the documented
//! harness) and stopped by a watchdog when the test process exits. Each test gets its own
//! simulated cluster and IAM names prefixed with its own name, so tests run in parallel
//! without seeing each other. Everything is driven through real clients: awscli for IAM and
//! EKS, kubectl for aws-auth, and the eks-iam-sync binary itself.
//!
//! Split by part: `stack` (starting moto + eks-sim, awscli, the admin API, IAM users and
//! groups), `cluster` (a test's simulated cluster and running the binary against it), `kube`
//! (kubectl and raw access to aws-auth) and `accounts` (moto's cross-account AssumeRole, a
//! cluster in another account). Re-exported here, with the small shared helpers.

mod accounts;
mod cluster;
mod kube;
mod lambda;
mod stack;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

#[allow(unused_imports)]
pub use accounts::Assumed;
pub use cluster::TestCluster;
pub use stack::{Stack, iam_group, identity, private_stack, stack};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// The JSON output of a successful awscli run (Null when there is none); panics with its
/// stderr otherwise.
fn aws_json(out: &Output, args: &[&str]) -> Value {
    assert!(
        out.status.success(),
        "aws {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn run_output(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The `data` key's text, or "".
pub fn section<'a>(data: &'a HashMap<String, String>, key: &str) -> &'a str {
    data.get(key).map_or("", String::as_str)
}

#[allow(dead_code)]
pub fn path_exists(path: &Path) -> bool {
    path.exists()
}
