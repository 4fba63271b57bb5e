//! scripts/local-stack.sh end to end: `start` prints only `export K=V` lines, the cluster
//! creator it made in moto is an admin of the simulated cluster through kubectl, the EKS
//! endpoint answers awscli, `register` teaches eks-sim a new identity, and `stop` ends
//! every process it started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/local-stack.sh")
}

fn stack(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("EKS_IAM_SYNC_STACK_DIR", dir)
        .env("EKS_SIM_BIN", env!("CARGO_BIN_EXE_eks-sim"))
        .env("STACK_CLUSTER", "stacktest")
        .output()
        .expect("bash runs")
}

/// Whether a process runs (a zombie left for a non-reaping init does not count).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn start_prints_exports_makes_an_admin_and_stop_ends_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = stack(dir.path(), &["start"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Stop whatever started, even if an assertion below fails.
    struct Stop<'a>(&'a Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = stack(self.0, &["stop"]);
        }
    }
    let _stop = Stop(dir.path());
    assert!(out.status.success(), "start failed: {stderr}");
    let mut env = BTreeMap::new();
    for line in stdout.lines() {
        let kv = line
            .strip_prefix("export ")
            .unwrap_or_else(|| panic!("not an export line: {line:?}"));
        let (k, v) = kv.split_once('=').expect("K=V");
        env.insert(k.to_owned(), v.to_owned());
    }
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EKS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "KUBECONFIG",
        "EKS_SIM_ADMIN_URL",
    ] {
        assert!(env.contains_key(k), "{k} missing from {stdout}");
    }
    let pids: Vec<String> = ["moto_server.pid", "eks-sim.pid"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    assert!(pids.iter().all(|p| alive(p)));

    let with_env = |cmd: &mut Command| {
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd.env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE");
    };
    let aws = crate::support::require_tool("aws");
    let mut c = Command::new(&aws);
    c.args([
        "eks",
        "describe-cluster",
        "--name",
        "stacktest",
        "--query",
        "cluster.status",
        "--output",
        "text",
    ]);
    with_env(&mut c);
    let o = c.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ACTIVE",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let manifest = dir.path().join("cm.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata: {mapUsers: '[]'}\n").unwrap();
    let mut c = Command::new(crate::support::require_tool("kubectl"));
    c.args(["create", "-f", manifest.to_str().unwrap()]);
    with_env(&mut c);
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "the creator is an admin: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let o = stack(
        dir.path(),
        &[
            "register",
            "AKIANEW0000000000001",
            "s",
            "arn:aws:iam::123456789012:user/new",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let again = stack(dir.path(), &["start"]);
    assert!(
        !again.status.success(),
        "a second start in the same dir must refuse"
    );

    let o = stack(dir.path(), &["stop"]);
    assert!(o.status.success());
    assert!(
        pids.iter().all(|p| !alive(p)),
        "stop must end moto and eks-sim"
    );
}
