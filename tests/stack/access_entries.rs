//! The access-entries backend end to end against eks-sim's access-entry API (EKS's
//! validation and error shapes) and moto's IAM: managed entries created, updated and deleted,
//! unmanaged ones untouched, EKS validation errors reported per entry, guards, dry run, steady
//! state from the simulator's counters, `backend: auto` per authentication mode, `migrate`,
//! and an entry recreated after its principal was deleted and recreated.
//!
//! Every cluster here is upgraded from CONFIG_MAP, so its creator (the stack's identity, the
//! identity eks-iam-sync runs as) holds the bootstrap cluster-admin entry, unmanaged.

use serde_json::{Value, json};

use crate::support::{TestCluster, iam_group, identity, private_stack, section, stack};

const ACCOUNT: &str = "123456789012";
/// A trust policy for test roles.
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// Principal ARNs of the cluster's access entries.
fn entries(t: &TestCluster) -> Vec<String> {
    let listed = t
        .on()
        .aws(&["eks", "list-access-entries", "--cluster-name", &t.name]);
    listed["accessEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn describe(t: &TestCluster, principal: &str) -> Value {
    t.on().aws(&[
        "eks",
        "describe-access-entry",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        principal,
    ])["accessEntry"]
        .clone()
}

/// Names of the policies associated with an entry, with their scope type.
fn policies(t: &TestCluster, principal: &str) -> Vec<String> {
    let listed = t.on().aws(&[
        "eks",
        "list-associated-access-policies",
        "--cluster-name",
        &t.name,
        "--principal-arn",
        principal,
    ]);
    listed["associatedAccessPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["policyArn"].as_str().unwrap().rsplit('/').next().unwrap(),
                p["accessScope"]["type"].as_str().unwrap()
            )
        })
        .collect()
}

/// Admins (system:masters) and developers (`developers`) from two IAM groups.
fn groups_config(t: &TestCluster, dev_groups: &str) -> String {
    format!(
        "groups:\n  - iamGroup: {}\n    kubernetesGroups: [system:masters]\n  - iamGroup: {}\n    kubernetesGroups: {dev_groups}\n",
        t.iam("admins"),
        t.iam("devs")
    )
}

fn keys(report: &Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect()
}

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

#[test]
fn access_entries_auto_backend_follows_the_authentication_mode() {
    for (mode, backend) in [
        ("CONFIG_MAP", "aws-auth"),
        ("API_AND_CONFIG_MAP", "access-entries"),
        ("API", "access-entries"),
    ] {
        let test = format!("ae-auto-{}", mode.to_ascii_lowercase().replace('_', "-"));
        let t = TestCluster::with_mode(&test, mode);
        let alice = t.iam("alice");
        iam_group(&t.iam("admins"), &[&alice]);
        iam_group(&t.iam("devs"), &[]);
        t.configure_backend("auto", &groups_config(&t, "[developers]"));
        let report = t.invoke(&t.schedule()).cluster();
        assert_eq!(report["backend"], backend, "{mode}: {report}");
        assert_eq!(report["outcome"], "applied", "{mode}: {report}");
        let has_entry = entries_if_any(&t).contains(&t.user_arn("alice"));
        assert_eq!(has_entry, backend == "access-entries", "{mode}");
        if mode != "API" {
            // aws-auth is written only on CONFIG_MAP; otherwise left as it is (absent here).
            let in_aws_auth = section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("alice"));
            assert_eq!(in_aws_auth, mode == "CONFIG_MAP", "{mode}");
        }
    }
}

/// Access entries, or none on a CONFIG_MAP cluster (where EKS refuses to list them).
fn entries_if_any(t: &TestCluster) -> Vec<String> {
    let described = t.on().aws(&["eks", "describe-cluster", "--name", &t.name]);
    if described["cluster"]["accessConfig"]["authenticationMode"] == "CONFIG_MAP" {
        return Vec::new();
    }
    entries(t)
}

#[test]
fn access_entries_backend_on_a_config_map_cluster_fails_naming_the_mode() {
    let t = TestCluster::new("ae-wrong-mode");
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &[]);
    t.configure_backend("access-entries", &groups_config(&t, "[developers]"));
    let run = t.invoke(&t.schedule());
    assert_ne!(run.code, 0);
    let report = run.cluster();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["backend"], "access-entries");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("its authentication mode is CONFIG_MAP"),
        "{report}"
    );
}

#[test]
fn migrate_plans_then_moves_managed_aws_auth_entries() {
    let t = TestCluster::new("ae-migrate");
    let (alice, bob) = (t.iam("alice"), t.iam("bob"));
    iam_group(&t.iam("admins"), &[&alice]);
    iam_group(&t.iam("devs"), &[&bob]);
    stack().aws(&[
        "iam",
        "create-role",
        "--role-name",
        &t.iam("nodes"),
        "--assume-role-policy-document",
        TRUST,
    ]);
    let human =
        "- rolearn: arn:aws:iam::123456789012:role/human\n  username: human\n  groups: [ops]\n";
    t.create_aws_auth(&[("mapRoles", human)]);
    // aws-auth first: alice (admin), bob (developers), a node role, and a bootstrapper-only
    // role that has no access-entry equivalent.
    let config = format!(
        "{}roles:\n  - arn: {}\n    username: \"system:node:{{{{EC2PrivateDNSName}}}}\"\n    kubernetesGroups: [system:bootstrappers, system:nodes]\n  - arn: {}\n    username: boot\n    kubernetesGroups: [system:bootstrappers]\n",
        groups_config(&t, "[developers]"),
        role_arn(&t.iam("nodes")),
        role_arn(&t.iam("boot"))
    );
    t.configure_backend("aws-auth", &config);
    let first = t.sync(&["apply"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);

    // Not on CONFIG_MAP.
    let refused = t.sync(&["migrate", "--cluster", &t.name]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("API_AND_CONFIG_MAP first"),
        "{}",
        refused.stderr
    );

    t.set_mode("API_AND_CONFIG_MAP");
    let plan = t.sync(&["migrate", "--cluster", &t.name]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(&format!(
            "cannot move {}: group system:bootstrappers",
            role_arn(&t.iam("boot"))
        )),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains(&format!(
        "+ access entry {}  type=EC2_LINUX",
        role_arn(&t.iam("nodes"))
    )));
    assert_eq!(entries(&t).len(), 1, "the plan writes nothing");
    assert!(section(&t.aws_auth(), "mapUsers").contains(&t.user_arn("alice")));

    let moved = t.sync(&["migrate", "--cluster", &t.name, "--apply"]);
    assert_eq!(moved.code, 0, "{}{}", moved.stdout, moved.stderr);
    assert!(
        moved.stdout.contains("3 entr(ies) removed from aws-auth"),
        "{}",
        moved.stdout
    );
    assert_eq!(
        policies(&t, &t.user_arn("alice")),
        ["AmazonEKSClusterAdminPolicy cluster"]
    );
    assert_eq!(
        describe(&t, &role_arn(&t.iam("nodes")))["type"],
        "EC2_LINUX"
    );
    assert_eq!(
        describe(&t, &t.user_arn("bob"))["kubernetesGroups"],
        json!(["developers"])
    );
    let data = t.aws_auth();
    let (roles, users) = (section(&data, "mapRoles"), section(&data, "mapUsers"));
    assert!(roles.starts_with(human), "unmanaged bytes kept:\n{roles}");
    assert!(roles.contains(&role_arn(&t.iam("boot"))), "{roles}");
    assert!(!roles.contains(&role_arn(&t.iam("nodes"))), "{roles}");
    assert!(
        !users.contains(&t.user_arn("alice")) && !users.contains(&t.user_arn("bob")),
        "{users}"
    );

    let again = t.sync(&["migrate", "--cluster", &t.name]);
    assert_eq!(again.code, 0, "nothing left to move: {}", again.stdout);
}

#[test]
fn access_entries_recreated_principal_gets_its_entry_recreated() {
    let t = TestCluster::with_mode("ae-recreate", "API");
    let deployer = t.iam("deployer");
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &[]);
    let create = || {
        stack().aws(&[
            "iam",
            "create-role",
            "--role-name",
            &deployer,
            "--assume-role-policy-document",
            TRUST,
        ])["Role"]["RoleId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first_id = create();
    let config = format!(
        "{}roles:\n  - arn: {}\n    username: deployer\n    kubernetesGroups: [deployers]\n",
        groups_config(&t, "[developers]"),
        role_arn(&deployer)
    );
    t.configure_backend("auto", &config);
    assert_eq!(t.invoke(&t.schedule()).cluster()["outcome"], "applied");
    assert_eq!(
        describe(&t, &role_arn(&deployer))["tags"]["eks-iam-sync/principal-id"],
        first_id.as_str()
    );

    stack().aws(&["iam", "delete-role", "--role-name", &deployer]);
    let deleted = t.invoke(&t.event("delete_role", json!({"roleName": deployer})));
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let second_id = create();
    assert_ne!(first_id, second_id);
    let run = t.invoke(&t.event("create_role", json!({"roleName": deployer})));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.cluster();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(keys(&report, "changed"), [role_arn(&deployer)]);
    assert!(
        report["changed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("deleted and recreated"),
        "{report}"
    );
    assert_eq!(
        describe(&t, &role_arn(&deployer))["tags"]["eks-iam-sync/principal-id"],
        second_id.as_str()
    );
}

#[test]
fn access_entries_the_tools_own_identity_keeps_its_entry() {
    let mut t = TestCluster::with_mode("ae-self", "API");
    let (key, secret, arn) = identity(&t.iam("sync"));
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &[]);
    let with_self = format!(
        "{}users:\n  - arn: {arn}\n    username: eks-iam-sync\n    kubernetesGroups: [system:masters]\n",
        groups_config(&t, "[developers]")
    );
    t.configure_backend("auto", &with_self);
    // Bootstrapped by the cluster creator; from then on the tool runs as itself.
    assert_eq!(t.sync(&["apply"]).code, 0);
    assert_eq!(policies(&t, &arn), ["AmazonEKSClusterAdminPolicy cluster"]);
    t.run_as(&key, &secret);
    t.configure_backend("auto", &groups_config(&t, "[developers]"));
    let run = t.sync(&["apply"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "refused by guard `protected-principal`: {arn} would lose its access entry"
        )),
        "{}",
        run.stdout
    );
    assert!(entries(&t).contains(&arn));
}

#[test]
fn access_entries_a_user_event_reconciles_the_cluster() {
    let t = TestCluster::with_mode("ae-event", "API");
    let bob = t.iam("bob");
    iam_group(&t.iam("admins"), &[]);
    iam_group(&t.iam("devs"), &[]);
    t.configure_backend("auto", &groups_config(&t, "[developers]"));
    assert_eq!(t.invoke(&t.schedule()).cluster()["outcome"], "unchanged");
    stack().add_member(&t.iam("devs"), &bob);
    let run = t.invoke(&t.event(
        "add_user_to_group",
        json!({"groupName": t.iam("devs"), "userName": bob}),
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.cluster();
    assert_eq!(report["backend"], "access-entries");
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(keys(&report, "added"), [t.user_arn("bob")]);
    assert_eq!(report["apiCalls"]["eks_write"], 1, "one CreateAccessEntry");
    assert_eq!(
        describe(&t, &t.user_arn("bob"))["kubernetesGroups"],
        json!(["developers"])
    );
}
