//! `backend: auto` per authentication mode, the access-entries backend on a CONFIG_MAP cluster,
//! and `migrate` from aws-auth to access entries.

use serde_json::json;

use super::{TRUST, describe, entries, groups_config, policies, role_arn};
use crate::support::{TestCluster, iam_group, section, stack};

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
    // Not while the configuration keeps granting through aws-auth (issue 12).
    let refused = t.sync(&["migrate", "--cluster", &t.name]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("is configured with backend aws-auth"),
        "{}",
        refused.stderr
    );
    t.configure_backend("auto", &config);
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
