//! What a run of the access-entries backend creates, updates, deletes, skips, reports per
//! entry, refuses (mass removal) or only plans (dry run), and that a steady state writes nothing.

use serde_json::{Value, json};

use super::{ACCOUNT, describe, entries, groups_config, keys, policies, role_arn};
use crate::support::{TestCluster, iam_group, private_stack, stack};

#[test]
fn access_entries_managed_entries_created_updated_deleted_unmanaged_untouched() {
    let t = TestCluster::with_mode("ae-crud", "API");
    let (alice, bob, carol) = (t.iam("alice"), t.iam("bob"), t.iam("carol"));
    iam_group(&t.iam("admins"), &[&alice]);
    iam_group(&t.iam("devs"), &[&bob]);
    // A human's entry for carol, and one for bob that we must not take over.
    stack().aws(&["iam", "create-user", "--user-name", &carol]);
    t.on().aws(&[
        "eks",
        "create-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        &t.user_arn("carol"),
        "--username",
        "carol-by-hand",
    ]);
    t.configure_backend("auto", &groups_config(&t, "[developers]"));

    let run = t.invoke(&t.schedule());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.cluster();
    assert_eq!(report["backend"], "access-entries");
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(
        keys(&report, "added"),
        [t.user_arn("alice"), t.user_arn("bob")]
    );
    let made = describe(&t, &t.user_arn("alice"));
    assert_eq!(made["tags"]["eks-iam-sync/managed"], "true");
    assert!(made["tags"]["eks-iam-sync/principal-id"].is_string());
    assert_eq!(made["username"], alice);
    assert_eq!(made["kubernetesGroups"], json!([]));
    assert_eq!(
        policies(&t, &t.user_arn("alice")),
        ["AmazonEKSClusterAdminPolicy cluster"]
    );
    assert_eq!(
        describe(&t, &t.user_arn("bob"))["kubernetesGroups"],
        json!(["developers"])
    );

    // Bob gains a group; alice leaves the admins.
    t.configure_backend("auto", &groups_config(&t, "[developers, viewers]"));
    stack().aws(&[
        "iam",
        "remove-user-from-group",
        "--group-name",
        &t.iam("admins"),
        "--user-name",
        &alice,
    ]);
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(keys(&report, "changed"), [t.user_arn("bob")]);
    assert!(
        report["changed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("groups [developers] → [developers, viewers]")
    );
    assert_eq!(keys(&report, "removed"), [t.user_arn("alice")]);
    assert_eq!(
        describe(&t, &t.user_arn("bob"))["kubernetesGroups"],
        json!(["developers", "viewers"])
    );
    let now = entries(&t);
    assert!(!now.contains(&t.user_arn("alice")), "{now:?}");
    // The unmanaged entry is exactly as the human left it.
    let hand = describe(&t, &t.user_arn("carol"));
    assert_eq!(hand["username"], "carol-by-hand");
    assert!(hand["tags"].as_object().is_none_or(|t| t.is_empty()));
}

#[test]
fn access_entries_unmanaged_entry_for_a_desired_principal_is_skipped() {
    let t = TestCluster::with_mode("ae-collide", "API");
    let bob = t.iam("bob");
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &[&bob]);
    t.on().aws(&[
        "eks",
        "create-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        &t.user_arn("bob"),
        "--kubernetes-groups",
        "by-hand",
    ]);
    t.configure_backend("auto", &groups_config(&t, "[developers]"));
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "unchanged", "{report}");
    assert_eq!(keys(&report, "skipped"), [t.user_arn("bob")]);
    assert_eq!(
        describe(&t, &t.user_arn("bob"))["kubernetesGroups"],
        json!(["by-hand"])
    );
}

#[test]
fn access_entries_eks_validation_errors_are_reported_per_entry() {
    let t = TestCluster::with_mode("ae-invalid", "API");
    let alice = t.iam("alice");
    iam_group(&t.iam("admins"), &[&alice]);
    iam_group(&t.iam("devs"), &[]);
    // A service-linked role: our translation cannot tell, EKS rejects it.
    let linked = format!(
        "arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    );
    let config = format!(
        "{}roles:\n  - arn: {linked}\n    username: autoscaler\n    kubernetesGroups: [scalers]\n",
        groups_config(&t, "[developers]")
    );
    t.configure_backend("auto", &config);

    let run = t.invoke(&t.schedule());
    assert_eq!(
        run.code, 0,
        "a rejected entry does not fail the invocation: {}",
        run.stderr
    );
    let report = run.cluster();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(keys(&report, "added"), [t.user_arn("alice")]);
    assert_eq!(keys(&report, "rejected"), [linked.as_str()]);
    let why = report["rejected"][0]["reason"].as_str().unwrap();
    assert!(
        why.contains("CreateAccessEntry") && why.contains("InvalidParameterException"),
        "{why}"
    );
    assert!(entries(&t).contains(&t.user_arn("alice")));
    // `apply` is not in step while EKS rejects an entry.
    let apply = t.sync(&["apply"]);
    assert_eq!(apply.code, 1, "{}", apply.stdout);
    assert!(
        apply.stdout.contains(&format!("rejected {linked}")),
        "{}",
        apply.stdout
    );
}

#[test]
fn access_entries_untranslatable_entries_are_skipped_never_sent() {
    let t = TestCluster::with_mode("ae-skip", "API");
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &[]);
    let config = format!(
        "{}roles:\n  - arn: {}\n    username: \"eks:reserved\"\n    kubernetesGroups: [ops]\n",
        groups_config(&t, "[developers]"),
        role_arn(&t.iam("reserved"))
    );
    t.configure_backend("auto", &config);
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "unchanged", "{report}");
    assert_eq!(keys(&report, "skipped"), [role_arn(&t.iam("reserved"))]);
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("eks:")
    );
    assert_eq!(entries(&t).len(), 1, "only the creator's entry");
}

#[test]
fn access_entries_mass_removal_is_refused_then_allowed() {
    let t = TestCluster::with_mode("ae-mass", "API");
    let users: Vec<String> = (0..4).map(|i| t.iam(&format!("u{i}"))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &refs);
    t.configure_backend("auto", &groups_config(&t, "[developers]"));
    assert_eq!(
        t.invoke(&t.schedule()).cluster()["added"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    for user in &users[1..] {
        stack().aws(&[
            "iam",
            "remove-user-from-group",
            "--group-name",
            &t.iam("devs"),
            "--user-name",
            user,
        ]);
    }
    let report = t.invoke(&t.schedule()).cluster();
    assert_eq!(report["outcome"], "refused", "{report}");
    assert!(
        report["refusals"][0]
            .as_str()
            .unwrap()
            .contains("`mass-removal`")
    );
    assert_eq!(entries(&t).len(), 5, "nothing deleted");
    let apply = t.sync(&["apply", "--allow-mass-removal"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    assert_eq!(entries(&t).len(), 2);
}

#[test]
fn access_entries_dry_run_plans_only() {
    let t = TestCluster::with_mode("ae-dry", "API_AND_CONFIG_MAP");
    let alice = t.iam("alice");
    iam_group(&t.iam("admins"), &[&alice]);
    iam_group(&t.iam("devs"), &[]);
    t.configure_backend("auto", &groups_config(&t, "[developers]"));
    let run = t.invoke(&json!({"action": "reconcile", "dryRun": true, "clusters": [t.name]}));
    let report = run.cluster();
    assert_eq!(report["outcome"], "planned", "{report}");
    assert_eq!(keys(&report, "added"), [t.user_arn("alice")]);
    assert_eq!(
        report["apiCalls"]["eks_write"],
        Value::Null,
        "no write counted"
    );
    let plan = t.sync(&["plan"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(&format!(
            "+ access entry {}  type=STANDARD username={alice} policies=[AmazonEKSClusterAdminPolicy (cluster)]",
            t.user_arn("alice")
        )),
        "{}",
        plan.stdout
    );
    assert_eq!(entries(&t).len(), 1, "only the creator's entry");
}

#[test]
fn access_entries_steady_state_makes_no_writes() {
    // A private stack: the simulator's EKS counters are not per cluster. Starting one picks
    // free ports first and binds them later, which a busy machine can race: one more try.
    let on = std::panic::catch_unwind(|| private_stack("ae-steady"))
        .unwrap_or_else(|_| private_stack("ae-steady-retry"));
    let t = TestCluster::with_mode_on(on, "ae-steady", "API");
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    for (group, member) in [("admins", &alice), ("devs", &bob)] {
        on.aws(&["iam", "create-group", "--group-name", &t.iam(group)]);
        on.add_member(&t.iam(group), member);
    }
    t.configure_backend("auto", &groups_config(&t, "[developers]"));
    let first = t.sync(&["apply"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    on.admin("DELETE", "/counters", None);
    let second = t.sync(&["apply", "--json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.json()["clusters"][0]["outcome"], "unchanged");
    let counters = on.admin("GET", "/counters", None)["eks"].clone();
    for write in [
        "CreateAccessEntry",
        "UpdateAccessEntry",
        "DeleteAccessEntry",
        "AssociateAccessPolicy",
        "DisassociateAccessPolicy",
    ] {
        assert!(counters[write].is_null(), "{write}: {counters}");
    }
    assert_eq!(counters["ListAccessEntries"], 1, "{counters}");
    let plan = t.sync(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("No changes: the access entries already hold")
    );
}
