//! The plan over both stores: revocation from every store, no additions to the store that
//! does not grant, shadowed grants, and the guards on effective access.

use std::collections::BTreeSet;

use super::*;
use crate::core::access_entries::{CurrentEntry, EntryChangeKind as EntryChange};
use crate::core::aws_auth::plan::MappingChangeKind;
use crate::core::aws_auth::{ConfigMapData, OwnershipRules};
use crate::core::desired::DesiredSet;
use crate::core::guards::{Guard, GuardSettings};
use crate::fixtures::{
    ACCOUNT, DesiredBuilder, EntryBuilder, admin_policy, aws_auth_data, entry, managed_role,
    role_arn, view_policy,
};

fn managed_user(name: &str, groups: &[&str]) -> String {
    let groups: String = groups.iter().map(|g| format!("    - {g}\n")).collect();
    format!(
        "- userarn: arn:aws:iam::{ACCOUNT}:user/{name}\n  username: {name}\n  groups:\n{groups}  managedBy: eks-iam-sync\n"
    )
}

fn user(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn plan_for(
    grants: Store,
    aws_auth: &ConfigMapData,
    entries: &[CurrentEntry],
    desired: &DesiredSet,
) -> BothPlan {
    let ownership = OwnershipRules::default();
    let guards = GuardSettings::default();
    plan_both(&BothRequest {
        grants,
        aws_auth: PlanRequest {
            current: Some(aws_auth),
            desired,
            guards,
            protected: &[],
            ownership: &ownership,
        },
        access_entries: AccessPlanRequest {
            current: entries,
            desired,
            cluster_account: Some(ACCOUNT),
            guards,
            protected: &[],
        },
    })
}

/// aws-auth's changes: (kind, key).
fn aws_auth_changes(plan: &BothPlan) -> Vec<(MappingChangeKind, &str)> {
    plan.aws_auth
        .changes
        .iter()
        .map(|c| (c.kind, c.key.as_str()))
        .collect()
}

/// The access entries' changes: (kind, principal).
fn entry_changes(plan: &BothPlan) -> Vec<(EntryChange, &str)> {
    plan.access_entries
        .changes
        .iter()
        .map(|c| (c.kind, c.principal_arn.as_str()))
        .collect()
}

fn guards_of(plan: &BothPlan) -> Vec<Guard> {
    plan.refusals.iter().map(|r| r.guard).collect()
}

/// The admins every scenario keeps, so the last-admin guard stays out of the way.
fn admins() -> (String, CurrentEntry) {
    (
        managed_role("admin", &["system:masters"]),
        entry(&role_arn("admin"), "admin", &[]).with(admin_policy()),
    )
}

#[test]
fn a_revoked_user_leaves_every_store_in_one_plan() {
    let (admin_mapping, admin_entry) = admins();
    let aws_auth = aws_auth_data(&admin_mapping, &managed_user("vic", &["viewers"]), "");
    let entries = [
        admin_entry,
        entry(&user("vic"), "vic", &["viewers"]).managed(),
    ];
    let desired = DesiredBuilder::new().named_role("admin", &["system:masters"]);
    let plan = plan_for(Store::AccessEntries, &aws_auth, &entries, &desired.0);
    assert!(!plan.is_refused(), "{}", plan.describe());
    let removed = aws_auth_changes(&plan);
    assert_eq!(removed, [(MappingChangeKind::Remove, user("vic").as_str())]);
    let deleted = entry_changes(&plan);
    assert_eq!(deleted, [(EntryChange::Delete, user("vic").as_str())]);
    let write = plan.aws_auth.write.expect("aws-auth is written");
    assert!(!write.data["mapUsers"].contains("vic"), "{write:?}");
}

#[test]
fn the_store_that_does_not_grant_gets_nothing_new_but_stays_in_step() {
    let (admin_mapping, admin_entry) = admins();
    let aws_auth = aws_auth_data(&admin_mapping, &managed_user("vic", &["viewers"]), "");
    let entries = [admin_entry];
    let desired = DesiredBuilder::new()
        .named_role("admin", &["system:masters"])
        .user(&user("vic"), "vic", &["editors"])
        .user(&user("wanda"), "wanda", &["viewers"]);
    let plan = plan_for(Store::AccessEntries, &aws_auth, &entries, &desired.0);
    let changed = aws_auth_changes(&plan);
    assert_eq!(
        changed,
        [(MappingChangeKind::Change, user("vic").as_str())],
        "vic's mapping follows IAM, wanda is not added to aws-auth"
    );
    let created = entry_changes(&plan);
    assert_eq!(
        created,
        [
            (EntryChange::Create, user("vic").as_str()),
            (EntryChange::Create, user("wanda").as_str())
        ]
    );
    assert!(
        plan.aws_auth.skipped.is_empty() && plan.aws_auth.warnings.is_empty(),
        "{}",
        plan.describe()
    );
}

#[test]
fn an_aws_auth_backend_revokes_the_managed_access_entries_that_outrank_it() {
    let (admin_mapping, admin_entry) = admins();
    let aws_auth = aws_auth_data(&admin_mapping, "", "");
    let entries = [
        admin_entry,
        entry(&user("vic"), "vic", &["viewers"]).managed(),
    ];
    let desired = DesiredBuilder::new()
        .named_role("admin", &["system:masters"])
        .user(&user("wanda"), "wanda", &["viewers"]);
    let plan = plan_for(Store::AwsAuth, &aws_auth, &entries, &desired.0);
    assert!(!plan.is_refused(), "{}", plan.describe());
    let kinds: Vec<_> = plan.aws_auth.changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [MappingChangeKind::Add],
        "wanda is granted through aws-auth"
    );
    let deleted = entry_changes(&plan);
    assert_eq!(deleted, [(EntryChange::Delete, user("vic").as_str())]);
}

#[test]
fn a_mapping_behind_an_access_entry_is_reported_as_shadowed() {
    let (admin_mapping, admin_entry) = admins();
    let aws_auth = aws_auth_data(&admin_mapping, &managed_user("vic", &["viewers"]), "");
    let entries = [
        admin_entry,
        entry(&user("vic"), "vic", &["viewers"]).managed(),
    ];
    let desired = DesiredBuilder::new()
        .named_role("admin", &["system:masters"])
        .user(&user("vic"), "vic", &["viewers"]);
    let plan = plan_for(Store::AccessEntries, &aws_auth, &entries, &desired.0);
    assert!(
        plan.aws_auth.changes.is_empty() && !plan.access_entries.has_changes(),
        "{}",
        plan.describe()
    );
    assert_eq!(plan.shadowed.len(), 2, "{:?}", plan.shadowed);
    assert!(
        plan.shadowed
            .iter()
            .any(|s| s.starts_with(&format!("mapUsers {}", user("vic")))),
        "{:?}",
        plan.shadowed
    );
    assert!(plan.describe().contains("shadowed: mapUsers"));
}

#[test]
fn a_masters_mapping_behind_a_non_admin_access_entry_is_no_admin() {
    // alice is the only real admin (her access entry); bob's system:masters mapping is
    // shadowed by his own view-only access entry, so it does not count.
    let aws_auth = aws_auth_data(&managed_role("bob", &["system:masters"]), "", "");
    let entries = [
        entry(&user("alice"), "alice", &[])
            .managed()
            .with(admin_policy()),
        entry(&role_arn("bob"), "bob", &["viewers"]),
    ];
    let desired = DesiredBuilder::new().named_role("bob", &["system:masters"]);
    let plan = plan_for(Store::AccessEntries, &aws_auth, &entries, &desired.0);
    let guards = guards_of(&plan);
    assert_eq!(guards, [Guard::LastClusterAdmin], "{}", plan.describe());
    assert!(
        plan.refusals[0]
            .message
            .contains("held by arn:aws:iam::111122223333:user/alice"),
        "{}",
        plan.refusals[0]
    );
    assert!(plan.aws_auth.write.is_none());
}

#[test]
fn a_refusal_in_one_store_stops_both_writes() {
    let (admin_mapping, admin_entry) = admins();
    let aws_auth = aws_auth_data(&admin_mapping, &managed_user("vic", &["viewers"]), "");
    let entries = [
        admin_entry.clone(),
        admin_entry.managed(), // two entries for one principal, one ours: ambiguous
        entry(&user("vic"), "vic", &["viewers"]).managed(),
    ];
    let desired = DesiredBuilder::new().named_role("admin", &["system:masters"]);
    let plan = plan_for(Store::AccessEntries, &aws_auth, &entries, &desired.0);
    let guards = guards_of(&plan);
    assert_eq!(guards, [Guard::Ambiguous]);
    assert!(plan.aws_auth.write.is_none());
}

#[test]
fn removals_only_revokes_and_keeps_everything_else_exactly() {
    // Issue 20: the access entries cannot be read, so aws-auth may only revoke. ann is still
    // desired but with other groups (kept as she is: that would be a grant), bob is no longer
    // desired (removed), carol is new (not added).
    use crate::core::aws_auth::plan::{MappingWrites, plan_writes};
    let users = format!(
        "{}{}",
        managed_user("ann", &["viewers"]),
        managed_user("bob", &["viewers"])
    );
    let data = aws_auth_data("", &users, "");
    let want = DesiredBuilder::new()
        .user(&user("ann"), "ann", &["system:masters"])
        .user(&user("carol"), "carol", &["viewers"]);
    let ownership = OwnershipRules::default();
    let plan = plan_writes(
        &PlanRequest {
            current: Some(&data),
            desired: &want.0,
            guards: GuardSettings::default(),
            protected: &[],
            ownership: &ownership,
        },
        MappingWrites::RemovalsOnly,
    );
    let changes: Vec<(MappingChangeKind, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.kind, c.key.as_str()))
        .collect();
    assert_eq!(changes, [(MappingChangeKind::Remove, user("bob").as_str())]);
    let written = &plan.write.as_ref().expect("the removal is written").data["mapUsers"];
    assert!(!written.contains("user/bob"), "{written}");
    assert!(!written.contains("user/carol"), "{written}");
    assert!(
        written.contains("user/ann")
            && written.contains("viewers")
            && !written.contains("system:masters"),
        "ann kept exactly as she was: {written}"
    );
}

/// A user event's plan over both stores: aws-auth whole, of the access entries the user's own
/// (`own`), `others` and the principals known to have none.
fn plan_one_for(
    aws_auth: &ConfigMapData,
    aws_auth_desired: &DesiredSet,
    own: &[CurrentEntry],
    entry_desired: &DesiredSet,
    others: &[CurrentEntry],
    without_entry: &[String],
) -> BothPlan {
    let ownership = OwnershipRules::default();
    let guards = GuardSettings::default();
    let without_entry: BTreeSet<String> = without_entry
        .iter()
        .map(|arn| crate::core::names::principal_key(arn))
        .collect();
    plan_both_for_principal(
        &BothRequest {
            grants: Store::AccessEntries,
            aws_auth: PlanRequest {
                current: Some(aws_auth),
                desired: aws_auth_desired,
                guards,
                protected: &[],
                ownership: &ownership,
            },
            access_entries: AccessPlanRequest {
                current: own,
                desired: entry_desired,
                cluster_account: Some(ACCOUNT),
                guards,
                protected: &[],
            },
        },
        PrincipalRead {
            others,
            without_entry: &without_entry,
        },
    )
}

#[test]
fn a_user_event_changes_only_that_users_entry_and_mapping() {
    // aws-auth maps ann (managed) too; the event's desired entries hold vic alone.
    let aws_auth = aws_auth_data(
        "",
        &format!(
            "{}{}",
            managed_user("ann", &["viewers"]),
            managed_user("vic", &["viewers"])
        ),
        "",
    );
    let aws_auth_desired = DesiredBuilder::new().user(&user("ann"), "ann", &["viewers"]);
    let entry_desired = DesiredBuilder::new().user(&user("wes"), "wes", &["viewers"]);
    let plan = plan_one_for(
        &aws_auth,
        &aws_auth_desired.0,
        &[],
        &entry_desired.0,
        &[],
        &[user("wes"), user("vic")],
    );
    assert!(!plan.is_refused(), "{}", plan.describe());
    assert_eq!(
        entry_changes(&plan),
        [(EntryChange::Create, user("wes").as_str())],
        "no entry for ann: she is in aws-auth's desired set, not the event's"
    );
    assert_eq!(
        aws_auth_changes(&plan),
        [(MappingChangeKind::Remove, user("vic").as_str())]
    );
}

#[test]
fn an_aws_auth_admin_counts_only_once_its_principal_is_known_to_hold_no_entry() {
    // vic, the event's user, loses his admin entry; root is a hand-written system:masters
    // mapping whose access entry (which would win) is not read yet.
    let aws_auth = aws_auth_data(
        "- rolearn: arn:aws:iam::111122223333:role/root\n  username: root\n  groups:\n    - system:masters\n",
        "",
        "",
    );
    let own = [entry(&user("vic"), "vic", &[])
        .managed()
        .with(admin_policy())];
    let nobody = DesiredBuilder::new();
    let plan = |others: &[CurrentEntry], without: &[String]| {
        plan_one_for(&aws_auth, &nobody.0, &own, &nobody.0, others, without)
    };
    let unknown = plan(&[], &[user("vic")]);
    assert!(unknown.needs_another_admin(), "{}", unknown.describe());
    // root has an access entry without cluster-admin: EKS uses it, not the mapping.
    let viewer = [entry(&role_arn("root"), "root", &[]).with(view_policy())];
    let shadowed = plan(&viewer, &[user("vic")]);
    assert!(shadowed.needs_another_admin(), "{}", shadowed.describe());
    // root has no access entry: the mapping is what EKS uses, and it is cluster-admin.
    let known = plan(&[], &[user("vic"), role_arn("root")]);
    assert!(!known.is_refused(), "{}", known.describe());
    assert_eq!(
        entry_changes(&known),
        [(EntryChange::Delete, user("vic").as_str())]
    );
}

#[test]
fn a_user_event_never_lets_the_last_admin_go_whatever_aws_auth_holds_unread() {
    // vic is the last admin, through aws-auth only (no entry); nobody else is known.
    let aws_auth = aws_auth_data("", &managed_user("vic", &["system:masters"]), "");
    let nobody = DesiredBuilder::new();
    let plan = plan_one_for(&aws_auth, &nobody.0, &[], &nobody.0, &[], &[user("vic")]);
    assert!(plan.needs_another_admin(), "{}", plan.describe());
    assert!(plan.aws_auth.write.is_none());
}
