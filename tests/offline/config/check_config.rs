//! `eks-iam-sync check-config [FILE]` and `check-config --schema`, run as the binary: every
//! problem as a `path: value: why` line, exit 0 valid / 1 invalid (usage errors too), no AWS
//! (the environment is cleared: no credentials, no endpoint), and a schema that is the
//! committed `config.schema.json` and accepts the repository's sample configurations.

use std::process::Command as Process;
use std::time::Duration;

use assert_cmd::Command;
use eks_iam_sync::config::{parse_raw, schema_json};
use serde_json::Value;

use super::{fixture, repo_file};

/// The binary with an empty environment (no AWS credentials or endpoints: nothing to call).
fn check_config() -> Command {
    let mut cmd = Command::cargo_bin("eks-iam-sync").unwrap();
    cmd.env_clear().timeout(Duration::from_secs(60));
    cmd.arg("check-config");
    cmd
}

fn fixture_arg(name: &str) -> String {
    fixture(name).display().to_string()
}

#[test]
fn a_valid_file_exits_0_with_what_it_holds() {
    let path = fixture_arg("example.yaml");
    check_config()
        .arg(&path)
        .assert()
        .code(0)
        .stdout(format!(
            "{path}: valid (2 cluster(s), 2 group(s), 1 user(s), 1 role(s), 1 permission set(s), 1 account(s))\n"
        ))
        .stderr("");
}

#[test]
fn a_broken_file_lists_every_problem_and_exits_1() {
    let path = fixture_arg("broken.yaml");
    check_config()
        .arg(&path)
        .assert()
        .code(1)
        .stdout(concat!(
            "groups[0].clusters[0]: \"stagin\": unknown cluster (configured: prod)\n",
            "groups[0].kubernetesGroups[0]: \"\": a Kubernetes group name is non-empty and has no blanks\n",
            "accounts[0]: \"111122223333\": an account id must be a string: quote it (\"012345678901\"); as a number it loses leading zeros\n",
        ))
        .stderr(format!("error: {path}: 3 problem(s)\n"));
}

#[test]
fn every_problem_of_the_invalid_fixture_is_one_line() {
    let path = fixture_arg("invalid.yaml");
    let out = check_config().arg(&path).assert().code(1);
    let out = out.get_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // The same problems `validate` returns, in order, one line each.
    let raw = parse_raw(&std::fs::read_to_string(&path).unwrap(), "x", None).unwrap();
    let problems = eks_iam_sync::config::validate(&raw).unwrap_err();
    let expected: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(lines, expected);
    assert!(
        lines.len() >= 15,
        "the fixture has many problems: {lines:#?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {path}: {} problem(s)\n", lines.len())
    );
}

#[test]
fn a_syntax_error_or_an_unknown_key_is_one_message_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(&file, "clusters:\n  - nmae: prod\n").unwrap();
    check_config()
        .arg(&file)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::starts_with(format!(
            "error: {} (YAML): line 2 column 5: unknown field `nmae`",
            file.display()
        )));
}

#[test]
fn a_missing_file_and_usage_errors_exit_1() {
    check_config()
        .arg("/no/such/config.yaml")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::starts_with(
            "error: /no/such/config.yaml: cannot read: No such file or directory",
        ));
    check_config()
        .args(["--no-such-flag"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "unexpected argument '--no-such-flag'",
        ));
    check_config()
        .args(["--schema", "config.yaml"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("cannot be used with"));
}

#[test]
fn without_file_the_variable_is_checked_and_a_remote_source_is_not_fetched() {
    let inline = r#"{"clusters": [{"name": "prod", "region": "eu-west-3"}]}"#;
    check_config()
        .env("EKS_IAM_SYNC_CONFIG", inline)
        .assert()
        .code(0)
        .stdout(
            "EKS_IAM_SYNC_CONFIG: valid (1 cluster(s), 0 group(s), 0 user(s), 0 role(s), 0 permission set(s), 0 account(s))\n",
        );
    check_config()
        .env("EKS_IAM_SYNC_CONFIG", fixture_arg("broken.yaml"))
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "groups[0].clusters[0]: \"stagin\"",
        ));
    for source in ["ssm:/eks-iam-sync/config", "s3://configs/eks-iam-sync.yaml"] {
        check_config()
            .env("EKS_IAM_SYNC_CONFIG", source)
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "error: {source}: the configuration is kept in AWS and is read with credentials; \
                 here it is not (save it to a file and name that file)\n"
            ));
    }
    check_config()
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with(
            "error: no configuration: set EKS_IAM_SYNC_CONFIG",
        ));
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(repo_file("config.schema.json")).unwrap_or_default();
    assert!(
        committed == schema_json(),
        "config.schema.json is not what the configuration types generate; regenerate it with\n  \
         cargo run -q -- check-config --schema > config.schema.json"
    );
    check_config()
        .arg("--schema")
        .assert()
        .code(0)
        .stdout(committed)
        .stderr("");
}

/// The sample configurations of the repository, as JSON: the fixtures that are valid, the
/// README's YAML blocks that are configurations, samconfig.toml's `Config`.
fn samples() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for name in [
        "example.yaml",
        "example.json",
        "minimal.yaml",
        "broken.yaml",
    ] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        out.push((name.to_owned(), yaml_as_json(&text)));
    }
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap();
        if parse_raw(block, "README", None).is_ok() {
            out.push((format!("README yaml block {i}"), yaml_as_json(block)));
        }
    }
    let samconfig = std::fs::read_to_string(repo_file("samconfig.toml")).unwrap();
    let config = samconfig
        .lines()
        .find_map(|l| l.strip_prefix("Config = '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("samconfig.toml sets Config");
    out.push((
        "samconfig.toml Config".into(),
        serde_json::from_str(config).unwrap(),
    ));
    out
}

fn yaml_as_json(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

/// Validates each instance against the schema with Python's `jsonschema` (the project's venv,
/// scripts/python-env.sh): the names of the instances it rejects, with why.
fn rejected_by_schema(instances: &[(String, Value)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, schema_json()).unwrap();
    let list = dir.path().join("instances.json");
    std::fs::write(&list, serde_json::to_string(instances).unwrap()).unwrap();
    let script = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
for name, instance in json.load(open(sys.argv[2])):
    for error in validator.iter_errors(instance):
        print(f"{name}: {error.json_path}: {error.message}")
"#;
    let out = Process::new("python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(&list)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 with jsonschema failed (run through scripts/test.sh, or put the venv of \
         scripts/python-env.sh on PATH): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_schema_accepts_the_sample_configurations_and_rejects_wrong_shapes() {
    let samples = samples();
    assert!(samples.len() >= 8, "{} samples", samples.len());
    let mut instances: Vec<(String, Value)> = samples
        .iter()
        .filter(|(name, _)| name != "broken.yaml")
        .cloned()
        .collect();
    assert_eq!(rejected_by_schema(&instances), Vec::<String>::new());
    // What the schema knows to be wrong: an unknown key, a number as an account id, an
    // unknown backend, a string where a list goes.
    instances = vec![
        (
            "typo".into(),
            serde_json::json!({"clusters": [{"nmae": "prod"}]}),
        ),
        (
            "broken.yaml".into(),
            yaml_as_json(&std::fs::read_to_string(fixture("broken.yaml")).unwrap()),
        ),
        (
            "backend".into(),
            serde_json::json!({"clusters": [{"name": "p", "region": "eu-west-3", "backend": "configmap"}]}),
        ),
        (
            "groups".into(),
            serde_json::json!({"groups": [{"iamGroup": "a", "kubernetesGroups": "system:masters"}]}),
        ),
    ];
    let rejected = rejected_by_schema(&instances);
    for name in ["typo", "broken.yaml", "backend", "groups"] {
        assert!(
            rejected
                .iter()
                .any(|line| line.starts_with(&format!("{name}: "))),
            "the schema accepts {name}: {rejected:#?}"
        );
    }
}
