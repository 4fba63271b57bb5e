//! Bad input end to end: a malformed invocation payload, an event file that is not JSON, an
//! invalid configuration and an aws-auth EKS would drop each give one clear error and write
//! nothing, observed through the simulator's request counters. (The classification, config
//! and render rules themselves are unit-tested in tests/offline/events/, tests/offline/config/ and
//! tests/offline/render_cli.rs.)

use serde_json::json;

use crate::support::{Run, TestCluster, iam_group};

/// The `error: …` lines on stderr (log lines are JSON or indented, never `error:`).
fn error_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect()
}

fn admins(t: &TestCluster) -> String {
    format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n",
        t.iam("admins")
    )
}

#[test]
fn a_malformed_direct_invoke_is_one_clear_error_and_no_cluster_call() {
    let t = TestCluster::new("bad-invoke");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins(&t));
    let cases = [
        (
            json!({"action": "reconcile", "dryrun": true}),
            "unknown field `dryrun`",
        ),
        (
            json!({"action": "reconcile", "dryRun": "yes"}),
            "direct invoke",
        ),
        (json!({"action": "apply"}), "unknown action \"apply\""),
        (
            json!({"action": "reconcile", "clusters": ["nope"]}),
            "unknown cluster(s) nope",
        ),
        (json!({"detail": 1}), "unrecognized payload"),
        (json!([1, 2]), "a JSON array, not an object"),
    ];
    for (payload, says) in cases {
        let run = t.invoke(&payload);
        assert_eq!(run.code, 1, "{payload}: {}", run.stderr);
        let errors = error_lines(&run);
        assert_eq!(errors.len(), 1, "{payload}: one error: {}", run.stderr);
        assert!(
            errors[0].contains("InvalidPayload") && errors[0].contains(says),
            "{payload}: {}",
            errors[0]
        );
        assert!(run.stdout.is_empty(), "{payload}: {}", run.stdout);
    }
    assert!(
        t.kube_counters().is_null(),
        "no Kubernetes call at all: {}",
        t.kube_counters()
    );
}

#[test]
fn an_event_file_that_is_not_json_is_one_clear_error() {
    let t = TestCluster::new("bad-event-file");
    t.configure(&admins(&t));
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("truncated.json", "{\"action\": \"reconcile\""),
        ("empty.json", ""),
        ("yaml.json", "action: reconcile\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let run = t.sync(&["invoke", "--event", path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{name}: {}", run.stderr);
        let errors = error_lines(&run);
        assert_eq!(errors.len(), 1, "{name}: {}", run.stderr);
        assert!(errors[0].contains(name), "names the file: {}", errors[0]);
        assert!(run.stdout.is_empty());
    }
    let missing = t.sync(&["invoke", "--event", "/nonexistent/event.json"]);
    assert_eq!(missing.code, 1);
    assert_eq!(error_lines(&missing).len(), 1, "{}", missing.stderr);
    assert!(t.kube_counters().is_null(), "{}", t.kube_counters());
}

#[test]
fn an_invalid_configuration_stops_invoke_before_any_cluster_call() {
    let t = TestCluster::new("bad-config");
    for (config, says) in [
        (
            "groups:\n  - iamGroup: x\n    kubernetesGroups: []\n    clusters: [missing]\n",
            "groups[0].clusters[0]",
        ),
        ("groups: [\n", "line"),
        ("grups: []\n", "grups"),
        ("accounts: [111122223333]\n", "accounts[0]"),
    ] {
        t.configure(config);
        let run = t.invoke(&t.schedule());
        assert_eq!(run.code, 1, "{config}: {}", run.stderr);
        let errors = error_lines(&run);
        assert_eq!(errors.len(), 1, "{config}: one error: {}", run.stderr);
        assert!(
            run.stderr.contains(says),
            "{config}: names {says}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    assert!(t.kube_counters().is_null(), "{}", t.kube_counters());
}

#[test]
fn an_aws_auth_eks_would_drop_is_refused_by_the_lambda_with_no_write() {
    let t = TestCluster::new("bad-aws-auth");
    let roles = "- rolearn: arn:aws:iam::123456789012:role/x\n  username: {{SessionName}}\n";
    let users = "- userarn: arn:aws:iam::123456789012:user/y\n  groups: [a\n";
    t.create_aws_auth(&[("mapRoles", roles), ("mapUsers", users)]);
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins(&t));
    let run = t.invoke(&t.schedule());
    assert_eq!(
        run.code, 0,
        "a refusal is reported, not retried: {}",
        run.stderr
    );
    let report = run.cluster();
    assert_eq!(report["outcome"], "refused");
    let refusals = report["refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 1, "one refusal naming both: {report}");
    let refusal = refusals[0].as_str().unwrap();
    assert!(
        refusal.contains("unparsable-content")
            && refusal.contains("data.mapRoles")
            && refusal.contains("data.mapUsers")
            && refusal.contains("line"),
        "{refusal}"
    );
    assert_eq!(report["apiCalls"]["kube_put"], 0);
    assert!(
        t.kube_counters()["update"].is_null(),
        "no PUT: {}",
        t.kube_counters()
    );
    let data = t.aws_auth();
    assert_eq!(
        (data["mapRoles"].as_str(), data["mapUsers"].as_str()),
        (roles, users)
    );
}
