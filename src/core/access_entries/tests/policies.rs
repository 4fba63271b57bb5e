//! Issue 13: configured access policies with namespace scopes, declarative on managed
//! entries, unmanaged entries untouched, entry types, and what aws-auth can express.

use super::*;
use crate::core::aws_auth::SectionName::{MapRoles, MapUsers};
use crate::core::desired::Access;
use crate::core::settings::{AccessPolicy, EntryType};

fn edit(namespaces: &[&str]) -> AccessPolicy {
    AccessPolicy::namespaced("AmazonEKSEditPolicy", namespaces)
}

fn edit_policy(namespaces: &[&str]) -> Policy {
    Policy {
        policy_arn: policy_arn("aws", "AmazonEKSEditPolicy"),
        scope: Scope::Namespaces(strings(namespaces)),
    }
}

fn with_policies(policies: &[AccessPolicy]) -> Access {
    Access::policies(policies)
}

/// Short builder steps for this file's desired sets.
trait Mappings {
    /// A user granted `policies`.
    fn user_p(self, arn: &str, username: &str, groups: &[&str], policies: &[AccessPolicy]) -> Self;
    /// A role given a node entry type (no username, groups), with `policies`.
    fn node(self, arn: &str, entry_type: EntryType, policies: &[AccessPolicy]) -> Self;
}

impl Mappings for DesiredBuilder {
    fn user_p(self, arn: &str, username: &str, groups: &[&str], policies: &[AccessPolicy]) -> Self {
        self.with(
            MapUsers,
            arn,
            (username, groups),
            &Access::policies(policies),
        )
    }

    fn node(self, arn: &str, entry_type: EntryType, policies: &[AccessPolicy]) -> Self {
        self.with(MapRoles, arn, ("", &[]), &typed(entry_type, policies))
    }
}

fn typed(entry_type: EntryType, policies: &[AccessPolicy]) -> Access {
    Access {
        entry_type: Some(entry_type),
        ..Access::policies(policies)
    }
}

#[test]
fn a_configured_policy_is_associated_with_its_namespaces_on_create() {
    let want = DesiredBuilder::new().user_p(ALICE, "alice", &[], &[edit(&["team-a", "team-a-*"])]);
    let p = plan_with(&[], &want, &[]);
    let ops = p.operations();
    assert!(matches!(ops[0], Operation::Create { groups, .. } if groups.is_empty()));
    assert_eq!(
        ops[1],
        &Operation::Associate {
            principal_arn: ALICE.to_owned(),
            policy: edit_policy(&["team-a", "team-a-*"])
        }
    );
    assert!(
        p.describe()
            .contains("policies=[AmazonEKSEditPolicy (namespaces team-a,team-a-*)]"),
        "{}",
        p.describe()
    );
}

#[test]
fn a_changed_namespace_list_rescopes_and_the_same_list_in_another_order_does_not() {
    let current = [entry(ALICE, "alice", &[])
        .managed()
        .with(edit_policy(&["b", "a"]))];
    let same = DesiredBuilder::new().user_p(ALICE, "alice", &[], &[edit(&["a", "b"])]);
    assert!(!plan_with(&current, &same, &[]).has_changes());
    let wider = DesiredBuilder::new().user_p(ALICE, "alice", &[], &[edit(&["a", "b", "c"])]);
    let p = plan_with(&current, &wider, &[]);
    assert_eq!(
        p.operations(),
        [&Operation::Associate {
            principal_arn: ALICE.to_owned(),
            policy: edit_policy(&["a", "b", "c"])
        }]
    );
    assert!(
        p.changes[0]
            .reason
            .contains("AmazonEKSEditPolicy scope namespaces b,a → namespaces a,b,c")
    );
}

#[test]
fn system_masters_and_configured_cluster_admin_give_one_association() {
    let access = with_policies(&[AccessPolicy::namespaced(
        "AmazonEKSClusterAdminPolicy",
        &["x"],
    )]);
    let want = DesiredBuilder::new().with(MapUsers, ALICE, ("alice", &["system:masters"]), &access);
    let p = plan_with(&[], &want, &[]);
    let associations: Vec<_> = p
        .operations()
        .into_iter()
        .filter(|o| matches!(o, Operation::Associate { .. }))
        .collect();
    assert_eq!(
        associations,
        [&Operation::Associate {
            principal_arn: ALICE.to_owned(),
            policy: admin_policy()
        }]
    );
}

#[test]
fn an_unmanaged_entry_is_never_touched_even_with_policies_the_config_disagrees_with() {
    let current = [entry(ALICE, "hand", &[]).with(view_policy())];
    let want = DesiredBuilder::new().user_p(ALICE, "alice", &[], &[edit(&["a"])]);
    let p = plan_with(&current, &want, &[]);
    assert!(p.operations().is_empty(), "{}", p.describe());
    assert!(p.skipped[0].reason.contains("unmanaged access entry"));
}

#[test]
fn entry_types_give_node_entries_without_username_groups_or_policies() {
    let fargate = "arn:aws:iam::111122223333:role/fargate";
    let auto = "arn:aws:iam::111122223333:role/auto-nodes";
    let other_account = "arn:aws:iam::999999999999:role/windows";
    let want = DesiredBuilder::new()
        .node(fargate, EntryType::FargateLinux, &[])
        .node(
            auto,
            EntryType::Ec2,
            &[AccessPolicy::cluster("AmazonEKSAutoNodePolicy")],
        )
        .node(other_account, EntryType::Ec2Windows, &[]);
    let t = translate(&want.0, Some(ACCOUNT));
    let f = &t.entries[&principal_key(fargate)];
    assert_eq!(
        (
            f.entry_type.as_str(),
            &f.username,
            f.groups.len(),
            f.policies.len()
        ),
        ("FARGATE_LINUX", &None, 0, 0)
    );
    let a = &t.entries[&principal_key(auto)];
    assert_eq!(a.entry_type, "EC2");
    assert_eq!(
        a.policies[0].policy_arn,
        policy_arn("aws", "AmazonEKSAutoNodePolicy")
    );
    assert!(
        t.skipped[0]
            .reason
            .contains("needs a role of the cluster's account 111122223333"),
        "{:?}",
        t.skipped
    );
}

#[test]
fn a_managed_entry_of_another_type_is_recreated_an_unmanaged_one_is_left() {
    let hybrid = "arn:aws:iam::111122223333:role/hybrid";
    let want = DesiredBuilder::new().node(hybrid, EntryType::HybridLinux, &[]);
    let mut eks_made = entry(hybrid, "system:node:{{SessionName}}", &[]);
    eks_made.entry_type = "EC2_LINUX".to_owned();
    let p = plan_with(std::slice::from_ref(&eks_made), &want, &[]);
    assert!(p.operations().is_empty(), "{}", p.describe());
    let p = plan_with(&[eks_made.managed()], &want, &[]);
    assert_eq!(kinds(&p), [(EntryChangeKind::Recreate, hybrid)]);
    assert!(
        p.changes[0]
            .reason
            .contains("type EC2_LINUX → HYBRID_LINUX")
    );
}

#[test]
fn aws_auth_expresses_cluster_admin_as_masters_and_warns_or_skips_the_rest() {
    let carol = "arn:aws:iam::111122223333:user/carol";
    let want = DesiredBuilder::new()
        .user_p(
            ALICE,
            "alice",
            &[],
            &[AccessPolicy::cluster("AmazonEKSClusterAdminPolicy")],
        )
        .user_p(BOB, "bob", &["devs"], &[edit(&["team-a"])])
        .user_p(
            carol,
            "carol",
            &[],
            &[AccessPolicy::cluster("AmazonEKSViewPolicy")],
        );
    let view = want.0.for_aws_auth();
    let users = view
        .set
        .mappings(crate::core::aws_auth::SectionName::MapUsers);
    let alice = users.iter().find(|m| m.arn == ALICE).unwrap();
    assert_eq!(alice.groups, ["system:masters"]);
    let bob = users.iter().find(|m| m.arn == BOB).unwrap();
    assert_eq!(bob.groups, ["devs"]);
    assert_eq!(
        view.set.warnings(),
        [
            "arn:aws:iam::111122223333:user/bob (configured in users): aws-auth cannot express access policies AmazonEKSEditPolicy (namespaces team-a); written with its kubernetesGroups [devs] only"
        ]
    );
    assert_eq!(users.len(), 2);
    assert_eq!(view.skipped.len(), 1);
    assert_eq!(view.skipped[0].1, carol);
    assert_eq!(
        view.skipped[0].2,
        "aws-auth cannot express access policies AmazonEKSViewPolicy and the mapping has no kubernetesGroups to write"
    );
}

#[test]
fn aws_auth_writes_node_types_with_eks_documented_groups_and_skips_auto_mode() {
    let fargate = "arn:aws:iam::111122223333:role/fargate";
    let windows = "arn:aws:iam::111122223333:role/windows";
    let auto = "arn:aws:iam::111122223333:role/auto";
    let want = DesiredBuilder::new()
        .node(fargate, EntryType::FargateLinux, &[])
        .node(windows, EntryType::Ec2Windows, &[])
        .node(
            auto,
            EntryType::Ec2,
            &[AccessPolicy::cluster("AmazonEKSAutoNodePolicy")],
        );
    let view = want.0.for_aws_auth();
    let roles = view
        .set
        .mappings(crate::core::aws_auth::SectionName::MapRoles);
    let by = |arn: &str| roles.iter().find(|m| m.arn == arn).unwrap();
    assert_eq!(by(fargate).username, "system:node:{{SessionName}}");
    assert_eq!(
        by(fargate).groups,
        [
            "system:bootstrappers",
            "system:nodes",
            "system:node-proxier"
        ]
    );
    assert_eq!(by(windows).username, "system:node:{{EC2PrivateDNSName}}");
    assert_eq!(
        by(windows).groups,
        [
            "system:bootstrappers",
            "system:nodes",
            "eks:kube-proxy-windows"
        ]
    );
    assert_eq!(view.skipped[0].1, auto);
    assert!(view.skipped[0].2.contains("no aws-auth equivalent"));
}

#[test]
fn a_plan_past_3000_entries_is_refused_naming_the_count() {
    let current: Vec<CurrentEntry> = (0..2999)
        .map(|i| entry(&format!("arn:aws:iam::111122223333:user/u{i}"), "u", &[]))
        .collect();
    let one = DesiredBuilder::new().user(ALICE, "alice", &["devs"]);
    assert!(!plan_with(&current, &one, &[]).is_refused());
    let two = one.user(BOB, "bob", &["devs"]);
    let p = plan_with(&current, &two, &[]);
    assert_eq!(guards_of(&p), [Guard::SizeLimit]);
    assert!(p.operations().is_empty());
    assert_eq!(
        p.refusals[0].to_string(),
        "refused by guard `size-limit`: the plan would take the cluster to 3001 access entries (2999 now, 2 to create, 0 to delete); EKS allows at most 3000 per cluster"
    );
}

#[test]
fn an_entry_of_ours_that_lost_its_managed_tag_is_reported_and_left() {
    let untagged = entry(ALICE, "alice", &[]).id("AIDAALICE");
    let want = DesiredBuilder::new().user(ALICE, "alice", &["devs"]);
    let p = plan_with(&[untagged], &want, &[]);
    assert!(p.operations().is_empty());
    assert!(
        p.warnings[0].contains(
            "it carries eks-iam-sync/principal-id but not eks-iam-sync/managed=true: eks-iam-sync created it and its tag was removed"
        ),
        "{:?}",
        p.warnings
    );
}
