//! eks-iam-sync end to end against moto (IAM, STS) and eks-sim (EKS, Kubernetes): the
//! behaviours issue 5 promises, each observed through real clients (awscli, kubectl) and the
//! simulator's request counters. The binary runs as a separate process with the stack's
//! environment, exactly as an operator or the Lambda runtime would run it.

mod access_entries;
mod accounts;
mod bad_input;
mod config_source;
mod fleet;
mod forged;
mod history;
mod review;
mod soak;
mod support;

use serde_json::json;
use support::{TestCluster, iam_group, identity, section, stack};

/// Configuration: members of the test's `admins` group get system:masters.
fn admins_config(t: &TestCluster) -> String {
    format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n",
        t.iam("admins")
    )
}

#[test]
fn a_member_added_and_removed_by_events() {
    let t = TestCluster::new("events");
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    iam_group(&t.iam("admins"), &[&alice]);
    t.configure(&admins_config(&t));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    assert!(section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("alice")));

    stack().add_member(&t.iam("admins"), &bob);
    let added = t.invoke(&t.event(
        "add_user_to_group",
        json!({"groupName": t.iam("admins"), "userName": bob}),
    ));
    assert_eq!(added.code, 0, "{}", added.stderr);
    let report = added.cluster();
    assert_eq!(report["outcome"], "applied");
    assert_eq!(report["added"][0]["key"], t.user_arn("bob"));
    assert_eq!(report["apiCalls"]["kube_get"], 1);
    assert_eq!(report["apiCalls"]["kube_put"], 1);
    // ListGroupsForUser, plus GetUser for the ARN of a user who had no entry yet.
    assert_eq!(added.json()["iamCalls"], 2);

    stack().aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        &t.iam("admins"),
        "--user-name",
        &alice,
    ]);
    let removed = t.invoke(&t.event(
        "remove_user_from_group",
        json!({"groupName": t.iam("admins"), "userName": alice}),
    ));
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert_eq!(removed.cluster()["removed"][0]["key"], t.user_arn("alice"));
    assert_eq!(
        removed.json()["iamCalls"],
        1,
        "the user's own entry gives its ARN: one IAM call"
    );
    let users = t.aws_auth()["mapUsers"].clone();
    assert!(
        !users.contains(&t.user_arn("alice")) && users.contains(&t.user_arn("bob")),
        "{users}"
    );
}

#[test]
fn a_deleted_user_loses_access() {
    let t = TestCluster::new("delete-user");
    let (alice, carol) = (t.iam("alice"), t.iam("carol"));
    iam_group(&t.iam("admins"), &[&alice, &carol]);
    t.configure(&admins_config(&t));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    stack().aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        &t.iam("admins"),
        "--user-name",
        &carol,
    ]);
    stack().aws(&["iam", "delete-user", "--user-name", &carol]);
    let run = t.invoke(&t.event("delete_user", json!({"userName": carol})));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.cluster()["removed"][0]["key"], t.user_arn("carol"));
    let users = section(&t.aws_auth(), "mapUsers").to_owned();
    assert!(!users.contains(&carol) && users.contains(&alice), "{users}");
}

#[test]
fn a_group_rename_falls_back_to_a_full_reconcile() {
    let t = TestCluster::new("rename");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    stack().aws(&[
        "iam",
        "update-group",
        "--group-name",
        &t.iam("admins"),
        "--new-group-name",
        &t.iam("renamed"),
    ]);
    let run = t.invoke(&t.event(
        "update_group",
        json!({"groupName": t.iam("admins"), "newGroupName": t.iam("renamed")}),
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.cluster();
    assert_eq!(
        report["removed"][0]["key"],
        t.user_arn("alice"),
        "the configured group is gone: its members go"
    );
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("does not exist"), "{warnings}");
}

#[test]
fn the_schedule_repairs_a_hand_edited_entry_and_keeps_human_entries() {
    let t = TestCluster::new("repair");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    assert_eq!(t.invoke(&t.schedule()).code, 0);
    let edited = t.aws_auth()["mapUsers"].replace("system:masters", "viewers");
    let human = "# added by hand\n- userarn: arn:aws:iam::123456789012:user/human\n  username: human\n  groups: [ops]\n";
    let patch = json!({"data": {"mapUsers": format!("{edited}{human}")}}).to_string();
    let patched = t.kubectl(
        &[
            "patch",
            "configmap",
            "aws-auth",
            "-n",
            "kube-system",
            "--type",
            "merge",
            "-p",
            &patch,
        ],
        None,
    );
    assert_eq!(patched.code, 0, "{}", patched.stderr);
    let run = t.invoke(&t.schedule());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.cluster()["changed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("groups [viewers] → [system:masters]")
    );
    let users = t.aws_auth()["mapUsers"].clone();
    assert!(
        users.starts_with(human),
        "the human entry keeps its bytes and place:\n{users}"
    );
    assert!(users.contains("system:masters") && !users.contains("viewers"));
}

#[test]
fn unmanaged_entries_are_preserved_byte_for_byte() {
    let t = TestCluster::new("preserve");
    let roles = "# Node role (eksctl)\r\n- rolearn: arn:aws:iam::123456789012:role/node   # spaces\r\n  username: system:node:{{EC2PrivateDNSName}}\r\n  groups: [\"system:bootstrappers\", \"system:nodes\"]\r\n";
    let accounts = "- '444455556666'   # partner\n";
    t.create_aws_auth(&[
        ("mapRoles", roles),
        ("mapAccounts", accounts),
        ("other", "kept"),
    ]);
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&format!("{}roles:\n  - arn: arn:aws:iam::123456789012:role/ci\n    username: ci\n    kubernetesGroups: [deployers]\n", admins_config(&t)));
    let run = t.invoke(&t.schedule());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let data = t.aws_auth();
    assert!(
        data["mapRoles"].starts_with(roles),
        "{:?}",
        data["mapRoles"]
    );
    assert_eq!(
        data["mapAccounts"], accounts,
        "untouched sections are not rewritten"
    );
    assert_eq!(data["other"], "kept");
    assert!(data["mapRoles"].contains("role/ci") && data["mapUsers"].contains(&t.iam("alice")));
}

#[test]
fn unparsable_aws_auth_is_never_written() {
    let t = TestCluster::new("unparsable");
    let broken = "- rolearn: arn:aws:iam::123456789012:role/x\n  username: {{SessionName}}\n";
    t.create_aws_auth(&[("mapRoles", broken)]);
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("refused by guard `unparsable-content`"),
        "{}",
        run.stdout
    );
    assert!(
        t.kube_counters()["update"].is_null(),
        "no PUT: {}",
        t.kube_counters()
    );
    assert_eq!(t.aws_auth()["mapRoles"], broken);
}

#[test]
fn mass_removal_is_refused_and_can_be_allowed() {
    let t = TestCluster::new("mass");
    let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|n| t.iam(n)).collect();
    iam_group(
        &t.iam("admins"),
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    t.configure(&format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [viewers]\n",
        t.iam("admins")
    ));
    assert_eq!(t.sync(&["apply"]).code, 0);
    for name in &names[1..] {
        stack().aws(&[
            "iam",
            "remove-user-from-group",
            "--group-name",
            &t.iam("admins"),
            "--user-name",
            name,
        ]);
    }
    let run = t.invoke(&t.schedule());
    assert_eq!(
        run.code, 0,
        "a refusal is reported, not retried: {}",
        run.stderr
    );
    assert_eq!(run.cluster()["outcome"], "refused");
    assert!(
        run.cluster()["refusals"][0]
            .as_str()
            .unwrap()
            .contains("mass-removal")
    );
    assert_eq!(t.aws_auth()["mapUsers"].matches("userarn").count(), 4);
    let plan = t.sync(&["plan"]);
    assert_eq!(
        plan.code, 1,
        "plan reports the refusal as an error: {}",
        plan.stdout
    );
    let allowed = t.sync(&["apply", "--allow-mass-removal"]);
    assert_eq!(allowed.code, 0, "{}", allowed.stdout);
    assert_eq!(t.aws_auth()["mapUsers"].matches("userarn").count(), 1);
}

#[test]
fn the_tools_own_identity_is_never_locked_out() {
    let mut t = TestCluster::new("self");
    let (key, secret, arn) = identity(&t.iam("sync"));
    t.configure(&format!(
        "users:\n  - arn: {arn}\n    username: eks-iam-sync\n    kubernetesGroups: [system:masters]\n"
    ));
    // Bootstrapped by the cluster creator; from then on the tool runs as itself.
    assert_eq!(t.sync(&["apply"]).code, 0);
    t.run_as(&key, &secret);
    assert_eq!(
        t.sync(&["plan"]).code,
        0,
        "the tool can read aws-auth as itself"
    );
    t.configure("accounts: []\n");
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("refused by guard `protected-principal`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&arn));
    assert_eq!(
        t.sync(&["plan"]).code,
        1,
        "still refused, and still able to read as itself"
    );
    assert!(section(&t.aws_auth(), "mapUsers").contains(&arn));
}

#[test]
fn a_conflict_in_the_middle_of_a_write_is_retried() {
    let t = TestCluster::new("conflict");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.create_aws_auth(&[(
        "mapRoles",
        "- rolearn: arn:aws:iam::123456789012:role/human\n  username: human\n",
    )]);
    t.configure(&admins_config(&t));
    t.inject(&format!("kube/{}:update:409:count=2", t.name));
    let run = t.invoke(&t.schedule());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.cluster();
    assert_eq!(report["outcome"], "applied");
    assert_eq!(report["writeAttempts"], 3);
    assert_eq!(report["apiCalls"]["kube_get"], 3, "every retry re-reads");
    assert!(section(&t.aws_auth(), "mapUsers").contains(&t.iam("alice")));
}

#[test]
fn a_concurrent_human_writer_and_the_tool_both_win() {
    let t = TestCluster::new("concurrent");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.create_aws_auth(&[("mapRoles", "[]")]);
    t.configure(&admins_config(&t));
    // Hold the tool's PUT in the simulator; once it has arrived (the counters see it), the
    // human writes, so the held PUT carries a stale resourceVersion and the tool must re-read,
    // re-plan and write again.
    let human_write = t.patcher();
    t.inject(&format!("kube/{}:update:none:count=1:latency=8000", t.name));
    let tool = std::thread::scope(|scope| {
        let handle = scope.spawn(|| t.invoke(&t.schedule()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while t.kube_counters()["update"].is_null() {
            assert!(
                std::time::Instant::now() < deadline,
                "the tool's PUT never arrived"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        human_write(
            &json!({"data": {"mapRoles": "- rolearn: arn:aws:iam::123456789012:role/human\n  username: human\n"}}),
        );
        handle.join().unwrap()
    });
    assert_eq!(tool.code, 0, "{}", tool.stderr);
    assert!(
        tool.cluster()["writeAttempts"].as_u64().unwrap() >= 2,
        "{}",
        tool.stdout
    );
    let data = t.aws_auth();
    assert!(
        data["mapRoles"].contains("role/human"),
        "the human's write survived: {data:?}"
    );
    assert!(
        data["mapUsers"].contains(&t.iam("alice")),
        "the tool's write landed: {data:?}"
    );
}

#[test]
fn an_irrelevant_event_makes_no_cluster_call() {
    let t = TestCluster::new("irrelevant");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    let run = t.invoke(&t.event(
        "add_user_to_group",
        json!({"groupName": "some-other-group", "userName": "zed"}),
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["acknowledged"], true);
    let failed = t.invoke(&t.event(
        "add_user_to_group_failed",
        json!({"groupName": t.iam("admins"), "userName": "zed"}),
    ));
    assert_eq!(
        failed.json()["acknowledged"],
        true,
        "a failed IAM call changed nothing"
    );
    assert!(
        t.kube_counters().is_null(),
        "no Kubernetes call at all: {}",
        t.kube_counters()
    );
}

#[test]
fn the_steady_state_makes_no_write() {
    let t = TestCluster::new("steady");
    iam_group(&t.iam("admins"), &[&t.iam("alice"), &t.iam("bob")]);
    t.configure(&admins_config(&t));
    assert_eq!(t.invoke(&t.schedule()).cluster()["outcome"], "applied");
    let again = t.invoke(&t.schedule());
    let report = again.cluster();
    assert_eq!(report["outcome"], "unchanged");
    assert_eq!(
        report["apiCalls"],
        json!({"kube_get": 1, "kube_put": 0, "kube_post": 0})
    );
}

#[test]
fn a_dry_run_invoke_returns_the_plan_without_writing() {
    let t = TestCluster::new("dry-run");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    let run = t.invoke(&json!({"action": "reconcile", "dryRun": true, "clusters": [t.name]}));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["dryRun"], true);
    assert_eq!(run.cluster()["outcome"], "planned");
    assert_eq!(run.cluster()["added"][0]["key"], t.user_arn("alice"));
    assert!(t.aws_auth().is_empty(), "nothing was written");
}

#[test]
fn plan_and_apply_exit_codes() {
    let t = TestCluster::new("exit-codes");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    let plan = t.sync(&["plan", "--cluster", &t.name]);
    assert_eq!(plan.code, 2, "changes pending: {}", plan.stdout);
    assert!(
        plan.stdout
            .contains(&format!("+ mapUsers {}", t.user_arn("alice"))),
        "{}",
        plan.stdout
    );
    assert_eq!(t.sync(&["apply", "--cluster", &t.name]).code, 0);
    assert_eq!(t.sync(&["plan"]).code, 0);
    let unknown = t.sync(&["plan", "--cluster", "nope"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("--cluster nope is not in the configuration"),
        "{}",
        unknown.stderr
    );
    t.configure("groups:\n  - iamGroup: x\n    kubernetesGroups: []\n    clusters: [missing]\n");
    let invalid = t.sync(&["plan"]);
    assert_eq!(invalid.code, 1);
    assert!(
        invalid.stderr.contains("groups[0].clusters[0]"),
        "every problem named with its path: {}",
        invalid.stderr
    );
}

#[test]
fn a_failing_cluster_fails_the_invocation_but_not_the_others() {
    let t = TestCluster::new("isolation");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&format!(
        "  - name: t-does-not-exist\n    region: us-east-1\n    backend: aws-auth\n{}",
        admins_config(&t)
    ));
    let run = t.invoke(&t.schedule());
    assert_eq!(
        run.code, 1,
        "some cluster failed: the invocation fails so EventBridge retries"
    );
    let clusters = run.json()["clusters"].as_array().unwrap().clone();
    let outcome =
        |name: &str| clusters.iter().find(|c| c["cluster"] == name).unwrap()["outcome"].clone();
    assert_eq!(outcome(&t.name), "applied");
    assert_eq!(outcome("t-does-not-exist"), "failed");
    assert!(section(&t.aws_auth(), "mapUsers").contains(&t.iam("alice")));
}

#[test]
fn a_failed_iam_read_never_empties_aws_auth() {
    let mut t = TestCluster::new("iam-down");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    t.configure(&admins_config(&t));
    assert_eq!(t.sync(&["apply"]).code, 0);
    let before = t.aws_auth();
    // IAM unreachable (nothing listens on port 1): the read fails, after the SDK's retries.
    t.set_env("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:1");
    let run = t.invoke(&t.schedule());
    assert_eq!(
        run.code, 1,
        "the cluster failed, so the invocation fails: {}",
        run.stderr
    );
    let report = run.cluster();
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("IAM read failed"),
        "{report}"
    );
    assert_eq!(report["apiCalls"]["kube_put"], 0);
    assert_eq!(t.aws_auth(), before, "members were not taken for gone");
}

#[test]
fn an_event_iam_does_not_show_yet_is_left_to_the_schedule() {
    let t = TestCluster::new("not-yet");
    iam_group(&t.iam("admins"), &[&t.iam("alice")]);
    stack().aws(&["iam", "create-user", "--user-name", &t.iam("late")]);
    t.configure(&admins_config(&t));
    // The event says `late` joined, but IAM does not show it (yet): re-read, then defer.
    let run = t.invoke(&t.event(
        "add_user_to_group",
        json!({"groupName": t.iam("admins"), "userName": t.iam("late")}),
    ));
    assert_eq!(run.code, 0, "deferred is not a failure: {}", run.stderr);
    let report = run.cluster();
    assert_eq!(report["outcome"], "deferred");
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("left to the next scheduled reconcile"),
        "{report}"
    );
    assert!(
        run.json()["iamCalls"].as_u64().unwrap() >= 2,
        "IAM was re-read with backoff"
    );
    assert!(
        t.kube_counters().is_null(),
        "no cluster call for a change IAM does not show"
    );
}
