//! `eks-iam-sync token` end to end: the ExecCredential kubectl reads, credentials and region
//! from the standard AWS chain, the exit codes, and role assumption against moto.
//!
//! Every run starts from an empty environment with empty AWS config files and instance
//! metadata disabled, so nothing reaches the network (moto listens on 127.0.0.1).

use std::time::{Duration, SystemTime};

use crate::token_support::{AKID, Moto, SECRET, SESSION, param};
use assert_cmd::Command;
use eks_iam_sync::core::token;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config"), "").unwrap();
        std::fs::write(dir.path().join("credentials"), "").unwrap();
        Env { dir }
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.path().join(file), text).unwrap();
    }

    /// The binary with only what the test gives it.
    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("eks-iam-sync").unwrap();
        cmd.env_clear()
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", self.dir.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .timeout(Duration::from_secs(60));
        cmd
    }

    fn with_keys(&self) -> Command {
        let mut cmd = self.cmd();
        cmd.env("AWS_ACCESS_KEY_ID", AKID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET);
        cmd
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    for secret in [SECRET, SESSION] {
        assert!(!run.stdout.contains(secret), "secret on stdout");
        assert!(!run.stderr.contains(secret), "secret on stderr");
    }
    assert!(!run.stderr.contains(token::TOKEN_PREFIX), "token on stderr");
    assert!(
        !run.stderr.contains("X-Amz-Signature"),
        "signature on stderr"
    );
    run
}

/// Parses a successful run: the ExecCredential and the URL inside its token.
fn exec_credential(run: &Run) -> (Value, String) {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "one JSON document: {}",
        run.stdout
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let url = token::decode(doc["status"]["token"].as_str().unwrap()).unwrap();
    (doc, url)
}

fn host(url: &str) -> &str {
    url.strip_prefix("https://")
        .unwrap()
        .split_once('/')
        .unwrap()
        .0
}

fn parse_rfc3339(s: &str) -> SystemTime {
    SystemTime::from(s.parse::<jiff::Timestamp>().unwrap())
}

#[test]
fn prints_an_exec_credential_kubectl_accepts() {
    let env = Env::new();
    let before = SystemTime::now();
    let out =
        run(env
            .with_keys()
            .env("AWS_REGION", "eu-west-1")
            .args(["token", "--cluster", "prod"]));
    let after = SystemTime::now();
    let (doc, url) = exec_credential(&out);
    assert_eq!(out.stderr, "");
    assert_eq!(doc["kind"], "ExecCredential");
    assert_eq!(doc["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(doc["spec"], serde_json::json!({}));
    assert_eq!(host(&url), "sts.eu-west-1.amazonaws.com");
    assert_eq!(
        param(&url, "X-Amz-SignedHeaders").unwrap(),
        "host;x-k8s-aws-id"
    );
    assert_eq!(param(&url, "X-Amz-Expires").unwrap(), "60");
    assert!(param(&url, "X-Amz-Credential").unwrap().starts_with(AKID));
    assert!(param(&url, "X-Amz-Security-Token").is_none());

    let expiry = doc["status"]["expirationTimestamp"].as_str().unwrap();
    assert!(expiry.ends_with('Z') && expiry.len() == 20, "{expiry}");
    let expiry = parse_rfc3339(expiry);
    let fourteen = Duration::from_secs(14 * 60);
    assert!(
        expiry + Duration::from_secs(1) >= before + fourteen,
        "expiry too early"
    );
    assert!(expiry <= after + fourteen, "expiry too late");
    let signed =
        jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", param(&url, "X-Amz-Date").unwrap())
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp();
    assert_eq!(
        expiry,
        SystemTime::from(signed) + fourteen,
        "now + 14 min of the signing time"
    );
}

#[test]
fn the_region_flag_wins_over_the_environment() {
    let env = Env::new();
    let out = run(env.with_keys().env("AWS_REGION", "eu-west-1").args([
        "token",
        "--cluster",
        "prod",
        "--region",
        "cn-north-1",
    ]));
    let (_, url) = exec_credential(&out);
    assert_eq!(host(&url), "sts.cn-north-1.amazonaws.com.cn");
}

#[test]
fn region_and_credentials_come_from_the_aws_profile_files() {
    let env = Env::new();
    env.write("config", "[default]\nregion = us-gov-west-1\n");
    env.write(
        "credentials",
        &format!(
            "[default]\naws_access_key_id = AKIDFROMPROFILE\naws_secret_access_key = {SECRET}\n"
        ),
    );
    let out = run(env.cmd().args(["token", "--cluster", "prod"]));
    let (_, url) = exec_credential(&out);
    assert_eq!(host(&url), "sts.us-gov-west-1.amazonaws.com");
    assert!(
        param(&url, "X-Amz-Credential")
            .unwrap()
            .starts_with("AKIDFROMPROFILE/")
    );
}

#[test]
fn a_session_token_is_carried_in_the_url_and_nowhere_else() {
    let env = Env::new();
    let out = run(env
        .with_keys()
        .env("AWS_SESSION_TOKEN", SESSION)
        .env("AWS_REGION", "us-east-1")
        .args(["token", "--cluster", "prod"]));
    let (_, url) = exec_credential(&out);
    assert_eq!(param(&url, "X-Amz-Security-Token").unwrap(), SESSION);
}

#[test]
fn sdk_endpoint_overrides_do_not_change_the_token_host() {
    let env = Env::new();
    let out = run(env
        .with_keys()
        .env("AWS_REGION", "eu-central-1")
        .env(
            "AWS_ENDPOINT_URL",
            "https://vpce-123.sts.eu-central-1.vpce.amazonaws.com",
        )
        .env("AWS_ENDPOINT_URL_STS", "https://sts.example.internal")
        .args(["token", "--cluster", "prod"]));
    let (_, url) = exec_credential(&out);
    assert_eq!(host(&url), "sts.eu-central-1.amazonaws.com");
}

#[test]
fn the_api_version_follows_kubernetes_exec_info() {
    let env = Env::new();
    let info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
    let out = run(env
        .with_keys()
        .env("AWS_REGION", "us-east-1")
        .env("KUBERNETES_EXEC_INFO", info)
        .args(["token", "--cluster", "prod"]));
    let (doc, _) = exec_credential(&out);
    assert_eq!(doc["apiVersion"], "client.authentication.k8s.io/v1");

    let out = run(env
        .with_keys()
        .env("AWS_REGION", "us-east-1")
        .env("KUBERNETES_EXEC_INFO", "{not json")
        .args(["token", "--cluster", "prod"]));
    let (doc, _) = exec_credential(&out);
    assert_eq!(doc["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert!(out.stderr.starts_with("warning: "), "{}", out.stderr);
}

#[test]
fn a_missing_region_is_one_line_and_exit_1() {
    let env = Env::new();
    let out = run(env.with_keys().args(["token", "--cluster", "prod"]));
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: no AWS region"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_credentials_are_one_line_and_exit_1() {
    let env = Env::new();
    let out = run(env
        .cmd()
        .env("AWS_REGION", "us-east-1")
        .args(["token", "--cluster", "prod"]));
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: no AWS credentials"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_invalid_cluster_name_is_one_line_and_exit_1() {
    let env = Env::new();
    let out = run(env.with_keys().env("AWS_REGION", "us-east-1").args([
        "token",
        "--cluster",
        "prod/../x",
    ]));
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("EKS cluster name"), "{}", out.stderr);
}

#[test]
fn role_arn_assumes_the_role_through_sts_and_signs_with_it() {
    let moto = Moto::start();
    let env = Env::new();
    let role = "arn:aws:iam::210987654321:role/cluster-admin";
    let out = run(env
        .with_keys()
        .env("AWS_REGION", "us-west-2")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .args(["token", "--cluster", "prod", "--role-arn", role]));
    let (_, url) = exec_credential(&out);
    assert_eq!(host(&url), "sts.us-west-2.amazonaws.com");
    let credential = param(&url, "X-Amz-Credential").unwrap();
    let role_key = credential.split('/').next().unwrap();
    assert_ne!(role_key, AKID);
    assert!(param(&url, "X-Amz-Security-Token").is_some());
    let arn = moto.caller_arn(role_key);
    assert!(
        arn.starts_with("arn:aws:sts::210987654321:assumed-role/cluster-admin/eks-iam-sync-"),
        "{arn}"
    );
}
