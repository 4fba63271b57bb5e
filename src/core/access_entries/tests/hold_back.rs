//! What a failed change holds back: only removals of the same principal, or removals the
//! guards allowed only because of the failed grant; the rest still run.

use super::*;
use crate::core::access_entries::hold_back::{
    OtherStore, Progress, Release, Verdict, release_despite_refusal, release_removals,
    removes_access,
};
use crate::core::guards::{AccessView, Holding, Refusal};

const VIC: &str = "arn:aws:iam::111122223333:user/vic";
const ANN: &str = "arn:aws:iam::111122223333:user/ann";
const SLR: &str =
    "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS";

fn failed(why: &str) -> Option<Progress> {
    Some(Progress::Failed {
        calls_done: 0,
        why: why.to_owned(),
    })
}

/// How each change of `plan` is judged once the grants ended as `grant_ended` says (by
/// principal; a grant not named went through).
fn verdicts(
    current: &[CurrentEntry],
    plan: &AccessPlan,
    grant_ended: &[(&str, Option<Progress>)],
) -> Vec<(String, Verdict)> {
    let progress: Vec<Option<Progress>> = plan
        .changes
        .iter()
        .map(|c| {
            if removes_access(c) {
                return None;
            }
            grant_ended
                .iter()
                .find(|(arn, _)| *arn == c.principal_arn)
                .map_or(Some(Progress::Done), |(_, p)| p.clone())
        })
        .collect();
    release_removals(&Release {
        current,
        changes: &plan.changes,
        progress: &progress,
        other: None,
        guards: GuardSettings::default(),
        protected: &[],
    })
    .into_iter()
    .map(|(i, v)| (plan.changes[i].principal_arn.clone(), v))
    .collect()
}

#[test]
fn a_rejected_grant_of_another_principal_does_not_hold_back_a_revocation() {
    // Issue 20, scenario 1: ann stays admin, vic left the group, a service-linked role is
    // configured and EKS rejects its entry.
    let current = [
        entry(ANN, "ann", &[]).managed().with(admin_policy()),
        entry(VIC, "vic", &[]).managed().with(admin_policy()),
    ];
    let want = DesiredBuilder::new()
        .user(ANN, "ann", &["system:masters"])
        .role(SLR, "slr", &["devs"]);
    let p = plan_with(&current, &want, &[]);
    assert!(!p.is_refused(), "{}", p.describe());
    let v = verdicts(&current, &p, &[(SLR, failed("InvalidParameterException"))]);
    assert_eq!(v, [(VIC.to_owned(), Verdict::Run)]);
}

#[test]
fn a_removal_that_relied_on_a_failed_admin_grant_waits_and_names_the_guard() {
    // alice replaces vic as the only admin; alice's create fails: vic must keep his entry.
    let current = [entry(VIC, "vic", &[]).managed().with(admin_policy())];
    let want = DesiredBuilder::new().user(ALICE, "alice", &["system:masters"]);
    let p = plan_with(&current, &want, &[]);
    assert!(!p.is_refused(), "{}", p.describe());
    let v = verdicts(
        &current,
        &p,
        &[(ALICE, failed("InvalidParameterException"))],
    );
    assert_eq!(v.len(), 1);
    let Verdict::HeldBack(why) = &v[0].1 else {
        panic!("{v:?}")
    };
    assert!(why.contains("last-cluster-admin"), "{why}");
    // The same plan with alice's grant made: vic goes.
    assert_eq!(
        verdicts(&current, &p, &[]),
        [(VIC.to_owned(), Verdict::Run)]
    );
}

#[test]
fn only_the_removals_that_still_pass_are_released() {
    // Two admins go, alice was to replace them and failed, bob (non-admin) goes too: one of
    // the admins and bob are released, the last admin waits.
    let current = [
        entry(VIC, "vic", &[]).managed().with(admin_policy()),
        entry(ANN, "ann", &[]).managed().with(admin_policy()),
        entry(BOB, "bob", &["devs"]).managed(),
        entry(ME, "me", &["ops"]).managed(),
        entry(DEPLOY, "deployer", &["ops"]).managed(),
        entry(NODES_ROLE, "nodes", &["ops"]).managed(),
    ];
    let want = DesiredBuilder::new()
        .user(ALICE, "alice", &["system:masters"])
        .role(ME, "me", &["ops"])
        .role(DEPLOY, "deployer", &["ops"])
        .role(NODES_ROLE, "nodes", &["ops"]);
    let p = plan_with(&current, &want, &[]);
    assert!(!p.is_refused(), "{}", p.describe());
    let v = verdicts(&current, &p, &[(ALICE, failed("rejected"))]);
    let ran: Vec<&str> = v
        .iter()
        .filter(|(_, v)| *v == Verdict::Run)
        .map(|(k, _)| k.as_str())
        .collect();
    let waiting: Vec<&str> = v
        .iter()
        .filter(|(_, v)| *v != Verdict::Run)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(ran.len(), 2, "{v:?}");
    assert!(ran.contains(&BOB), "{v:?}");
    assert_eq!(waiting.len(), 1, "{v:?}");
    assert!([VIC, ANN].contains(&waiting[0]), "{v:?}");
}

#[test]
fn a_change_that_failed_halfway_is_not_counted_as_holding_access() {
    // alice's create went through but its admin association failed: nobody can tell whether
    // she is admin, so vic (the old admin) waits.
    let current = [entry(VIC, "vic", &[]).managed().with(admin_policy())];
    let want = DesiredBuilder::new().user(ALICE, "alice", &["system:masters"]);
    let p = plan_with(&current, &want, &[]);
    let halfway = Some(Progress::Failed {
        calls_done: 1,
        why: "AssociateAccessPolicy rejected".to_owned(),
    });
    let v = verdicts(&current, &p, &[(ALICE, halfway)]);
    assert!(matches!(v[0].1, Verdict::HeldBack(_)), "{v:?}");
}

#[test]
fn a_failed_recreate_holds_back_nothing_of_its_own_principal_but_is_not_a_removal() {
    let recreate = EntryChange {
        kind: EntryChangeKind::Recreate,
        principal_arn: ALICE.to_owned(),
        before: None,
        after: None,
        reason: String::new(),
        operations: vec![
            Operation::Delete {
                principal_arn: ALICE.to_owned(),
            },
            Operation::Create {
                principal_arn: ALICE.to_owned(),
                entry_type: STANDARD.to_owned(),
                username: None,
                groups: Vec::new(),
                tags: BTreeMap::new(),
            },
        ],
    };
    assert!(!removes_access(&recreate), "a recreate grants");
    let disassociate = EntryChange {
        operations: vec![Operation::Disassociate {
            principal_arn: ALICE.to_owned(),
            policy_arn: admin_policy().policy_arn,
        }],
        kind: EntryChangeKind::Update,
        ..recreate
    };
    assert!(removes_access(&disassociate), "a demotion removes access");
}

fn admin_holding(label: &str) -> Holding {
    Holding {
        label: label.to_owned(),
        username: None,
        admin: true,
        node: false,
    }
}

#[test]
fn a_refused_plan_still_revokes_what_cannot_lock_anyone_out() {
    // Issue 20, scenario 3: aws-auth is unparsable (refused); bob's managed entry is no longer
    // desired and vic keeps his admin entry: bob still goes.
    let current = [
        entry(VIC, "vic", &[]).with(admin_policy()),
        entry(BOB, "bob", &["devs"]).managed(),
    ];
    let p = plan_with(&current, &DesiredBuilder::new(), &[]);
    let refusal = Refusal {
        guard: Guard::Unparsable,
        message: "mapRoles does not parse".to_owned(),
    };
    // aws-auth held an admin; it is unreadable, so it counts for nothing either way.
    let mut aws_auth = AccessView::default();
    aws_auth.set("x".to_owned(), admin_holding("mapRoles x"));
    let release = Release {
        current: &current,
        changes: &p.changes,
        progress: &vec![None; p.changes.len()],
        other: Some(OtherStore {
            before: &aws_auth,
            after: &aws_auth,
        }),
        guards: GuardSettings::default(),
        protected: &[],
    };
    let v = release_despite_refusal(&release, std::slice::from_ref(&refusal));
    assert_eq!(v, [(0, Verdict::Run)], "{}", p.describe());

    // The last admin entry going is not released: aws-auth's admin cannot be relied on.
    let current = [entry(VIC, "vic", &[]).managed().with(admin_policy())];
    let p = plan_with(&current, &DesiredBuilder::new(), &[]);
    let release = Release {
        current: &current,
        changes: &p.changes,
        progress: &[None],
        ..release
    };
    let v = release_despite_refusal(&release, std::slice::from_ref(&refusal));
    assert!(
        matches!(&v[0].1, Verdict::HeldBack(why) if why.contains("last-cluster-admin")),
        "{v:?}"
    );
}

#[test]
fn a_mass_removal_refusal_holds_back_every_removal() {
    let current: Vec<CurrentEntry> = (0..6)
        .map(|i| entry(&format!("arn:aws:iam::111122223333:user/u{i}"), "u", &[]).managed())
        .collect();
    let p = plan_with(&current, &DesiredBuilder::new(), &[]);
    assert_eq!(guards_of(&p), [Guard::MassRemoval]);
    let release = Release {
        current: &current,
        changes: &p.changes,
        progress: &vec![None; p.changes.len()],
        other: None,
        guards: GuardSettings::default(),
        protected: &[],
    };
    let v = release_despite_refusal(&release, &p.refusals);
    assert_eq!(v.len(), 6);
    assert!(
        v.iter()
            .all(|(_, v)| matches!(v, Verdict::HeldBack(why) if why.contains("mass-removal"))),
        "{v:?}"
    );
}
