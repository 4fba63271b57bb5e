//! Translation by EKS's rules: policies for system:masters, node entries, what is skipped.

use super::*;

#[test]
fn system_masters_becomes_the_cluster_admin_policy_at_cluster_scope() {
    let t = translate(
        &DesiredBuilder::new()
            .user(ALICE, "alice", &["system:masters", "devs"])
            .0,
        Some(ACCOUNT),
    );
    let e = &t.entries[&ALICE.to_ascii_lowercase()];
    assert_eq!(e.entry_type, STANDARD);
    assert_eq!(e.groups, strings(&["devs"]));
    assert_eq!(e.policies, vec![admin_policy()]);
    assert_eq!(e.username.as_deref(), Some("alice"));
}

#[test]
fn other_system_groups_are_skipped_per_entry_and_never_sent() {
    let t = translate(
        &DesiredBuilder::new()
            .user(ALICE, "alice", &["system:bootstrappers"])
            .user(BOB, "bob", &["devs"])
            .0,
        Some(ACCOUNT),
    );
    assert_eq!(t.entries.len(), 1);
    assert_eq!(t.skipped.len(), 1);
    assert_eq!(t.skipped[0].key, ALICE);
    assert!(t.skipped[0].reason.contains("system:bootstrappers"));
}

#[test]
fn reserved_username_prefixes_are_skipped() {
    for prefix in RESERVED_USERNAME_PREFIXES {
        let t = translate(
            &DesiredBuilder::new()
                .user(ALICE, &format!("{prefix}alice"), &["devs"])
                .0,
            Some(ACCOUNT),
        );
        assert!(t.entries.is_empty(), "{prefix}");
        assert!(t.skipped[0].reason.contains(prefix), "{:?}", t.skipped);
    }
}

#[test]
fn node_roles_become_ec2_linux_entries_without_username_groups_or_policies() {
    let t = translate(
        &DesiredBuilder::new()
            .role(
                NODES_ROLE,
                "system:node:{{EC2PrivateDNSName}}",
                &["system:bootstrappers", "system:nodes"],
            )
            .0,
        Some(ACCOUNT),
    );
    let e = &t.entries[&NODES_ROLE.to_ascii_lowercase()];
    assert_eq!(e.entry_type, EC2_LINUX);
    assert_eq!(e.username, None);
    assert!(e.groups.is_empty() && e.policies.is_empty());
}

#[test]
fn node_entries_need_a_role_of_the_cluster_account() {
    let other = "arn:aws:iam::999999999999:role/nodes";
    let t = translate(
        &DesiredBuilder::new()
            .user(ALICE, "alice", &["system:nodes"])
            .role(
                other,
                "system:node:{{EC2PrivateDNSName}}",
                &["system:nodes"],
            )
            .0,
        Some(ACCOUNT),
    );
    assert!(t.entries.is_empty());
    assert_eq!(t.skipped.len(), 2);
    assert!(
        t.skipped
            .iter()
            .any(|s| s.reason.contains("only an IAM role"))
    );
    assert!(t.skipped.iter().any(|s| s.reason.contains("999999999999")));
}

#[test]
fn role_arns_keep_their_path_and_are_matched_without_it() {
    let want = DesiredBuilder::new().role(DEPLOY, "deployer", &["deployers"]);
    let t = translate(&want.0, Some(ACCOUNT));
    let e = &t.entries["arn:aws:iam::111122223333:role/deployer"];
    assert_eq!(e.principal_arn, DEPLOY);
    // An existing managed entry written without the path is the same principal.
    let current = [entry(
        "arn:aws:iam::111122223333:role/deployer",
        "deployer",
        &["deployers"],
    )
    .managed()];
    assert!(!plan_with(&current, &want, &[]).has_changes());
}

#[test]
fn accounts_have_no_equivalent_and_are_reported() {
    let mut set = DesiredSet::default();
    set.add_account("accounts", ACCOUNT, "configured").unwrap();
    let t = translate(&set, Some(ACCOUNT));
    assert_eq!(t.skipped[0].key, ACCOUNT);
    assert!(t.skipped[0].reason.contains("mapAccounts"));
}
