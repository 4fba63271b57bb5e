//! The configuration kept in AWS (issue 24): `EKS_IAM_SYNC_CONFIG=ssm:/...` and `s3://...`
//! against moto's SSM and S3. `plan`/`apply`/`invoke` read it; a warm Lambda takes a new
//! version at its next invocation (no restart), refuses to run on an invalid one (nothing is
//! written, the old version is not used), and a missing parameter or object is one error
//! naming the source, exit 1. (The version rule and the adapter are unit-tested in
//! src/live_config.rs and src/aws/config_store.rs.)

use crate::support::{Run, TestCluster, iam_group, section};

/// The configuration text of `t`'s cluster with these `groups:` entries (IAM group,
/// Kubernetes group).
fn config_text(t: &TestCluster, groups: &[(&str, &str)]) -> String {
    let mut text = format!(
        "clusters:\n  - name: {}\n    region: us-east-1\n    backend: aws-auth\ngroups:\n",
        t.name
    );
    for (iam, kube) in groups {
        text.push_str(&format!(
            "  - iamGroup: {}\n    kubernetesGroups: [{kube}]\n",
            t.iam(iam)
        ));
    }
    text
}

fn write_temp(t: &TestCluster, name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}-{name}-{}", t.name, std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn put_parameter(t: &TestCluster, name: &str, text: &str) {
    let file = write_temp(t, "parameter.yaml", text);
    t.on().aws(&[
        "ssm",
        "put-parameter",
        "--name",
        name,
        "--type",
        "SecureString",
        "--overwrite",
        "--value",
        &format!("file://{file}"),
    ]);
}

fn put_object(t: &TestCluster, bucket: &str, key: &str, text: &str) {
    let file = write_temp(t, "object.yaml", text);
    t.on().aws(&[
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        key,
        "--body",
        &file,
    ]);
}

fn error_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect()
}

#[test]
fn a_configuration_in_ssm_is_read_and_a_new_version_taken_by_the_warm_lambda() {
    let mut t = TestCluster::new("cfg-ssm");
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    iam_group(&t.iam("admins"), &[&alice]);
    iam_group(&t.iam("viewers"), &[&bob]);
    let parameter = format!("/{}/config", t.name);
    let source = format!("ssm:{parameter}");
    put_parameter(
        &t,
        &parameter,
        &config_text(&t, &[("admins", "system:masters")]),
    );
    t.set_env("EKS_IAM_SYNC_CONFIG", &source);

    // The CLI: plan says what would change (exit 2), apply writes it.
    let plan = t.sync(&["plan"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(plan.stdout.contains(&alice), "{}", plan.stdout);
    let apply = t.sync(&["apply"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    let users = section(&t.aws_auth(), "mapUsers").to_owned();
    assert!(users.contains(&t.user_arn("alice")) && !users.contains(&t.user_arn("bob")));

    // A warm Lambda: the second version is taken by the next invocation.
    let mut lambda = t.warm_lambda();
    let first = lambda.invoke(&t.schedule());
    assert_eq!(first["clusters"][0]["outcome"], "unchanged", "{first}");
    put_parameter(
        &t,
        &parameter,
        &config_text(&t, &[("admins", "system:masters"), ("viewers", "viewers")]),
    );
    let second = lambda.invoke(&t.schedule());
    assert!(second.get("error").is_none(), "{second}");
    assert!(
        section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("bob")),
        "the new version's group is mapped"
    );

    // An invalid third version: the invocation fails naming the source; nothing is written,
    // not even with the second version (bob removed from his IAM group is not unmapped).
    let before = t.aws_auth();
    crate::support::stack().aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        &t.iam("viewers"),
        "--user-name",
        &bob,
    ]);
    let mut invalid = config_text(&t, &[("admins", "system:masters")]);
    invalid.push_str("accounts: [111122223333]\n");
    put_parameter(&t, &parameter, &invalid);
    for _ in 0..2 {
        let refused = lambda.invoke(&t.schedule());
        let message = refused["error"]["errorMessage"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            refused["error"]["errorType"], "ConfigurationUnavailable",
            "{refused}"
        );
        assert!(
            message.starts_with(&format!("{source}: 1 problem(s) in the configuration:"))
                && message.contains("accounts[0]: \"111122223333\""),
            "{message}"
        );
    }
    assert_eq!(
        t.aws_auth(),
        before,
        "nothing written on an invalid version"
    );

    // Fixed: the fourth version runs (and bob, no longer in the group, is unmapped).
    put_parameter(
        &t,
        &parameter,
        &config_text(&t, &[("admins", "system:masters"), ("viewers", "viewers")]),
    );
    let fixed = lambda.invoke(&t.schedule());
    assert!(fixed.get("error").is_none(), "{fixed}");
    assert!(!section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("bob")));

    // Deleted: one error naming the source and the code, exit 1.
    t.on()
        .aws(&["ssm", "delete-parameter", "--name", &parameter]);
    for command in [&["plan"][..], &["apply"][..]] {
        let run = t.sync(command);
        assert_eq!(run.code, 1, "{command:?}: {}", run.stderr);
        let errors = error_lines(&run);
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        assert!(
            errors[0].starts_with(&format!("error: {source}: ParameterNotFound")),
            "{}",
            errors[0]
        );
    }
    let gone = lambda.invoke(&t.schedule());
    assert!(
        gone["error"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("{source}: ParameterNotFound"))),
        "{gone}"
    );
}

#[test]
fn a_configuration_in_s3_is_read_with_config_and_by_invoke_and_a_missing_key_is_named() {
    let t = TestCluster::new("cfg-s3");
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    iam_group(&t.iam("admins"), &[&alice]);
    iam_group(&t.iam("viewers"), &[&bob]);
    let bucket = format!("{}-configs", t.name);
    t.on().aws(&["s3api", "create-bucket", "--bucket", &bucket]);
    let source = format!("s3://{bucket}/eks/config.yaml");
    put_object(
        &t,
        &bucket,
        "eks/config.yaml",
        &config_text(&t, &[("admins", "system:masters")]),
    );

    let apply = t.sync(&["apply", "--config", &source]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("alice")));

    // Changed: the next run reads the new object.
    put_object(
        &t,
        &bucket,
        "eks/config.yaml",
        &config_text(&t, &[("admins", "system:masters"), ("viewers", "viewers")]),
    );
    let file = write_temp(&t, "schedule.json", &t.schedule().to_string());
    let invoked = t.sync(&["invoke", "--config", &source, "--event", &file]);
    assert_eq!(invoked.code, 0, "{}", invoked.stderr);
    assert!(section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("bob")));

    // A missing key (and a missing bucket): one error naming the source, exit 1.
    for missing in [
        format!("s3://{bucket}/eks/missing.yaml"),
        format!("s3://{bucket}-nope/eks/config.yaml"),
    ] {
        for command in ["plan", "apply"] {
            let run = t.sync(&[command, "--config", &missing]);
            assert_eq!(run.code, 1, "{command} {missing}: {}", run.stderr);
            let errors = error_lines(&run);
            assert_eq!(errors.len(), 1, "{}", run.stderr);
            assert!(
                errors[0].starts_with(&format!("error: {missing}: NoSuchKey")),
                "{}",
                errors[0]
            );
        }
    }
}
