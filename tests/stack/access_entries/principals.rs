//! Principals over time: a deleted and recreated principal, the tool's own identity, and a
//! user event reconciling the cluster.

use serde_json::json;

use super::{TRUST, describe, entries, groups_config, keys, policies, role_arn};
use crate::support::{TestCluster, iam_group, identity, stack};

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
