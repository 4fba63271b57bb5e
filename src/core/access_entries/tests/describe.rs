//! The plan texts operators read (`AccessPlan::describe`, `MigrationPlan::describe`), as
//! snapshots.

use super::*;

#[test]
fn the_access_plan_text() {
    let current = [
        entry(ALICE, "old", &["devs"]).managed(),
        entry(BOB, "bob", &["devs"]).managed(),
        entry(NODES_ROLE, "nodes", &["devs"]).managed(),
        entry(ME, "me", &[]).with(admin_policy()),
    ];
    let want = DesiredBuilder::new()
        .user(ALICE, "alice", &["devs"])
        .user(
            "arn:aws:iam::111122223333:user/carol",
            "carol",
            &["system:masters"],
        )
        .user("arn:aws:iam::111122223333:user/dave", "eks:dave", &["devs"])
        .role(ME, "me", &["devs"])
        .role(
            NODES_ROLE,
            "system:node:{{EC2PrivateDNSName}}",
            &["system:nodes"],
        );
    insta::assert_snapshot!("access_plan", plan_with(&current, &want, &[]).describe());
    let refused = plan_with(
        &[entry(ALICE, "alice", &[]).managed().with(admin_policy())],
        &DesiredBuilder::new(),
        &[],
    );
    insta::assert_snapshot!("access_plan_refused", refused.describe());
}

#[test]
fn the_migration_plan_text() {
    let (want, current) = migration_scenario();
    let migration = plan_migration(&AccessPlanRequest {
        current: &current,
        desired: &want.0,
        cluster_account: Some(ACCOUNT),
        guards: GuardSettings::default(),
        protected: &[],
    });
    insta::assert_snapshot!("migration_plan", migration.describe());
}
