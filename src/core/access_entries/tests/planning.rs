//! The planner: creates, updates, recreates and deletes of managed entries; unmanaged ones left alone.

use super::*;

#[test]
fn a_new_entry_is_created_tagged_then_its_policy_associated() {
    let p = plan_with(
        &[],
        &DesiredBuilder::new()
            .user(ALICE, "alice", &["system:masters"])
            .id(ALICE, "AIDAALICE"),
        &[],
    );
    assert_eq!(kinds(&p), [(EntryChangeKind::Create, ALICE)]);
    let ops = p.operations();
    let Operation::Create { tags, username, .. } = ops[0] else {
        panic!("{ops:?}")
    };
    assert_eq!(tags[MANAGED_TAG], MANAGED_VALUE);
    assert_eq!(tags[PRINCIPAL_ID_TAG], "AIDAALICE");
    assert_eq!(username.as_deref(), Some("alice"));
    assert_eq!(
        ops[1],
        &Operation::Associate {
            principal_arn: ALICE.to_owned(),
            policy: admin_policy()
        }
    );
    assert!(p.describe().starts_with("+ access entry arn:aws:iam::111122223333:user/alice  type=STANDARD username=alice policies=[AmazonEKSClusterAdminPolicy (cluster)]"), "{}", p.describe());
}

#[test]
fn steady_state_plans_nothing() {
    let current = [entry(ALICE, "alice", &["devs"])
        .managed()
        .with(admin_policy())];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["system:masters", "devs"]),
        &[],
    );
    assert!(!p.has_changes() && !p.is_refused(), "{}", p.describe());
    assert!(p.operations().is_empty());
    assert!(p.describe().starts_with("No changes"));
}

#[test]
fn username_and_groups_are_updated_in_place() {
    let current = [
        entry(ALICE, "old", &["devs"]).managed(),
        entry(BOB, "bob", &["a"]).managed(),
    ];
    let want = DesiredBuilder::new()
        .user(ALICE, "alice", &["devs"])
        .user(BOB, "bob", &["a", "b"]);
    let p = plan_with(&current, &want, &[]);
    assert_eq!(
        kinds(&p),
        [
            (EntryChangeKind::Update, ALICE),
            (EntryChangeKind::Update, BOB)
        ]
    );
    assert!(p.changes[0].reason.contains("username old → alice"));
    assert!(p.changes[1].reason.contains("groups [a] → [a, b]"));
    assert_eq!(
        p.operations()[1],
        &Operation::Update {
            principal_arn: BOB.to_owned(),
            username: Some("bob".to_owned()),
            groups: strings(&["a", "b"])
        }
    );
}

#[test]
fn unmanaged_entries_are_never_changed_or_deleted() {
    let current = [
        entry(ALICE, "hand-written", &["x"]),
        entry(BOB, "bob", &[]).with(admin_policy()),
    ];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["devs"]),
        &[],
    );
    assert!(!p.has_changes(), "{}", p.describe());
    assert_eq!(p.skipped[0].key, ALICE);
    assert!(p.warnings[0].contains("collides with unmanaged"));
}

#[test]
fn managed_entries_no_longer_desired_are_deleted_after_creates() {
    let current = [entry(BOB, "bob", &["devs"]).managed()];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["devs"]),
        &[],
    );
    assert_eq!(
        kinds(&p),
        [
            (EntryChangeKind::Create, ALICE),
            (EntryChangeKind::Delete, BOB)
        ]
    );
    assert!(
        p.describe()
            .contains("- access entry arn:aws:iam::111122223333:user/bob")
    );
}

#[test]
fn a_type_change_is_a_delete_then_a_create() {
    let current = [entry(NODES_ROLE, "nodes", &["devs"]).managed()];
    let want = DesiredBuilder::new().role(
        NODES_ROLE,
        "system:node:{{EC2PrivateDNSName}}",
        &["system:nodes"],
    );
    let p = plan_with(&current, &want, &[]);
    assert_eq!(kinds(&p), [(EntryChangeKind::Recreate, NODES_ROLE)]);
    let ops = p.operations();
    assert_eq!(ops[0].name(), "DeleteAccessEntry");
    assert!(matches!(ops[1], Operation::Create { entry_type, .. } if entry_type == EC2_LINUX));
    assert!(p.changes[0].reason.contains("type STANDARD → EC2_LINUX"));
}

#[test]
fn a_recreated_principal_gets_its_entry_recreated() {
    let current = [entry(ALICE, "alice", &["devs"]).managed().id("AIDAOLD")];
    let want = DesiredBuilder::new()
        .user(ALICE, "alice", &["devs"])
        .id(ALICE, "AIDANEW");
    let p = plan_with(&current, &want, &[]);
    assert_eq!(kinds(&p), [(EntryChangeKind::Recreate, ALICE)]);
    assert!(p.changes[0].reason.contains("AIDAOLD → AIDANEW"));
    let Operation::Create { tags, .. } = p.operations()[1] else {
        panic!()
    };
    assert_eq!(tags[PRINCIPAL_ID_TAG], "AIDANEW");
    // Same id, or an entry that never recorded one: nothing to do.
    let same = DesiredBuilder::new()
        .user(ALICE, "alice", &["devs"])
        .id(ALICE, "AIDAOLD");
    assert!(!plan_with(&current, &same, &[]).has_changes());
    let untagged = [entry(ALICE, "alice", &["devs"]).managed()];
    assert!(!plan_with(&untagged, &want, &[]).has_changes());
}

#[test]
fn policies_on_managed_entries_follow_the_config_hand_added_ones_are_reverted() {
    // Issue 13 replaced "hand-added policies stay": a hand-associated view policy goes (drift
    // reverted), and so does the admin policy the config no longer lists.
    let current = [
        entry(ALICE, "alice", &["devs"])
            .managed()
            .with(view_policy())
            .with(admin_policy()),
        entry(ME, "me", &[]).with(admin_policy()),
    ];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["devs"]),
        &[],
    );
    assert_eq!(
        p.operations(),
        [
            &Operation::Disassociate {
                principal_arn: ALICE.to_owned(),
                policy_arn: view_policy().policy_arn
            },
            &Operation::Disassociate {
                principal_arn: ALICE.to_owned(),
                policy_arn: admin_policy().policy_arn
            }
        ]
    );
    assert!(p.changes[0].after.as_ref().unwrap().policies.is_empty());
    assert!(
        p.changes[0].reason.contains(
            "AmazonEKSViewPolicy (cluster) disassociated: not configured for this managed entry (drift reverted)"
        ),
        "{}",
        p.changes[0].reason
    );
    // The config lists the admin policy: a hand-narrowed scope is put back to cluster.
    let narrowed = Policy {
        scope: Scope::Namespaces(vec!["dev".to_owned()]),
        ..admin_policy()
    };
    let current = [entry(ALICE, "alice", &[]).managed().with(narrowed)];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["system:masters"]),
        &[],
    );
    assert_eq!(
        p.operations(),
        [&Operation::Associate {
            principal_arn: ALICE.to_owned(),
            policy: admin_policy()
        }]
    );
    assert!(
        p.changes[0]
            .reason
            .contains("scope namespaces dev → cluster")
    );
}
