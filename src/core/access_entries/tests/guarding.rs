//! The guards on access entries, and the planner's own `ambiguous-entries` refusal.

use super::*;

#[test]
fn guard_last_cluster_admin_policy() {
    let current = [entry(ALICE, "alice", &[]).managed().with(admin_policy())];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["devs"]),
        &[],
    );
    assert_eq!(guards_of(&p), [Guard::LastClusterAdmin]);
    assert!(p.operations().is_empty());
    // An unmanaged admin elsewhere keeps the cluster administrable.
    let current = [
        entry(ALICE, "alice", &[]).managed().with(admin_policy()),
        entry(ME, "me", &[]).with(admin_policy()),
    ];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().user(ALICE, "alice", &["devs"]),
        &[],
    );
    assert!(!p.is_refused(), "{}", p.describe());
}

#[test]
fn a_last_admin_refusal_while_policies_are_unread_asks_for_every_policy() {
    // bob's entry is unmanaged and nobody desires him: his policies were not read.
    let unread = CurrentEntry {
        policies_unread: true,
        ..entry(BOB, "bob", &[])
    };
    let current = [
        entry(ALICE, "alice", &[]).managed().with(admin_policy()),
        unread.clone(),
    ];
    let want = DesiredBuilder::new().user(ALICE, "alice", &["devs"]);
    let p = plan_with(&current, &want, &[]);
    assert_eq!(guards_of(&p), [Guard::LastClusterAdmin]);
    assert!(p.needs_every_policy(&current), "bob may be an admin");
    // Read: bob is an admin, so the write is safe.
    let read = [
        current[0].clone(),
        CurrentEntry {
            policies_unread: false,
            ..unread.with(admin_policy())
        },
    ];
    let p = plan_with(&read, &want, &[]);
    assert!(!p.is_refused(), "{}", p.describe());
    assert!(!p.needs_every_policy(&read));
}

#[test]
fn guard_protected_principal_keeps_its_entry_and_admin_policy() {
    let protected = [ME.to_owned()];
    let other_admin = entry(ALICE, "alice", &[]).with(admin_policy());
    let current = [
        entry(ME, "me", &[]).managed().with(admin_policy()),
        other_admin.clone(),
    ];
    let gone = plan_with(&current, &DesiredBuilder::new(), &protected);
    assert_eq!(guards_of(&gone), [Guard::ProtectedPrincipal]);
    assert!(
        gone.refusals[0]
            .message
            .contains("would lose its access entry")
    );
    let demoted = plan_with(
        &current,
        &DesiredBuilder::new().role(ME, "me", &["devs"]),
        &protected,
    );
    assert_eq!(guards_of(&demoted), [Guard::ProtectedPrincipal]);
    assert!(
        demoted.refusals[0]
            .message
            .contains("would lose AmazonEKSClusterAdminPolicy")
    );
}

#[test]
fn guard_node_role() {
    let current = [
        entry(NODES_ROLE, "", &[]).managed().node(),
        entry(ALICE, "alice", &[]).with(admin_policy()),
    ];
    let p = plan_with(&current, &DesiredBuilder::new(), &[]);
    assert_eq!(guards_of(&p), [Guard::NodeRole]);
}

#[test]
fn guard_mass_removal_and_its_override() {
    let users: Vec<String> = (0..4)
        .map(|i| format!("arn:aws:iam::111122223333:user/u{i}"))
        .collect();
    let current: Vec<CurrentEntry> = users
        .iter()
        .map(|u| entry(u, "u", &["devs"]).managed())
        .collect();
    let want = DesiredBuilder::new().user(&users[0], "u", &["devs"]);
    let p = plan_with(&current, &want, &[]);
    assert_eq!(guards_of(&p), [Guard::MassRemoval]);
    assert!(p.refusals[0].message.contains("3 of 4"));
    let allowed = plan(&AccessPlanRequest {
        current: &current,
        desired: &want.0,
        cluster_account: Some(ACCOUNT),
        guards: GuardSettings {
            allow_mass_removal: true,
            ..GuardSettings::default()
        },
        protected: &[],
    });
    assert!(!allowed.is_refused());
    assert_eq!(allowed.operations().len(), 3);
}

#[test]
fn guard_ambiguous_entries_refuse_rather_than_guess() {
    let current = [
        entry("arn:aws:iam::111122223333:role/deployer", "d", &[]).managed(),
        entry(DEPLOY, "d", &[]),
    ];
    let p = plan_with(
        &current,
        &DesiredBuilder::new().role(DEPLOY, "deployer", &[]),
        &[],
    );
    assert_eq!(guards_of(&p), [Guard::Ambiguous]);
    assert!(
        p.describe()
            .contains("refused by guard `ambiguous-entries`")
    );
}
