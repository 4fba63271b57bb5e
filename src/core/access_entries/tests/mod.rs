//! Unit tests of the access-entries backend, by topic; inputs from [`crate::fixtures`].

mod describe;
mod guarding;
mod hold_back;
mod migration;
mod planning;
mod policies;
mod translation;

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::core::aws_auth::{AwsAuth, ConfigMapData, LEDGER_ANNOTATION, OwnershipRules};
use crate::core::desired::DesiredSet;
use crate::core::guards::{Guard, GuardSettings};
use crate::fixtures::{
    ACCOUNT, DesiredBuilder, EntryBuilder, admin_policy, entry, strings, view_policy,
};

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const DEPLOY: &str = "arn:aws:iam::111122223333:role/team/deployer";
const NODES_ROLE: &str = "arn:aws:iam::111122223333:role/nodes";
const ME: &str = "arn:aws:iam::111122223333:role/eks-iam-sync";

fn plan_with(current: &[CurrentEntry], want: &DesiredBuilder, protected: &[String]) -> AccessPlan {
    plan(&AccessPlanRequest {
        current,
        desired: &want.0,
        cluster_account: Some(ACCOUNT),
        guards: GuardSettings::default(),
        protected,
    })
}

fn kinds(plan: &AccessPlan) -> Vec<(EntryChangeKind, &str)> {
    plan.changes
        .iter()
        .map(|c| (c.kind, c.principal_arn.as_str()))
        .collect()
}

fn guards_of(plan: &AccessPlan) -> Vec<Guard> {
    plan.refusals.iter().map(|r| r.guard).collect()
}

/// The migration scenario: alice moves, bob has a hand-made entry, the deployer cannot move.
fn migration_scenario() -> (DesiredBuilder, [CurrentEntry; 2]) {
    let want = DesiredBuilder::new()
        .user(ALICE, "alice", &["system:masters"])
        .user(BOB, "bob", &["devs"])
        .role(DEPLOY, "deployer", &["system:bootstrappers"]);
    let current = [
        entry(BOB, "hand", &[]),
        entry(ME, "me", &[]).managed().with(admin_policy()),
    ];
    (want, current)
}
